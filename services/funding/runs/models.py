"""Tables of payment runs: the run, its lines, and the claim that keeps an instalment in at
most one open run."""

import uuid
from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from services.common.db import IdMixin, Money, TimestampMixin, UTCDateTime, VersionedMixin
from services.funding.db import Base

RUN_STATUSES = ("prepared", "approved", "paid", "cancelled")


class PaymentRun(IdMixin, TimestampMixin, VersionedMixin, Base):
    """A batch of due instalments paid together: prepared by one finance person, approved
    by another, exported as a bank file, then marked paid."""

    __tablename__ = "payment_runs"

    funder_id: Mapped[uuid.UUID]
    currency: Mapped[str] = mapped_column(String(3))
    due_by: Mapped[date] = mapped_column(comment="Instalments due on or before this day")
    status: Mapped[str] = mapped_column(String(20))
    payment_count: Mapped[int]
    total: Mapped[int] = mapped_column(Money)
    prepared_by: Mapped[str] = mapped_column(String(200))
    approved_by: Mapped[str | None] = mapped_column(String(200))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    paid_on: Mapped[date | None]
    paid_by: Mapped[str | None] = mapped_column(String(200))
    cancelled_by: Mapped[str | None] = mapped_column(String(200))

    __table_args__ = (Index("ix_payment_runs_funder_created", "funder_id", "created_at", "id"),)


class PaymentRunItem(Base):
    """One instalment in a run, as it was when the run was prepared."""

    __tablename__ = "payment_run_items"

    run_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("payment_runs.id", ondelete="CASCADE"), primary_key=True
    )
    instalment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("instalments.id"), primary_key=True)
    grant_id: Mapped[uuid.UUID]
    partner_id: Mapped[uuid.UUID]
    due_date: Mapped[date]
    amount: Mapped[int] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))


class PaymentRunClaim(Base):
    """An instalment held by an open (prepared or approved) run. The primary key is what
    stops two runs, however concurrent, from taking the same instalment."""

    __tablename__ = "payment_run_claims"

    instalment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("instalments.id"), primary_key=True)
    run_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("payment_runs.id", ondelete="CASCADE"), index=True
    )
