"""Tables of reflective updates (one copy per funder addressed) and their replies."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from services.common.db import IdMixin, UTCDateTime, utcnow
from services.partners.db import Base

PROMPTS = ("what_changed", "what_we_learned", "what_was_hard", "want_you_to_know")


class Update(IdMixin, Base):
    """One funder's copy of a partner's reflective update.

    A partner writes once and may address several funders; each gets its own copy
    (``submission_id`` ties the copies together, and only the partner sees it), so
    each funder sees only its own copy and its own thread.
    """

    __tablename__ = "updates"

    submission_id: Mapped[uuid.UUID] = mapped_column(index=True)
    partner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("partners.id"))
    funder_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("funders.id"))
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_by: Mapped[str] = mapped_column(String(200))
    what_changed: Mapped[str | None] = mapped_column(Text)
    what_we_learned: Mapped[str | None] = mapped_column(Text)
    what_was_hard: Mapped[str | None] = mapped_column(Text)
    want_you_to_know: Mapped[str | None] = mapped_column(Text)
    document_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    links: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    first_reply_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reply_seconds: Mapped[int | None] = mapped_column()
    reply_count: Mapped[int] = mapped_column(default=0)
    last_activity_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        Index("ix_updates_funder_sent_id", "funder_id", "sent_at", "id"),
        Index("ix_updates_partner_sent_id", "partner_id", "sent_at", "id"),
        Index("ix_updates_funder_activity", "funder_id", "last_activity_at", "id"),
    )


class Reply(IdMixin, Base):
    """One message in an update's thread, from the funder's staff or the partner."""

    __tablename__ = "update_replies"

    update_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("updates.id"))
    author_side: Mapped[str] = mapped_column(String(10))
    author: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        Index("ix_update_replies_update_created_id", "update_id", "created_at", "id"),
    )
