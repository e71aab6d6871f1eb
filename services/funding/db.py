"""The declarative base of the funding service's tables (one metadata, one migration lineage)."""

from sqlalchemy.orm import DeclarativeBase

from services.common.db import make_metadata


class Base(DeclarativeBase):
    """Base of every funding table; sub-packages (grants, opendata, later pools) share it."""

    metadata = make_metadata()
