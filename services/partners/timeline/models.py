"""Tables of the timeline: one row per thing that happened, and who funds each grant."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from services.common.db import IdMixin, UTCDateTime, utcnow
from services.partners.db import Base

ENTRY_KINDS = (
    "interaction",
    "update",
    "reply",
    "document",
    "grant.approved",
    "grant.varied",
    "instalment.paid",
    "grant.withdrawn",
    "relationship",
    "gathering",
)


class TimelineEntry(IdMixin, Base):
    """One event in a partner's timeline, kept in step with the record it comes from.

    ``source_id`` is the record (or, for grant events, the grant, variation or
    instalment) it describes: unique per kind, so an event told twice is one entry.
    Who sees it: the partner when ``visible_to_partner``; a funder's staff when
    ``funder_id`` is theirs, when it is empty (the partner's own documents), or for
    grant events when the funder is one of the grant's funders.
    """

    __tablename__ = "timeline_entries"

    partner_id: Mapped[uuid.UUID] = mapped_column()
    funder_id: Mapped[uuid.UUID | None] = mapped_column()
    grant_id: Mapped[uuid.UUID | None] = mapped_column()
    kind: Mapped[str] = mapped_column(String(30))
    source_id: Mapped[uuid.UUID] = mapped_column()
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    title: Mapped[str] = mapped_column(String(300))
    summary: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    visible_to_partner: Mapped[bool] = mapped_column(Boolean, default=True)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        UniqueConstraint("kind", "source_id"),
        Index("ix_timeline_entries_partner_occurred_id", "partner_id", "occurred_at", "id"),
    )


class GrantFunder(Base):
    """A funder of a grant, learnt from funding's events (a pooled grant has several)."""

    __tablename__ = "timeline_grant_funders"

    grant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    funder_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
