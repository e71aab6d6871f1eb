"""The funders table: each funder is a tenant."""

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from services.common.db import IdMixin, TimestampMixin, VersionedMixin
from services.partners.db import Base


class Funder(IdMixin, TimestampMixin, VersionedMixin, Base):
    """An organisation that gives money: each funder is a tenant."""

    __tablename__ = "funders"

    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(63), unique=True)
    prefix_360giving: Mapped[str] = mapped_column(String(100))
    org_id: Mapped[str | None] = mapped_column(String(100))
