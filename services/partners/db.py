"""The declarative base of the partners service's tables (one metadata, one migration lineage)."""

from sqlalchemy.orm import DeclarativeBase

from services.common.db import make_metadata


class Base(DeclarativeBase):
    """Base of every partners table; each sub-package's models share it."""

    metadata = make_metadata()
