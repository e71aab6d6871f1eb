"""Tables of the funding service."""

from sqlalchemy.orm import DeclarativeBase

from services.common.db import make_metadata


class Base(DeclarativeBase):
    metadata = make_metadata()
