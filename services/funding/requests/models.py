"""Table of grant requests: what a partner asked for, in its own words, and how it was decided."""

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from services.common.db import IdMixin, TimestampMixin, UTCDateTime, VersionedMixin
from services.funding.db import Base

#: What a partner may ask to change. Spending is not among them: there is nothing to ask.
REQUEST_KINDS = ("extension", "reprofile", "uplift")
REQUEST_STATUSES = ("open", "varied", "declined", "answered")


class GrantRequest(IdMixin, TimestampMixin, VersionedMixin, Base):
    """A partner's request to change its grant, and the funder's decision on it.

    ``days_to_decision`` is the funder's own measure (calendar days, UTC, from
    ``requested_at`` to ``decided_at``), kept on the row so it sorts and sums in SQL.
    """

    __tablename__ = "grant_requests"

    grant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("grants.id"))
    funder_id: Mapped[uuid.UUID]
    partner_id: Mapped[uuid.UUID]
    kind: Mapped[str] = mapped_column(String(20))
    reasons: Mapped[str] = mapped_column(Text)
    requested_by: Mapped[str] = mapped_column(String(200))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(20))
    reply: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by: Mapped[str | None] = mapped_column(String(200))
    variation_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("variations.id"))
    days_to_decision: Mapped[int | None]

    __table_args__ = (
        Index("ix_grant_requests_funder_requested", "funder_id", "requested_at", "id"),
        Index("ix_grant_requests_partner_requested", "partner_id", "requested_at", "id"),
        Index("ix_grant_requests_grant", "grant_id"),
    )
