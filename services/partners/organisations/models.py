"""The partner organisations table: one record however many funders know it."""

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from services.common.db import IdMixin, TimestampMixin, UTCDateTime, VersionedMixin
from services.partners.db import Base


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
    # Ownership: an organisation's own record belongs to it once its own people claim it.
    # Until then it is "unclaimed" and the funder that added it may edit its descriptive fields.
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    added_by_funder_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("funders.id"))

    __table_args__ = (Index("ix_partners_name", "name"),)
