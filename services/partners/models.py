"""Tables of the partners service: funders, partner organisations, relationships, API clients."""

import uuid
from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from services.common.db import IdMixin, TimestampMixin, UTCDateTime, VersionedMixin, make_metadata

RELATIONSHIP_STATUSES = ("exploring", "active", "paused", "ended")


class Base(DeclarativeBase):
    metadata = make_metadata()


class Funder(IdMixin, TimestampMixin, VersionedMixin, Base):
    """An organisation that gives money: each funder is a tenant."""

    __tablename__ = "funders"

    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(63), unique=True)
    prefix_360giving: Mapped[str] = mapped_column(String(100))
    org_id: Mapped[str | None] = mapped_column(String(100))


class Partner(IdMixin, TimestampMixin, VersionedMixin, Base):
    """A partner organisation. One record however many funders know it."""

    __tablename__ = "partners"

    name: Mapped[str] = mapped_column(String(300))
    org_id: Mapped[str | None] = mapped_column(String(100), unique=True)
    charity_number: Mapped[str | None] = mapped_column(String(20))
    company_number: Mapped[str | None] = mapped_column(String(20))
    website: Mapped[str | None] = mapped_column(String(500))
    region: Mapped[str | None] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_partners_name", "name"),)


class Relationship(IdMixin, TimestampMixin, VersionedMixin, Base):
    """One funder with one partner over time."""

    __tablename__ = "relationships"

    funder_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("funders.id"))
    partner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("partners.id"))
    status: Mapped[str] = mapped_column(String(20))
    since: Mapped[date] = mapped_column()
    steward: Mapped[str | None] = mapped_column(String(200))

    partner: Mapped[Partner] = relationship(lazy="raise")

    __table_args__ = (
        UniqueConstraint("funder_id", "partner_id"),
        Index("ix_relationships_funder_status", "funder_id", "status"),
    )


class ApiClient(IdMixin, Base):
    """A partner's system that gets tokens with the client-credentials grant."""

    __tablename__ = "api_clients"

    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    partner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("partners.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
