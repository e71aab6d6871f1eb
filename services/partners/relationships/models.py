"""The relationships table: one funder with one partner over time."""

import uuid
from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from services.common.db import IdMixin, TimestampMixin, UTCDateTime, VersionedMixin
from services.partners.db import Base
from services.partners.funders.models import Funder
from services.partners.organisations.models import Partner

RELATIONSHIP_STATUSES = ("exploring", "active", "paused", "ended")
#: Whether the organisation shares its own data (contacts, its documents, ...) with the funder.
SHARING_STATES = ("pending", "accepted", "declined", "stopped")
SHARING_ACCEPTED = "accepted"


class Relationship(IdMixin, TimestampMixin, VersionedMixin, Base):
    """One funder with one partner over time."""

    __tablename__ = "relationships"

    funder_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("funders.id"))
    partner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("partners.id"))
    status: Mapped[str] = mapped_column(String(20))
    since: Mapped[date] = mapped_column()
    steward: Mapped[str | None] = mapped_column(String(200))
    sharing: Mapped[str] = mapped_column(String(20), default="pending")
    sharing_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    partner: Mapped[Partner] = relationship(lazy="raise")
    funder: Mapped[Funder] = relationship(lazy="raise")

    __table_args__ = (
        UniqueConstraint("funder_id", "partner_id"),
        Index("ix_relationships_funder_status", "funder_id", "status"),
    )


class RelationshipChange(IdMixin, Base):
    """One step in a relationship's history: the stage it moved to, when, and who moved it.

    Written in the same transaction as the change; never updated. The first row of a
    relationship is its beginning (``previous_status`` empty).
    """

    __tablename__ = "relationship_changes"

    relationship_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("relationships.id"))
    funder_id: Mapped[uuid.UUID] = mapped_column()
    partner_id: Mapped[uuid.UUID] = mapped_column()
    status: Mapped[str] = mapped_column(String(20))
    previous_status: Mapped[str | None] = mapped_column(String(20))
    since: Mapped[date] = mapped_column()
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    changed_by: Mapped[str] = mapped_column(String(200))

    __table_args__ = (
        Index("ix_relationship_changes_relationship", "relationship_id", "changed_at", "id"),
    )
