"""Tables of gatherings and who was invited to each, and who came."""

import uuid
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from services.common.db import IdMixin, TimestampMixin, UTCDateTime, VersionedMixin
from services.partners.db import Base

GATHERING_KINDS = ("learning_day", "network_meeting", "other")


class Gathering(IdMixin, TimestampMixin, VersionedMixin, Base):
    """A funder's event with many partners.

    ``shared_notes`` are read by every partner that came; ``private_notes`` are the
    funder's own and never reach a partner.
    """

    __tablename__ = "gatherings"

    funder_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("funders.id"))
    kind: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(300))
    held_at: Mapped[datetime] = mapped_column(UTCDateTime)
    place: Mapped[str | None] = mapped_column(String(300))
    shared_notes: Mapped[str | None] = mapped_column(Text)
    private_notes: Mapped[str | None] = mapped_column(Text)
    recorded_by: Mapped[str] = mapped_column(String(200))

    __table_args__ = (Index("ix_gatherings_funder_held", "funder_id", "held_at"),)


class Invitee(IdMixin, Base):
    """One partner invited to a gathering, and whether it came.

    Its own ``id`` keys the partner's timeline entry for the gathering.
    """

    __tablename__ = "gathering_invitees"

    gathering_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("gatherings.id", ondelete="CASCADE"))
    partner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("partners.id"))
    attended: Mapped[bool] = mapped_column(Boolean, default=False)

    __table_args__ = (
        UniqueConstraint("gathering_id", "partner_id"),
        Index("ix_gathering_invitees_partner", "partner_id"),
    )
