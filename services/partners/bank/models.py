"""Bank accounts of partner organisations: encrypted at rest, held, then confirmed."""

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from services.common.db import IdMixin, TimestampMixin, UTCDateTime
from services.partners.db import Base

BANK_STATES = ("held", "confirmed", "superseded", "withdrawn")


class BankAccount(IdMixin, TimestampMixin, Base):
    """One bank account an organisation gave. Details are only in ``ciphertext``."""

    __tablename__ = "bank_accounts"

    partner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("partners.id"))
    state: Mapped[str] = mapped_column(String(20))
    key_id: Mapped[str] = mapped_column(String(40), comment="Which key encrypted ciphertext")
    ciphertext: Mapped[str] = mapped_column(Text, comment="Fernet token of the details (JSON)")
    held_until: Mapped[datetime] = mapped_column(UTCDateTime)
    entered_by: Mapped[str] = mapped_column(String(200))
    confirmed_by: Mapped[str | None] = mapped_column(String(200))
    confirmed_by_funder_id: Mapped[uuid.UUID | None]
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    confirmation_note: Mapped[str | None] = mapped_column(String(500))

    __table_args__ = (Index("ix_bank_accounts_partner_state", "partner_id", "state"),)


class BankNotice(IdMixin, Base):
    """A notice to the organisation that its bank details changed or were confirmed (kept
    until a mail module delivers it; it names no account details)."""

    __tablename__ = "bank_notices"

    partner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("partners.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
