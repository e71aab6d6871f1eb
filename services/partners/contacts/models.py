"""Table of people at partner organisations."""

import uuid

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from services.common.db import IdMixin, TimestampMixin, VersionedMixin
from services.partners.db import Base


class Contact(IdMixin, TimestampMixin, VersionedMixin, Base):
    """A person at a partner: personal data, erased everywhere on request."""

    __tablename__ = "contacts"

    partner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("partners.id"))
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(50))

    __table_args__ = (Index("ix_contacts_partner_name", "partner_id", "name"),)
