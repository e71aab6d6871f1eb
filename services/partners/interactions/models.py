"""Table of interactions between a funder and a partner."""

import uuid
from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from services.common.db import IdMixin, TimestampMixin, UTCDateTime, VersionedMixin
from services.partners.db import Base

INTERACTION_KINDS = ("visit", "call", "meeting", "event", "other")


class Interaction(IdMixin, TimestampMixin, VersionedMixin, Base):
    """A visit, call, meeting, event or other contact, recorded by the funder's staff.

    Shared with the partner unless staff marked it private (with a reason).
    """

    __tablename__ = "interactions"

    funder_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("funders.id"))
    partner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("partners.id"))
    kind: Mapped[str] = mapped_column(String(20))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    summary: Mapped[str] = mapped_column(Text)
    participants: Mapped[list[str]] = mapped_column(JSON, default=list)
    recorded_by: Mapped[str] = mapped_column(String(200))
    private: Mapped[bool] = mapped_column(Boolean, default=False)
    private_reason: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index("ix_interactions_funder_occurred", "funder_id", "occurred_at"),
        Index("ix_interactions_partner_occurred", "partner_id", "occurred_at"),
    )
