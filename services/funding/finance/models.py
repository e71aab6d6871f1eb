"""Tables of finance: a funder's financial year and delegations, its budgets, and the
planned (not yet awarded) schedule of each proposed grant that the forecast's pipeline sums."""

import uuid
from datetime import date

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from services.common.db import IdMixin, Money, TimestampMixin, VersionedMixin
from services.funding.db import Base

#: The budget scope of a funder's whole budget (a pool's budget is scoped by its id).
ALL_FUNDING = "all"


class FinanceSetting(TimestampMixin, VersionedMixin, Base):
    """A funder's financial year and the approval limit it delegates to its staff."""

    __tablename__ = "finance_settings"

    funder_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    year_start_month: Mapped[int] = mapped_column(
        comment="Month its financial year starts (4 = April to March)"
    )
    approval_limit: Mapped[int | None] = mapped_column(
        Money, comment="Largest award staff may approve without a trustee (minor units)"
    )
    approval_limit_currency: Mapped[str | None] = mapped_column(String(3))
    debtor_name: Mapped[str | None] = mapped_column(
        String(140), comment="The funder's own account that payment files pay from"
    )
    debtor_iban: Mapped[str | None] = mapped_column(String(34))
    debtor_bic: Mapped[str | None] = mapped_column(String(11))


class Budget(IdMixin, TimestampMixin, VersionedMixin, Base):
    """What a funder means to spend in one financial year, in all or in one pool."""

    __tablename__ = "budgets"

    funder_id: Mapped[uuid.UUID]
    financial_year: Mapped[int] = mapped_column(comment="The calendar year the FY starts in")
    pool_id: Mapped[uuid.UUID | None]
    scope: Mapped[str] = mapped_column(String(40), comment="'all' or the pool's id")
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[int] = mapped_column(Money)
    notes: Mapped[str | None] = mapped_column(String(2000))

    __table_args__ = (
        UniqueConstraint("funder_id", "financial_year", "scope", "currency"),
        Index("ix_budgets_funder_year", "funder_id", "financial_year", "id"),
    )


class PlannedInstalment(Base):
    """One line of a proposed grant's default schedule: the pipeline of the forecast.

    Written when a grant is proposed or changed, removed once it is awarded (its real
    instalments then count as committed) or withdrawn.
    """

    __tablename__ = "planned_instalments"

    grant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("grants.id", ondelete="CASCADE"), primary_key=True
    )
    sequence: Mapped[int] = mapped_column(primary_key=True)
    funder_id: Mapped[uuid.UUID]
    partner_id: Mapped[uuid.UUID]
    pool_id: Mapped[uuid.UUID | None]
    due_date: Mapped[date]
    amount: Mapped[int] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))

    __table_args__ = (Index("ix_planned_instalments_funder_due", "funder_id", "due_date"),)
