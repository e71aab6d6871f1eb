"""Tables of core grants: the grant, its funding organisations, instalments, payments, variations.

There is deliberately no column for KPIs, targets, outcomes, milestones or
restrictions: a core grant funds the organisation, not a project.
"""

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from services.common.db import IdMixin, Money, TimestampMixin, UTCDateTime, VersionedMixin
from services.funding.db import Base

GRANT_STATUSES = ("proposed", "approved", "active", "completed", "withdrawn")
INSTALMENT_STATUSES = ("scheduled", "paid", "cancelled")
VARIATION_KINDS = ("uplift", "reduction", "extension", "reprofile")
FREQUENCIES = ("monthly", "quarterly", "annual", "custom")


class Grant(IdMixin, TimestampMixin, VersionedMixin, Base):
    """A multi-year unrestricted core grant from a funder (or, later, a pool) to a partner."""

    __tablename__ = "grants"

    funder_id: Mapped[uuid.UUID] = mapped_column(
        comment="The deciding funder (for a pooled grant, the pool's host)"
    )
    pool_id: Mapped[uuid.UUID | None] = mapped_column(
        comment="The pooled fund that made the grant, if any"
    )
    partner_id: Mapped[uuid.UUID]
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text)
    amount_awarded: Mapped[int] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))
    planned_start_date: Mapped[date]
    planned_end_date: Mapped[date]
    payment_frequency: Mapped[str] = mapped_column(String(20))
    reference: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20))
    grant_360_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    # The award decision and the award as first made (history stays readable after variations).
    approved_on: Mapped[date | None]
    approved_by: Mapped[str | None] = mapped_column(String(200))
    decision_reference: Mapped[str | None] = mapped_column(String(200))
    original_amount: Mapped[int | None] = mapped_column(Money)
    original_start_date: Mapped[date | None]
    original_end_date: Mapped[date | None]
    activated_on: Mapped[date | None]
    completed_on: Mapped[date | None]
    withdrawn_on: Mapped[date | None]
    withdrawal_reason: Mapped[str | None] = mapped_column(Text)
    # Sort key of the "awarded_on" list order: the award date, or the day it was proposed.
    list_date: Mapped[date]

    funding_organisations: Mapped[list["GrantFundingOrganisation"]] = relationship(
        lazy="raise", order_by="GrantFundingOrganisation.position"
    )

    __table_args__ = (
        UniqueConstraint("funder_id", "reference"),
        Index("ix_grants_funder_id", "funder_id", "id"),
        Index("ix_grants_funder_list_date", "funder_id", "list_date", "id"),
        Index("ix_grants_funder_amount", "funder_id", "amount_awarded", "id"),
        Index("ix_grants_funder_created", "funder_id", "created_at", "id"),
        Index("ix_grants_funder_start", "funder_id", "planned_start_date", "id"),
        Index("ix_grants_funder_end", "funder_id", "planned_end_date", "id"),
        Index("ix_grants_funder_status", "funder_id", "status", "id"),
        Index("ix_grants_partner", "partner_id", "list_date"),
        Index("ix_grants_pool", "pool_id"),
    )


class GrantFundingOrganisation(Base):
    """A funder named as a funding organisation of a grant (several for a pooled grant)."""

    __tablename__ = "grant_funding_organisations"

    grant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("grants.id", ondelete="CASCADE"), primary_key=True
    )
    funder_id: Mapped[uuid.UUID] = mapped_column(primary_key=True, index=True)
    position: Mapped[int] = mapped_column(default=0)
    share_amount: Mapped[int | None] = mapped_column(
        Money, comment="This funder's share of the award, when the grant is pooled"
    )


class Instalment(IdMixin, TimestampMixin, VersionedMixin, Base):
    """One scheduled payment of a grant."""

    __tablename__ = "instalments"

    grant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("grants.id"))
    funder_id: Mapped[uuid.UUID]
    partner_id: Mapped[uuid.UUID]
    sequence: Mapped[int]
    due_date: Mapped[date]
    amount: Mapped[int] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(20))
    paid_on: Mapped[date | None]
    cancelled_on: Mapped[date | None]
    overdue_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: When ``instalment.due_soon`` was emitted for this due date (cleared when it moves).
    due_soon_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_instalments_grant", "grant_id", "sequence"),
        Index("ix_instalments_funder_id", "funder_id", "id"),
        Index("ix_instalments_funder_due", "funder_id", "due_date", "id"),
        Index("ix_instalments_funder_amount", "funder_id", "amount", "id"),
        Index("ix_instalments_funder_created", "funder_id", "created_at", "id"),
        Index("ix_instalments_partner_due", "partner_id", "due_date"),
        Index("ix_instalments_status_due", "status", "due_date"),
    )


class Payment(IdMixin, TimestampMixin, Base):
    """Money paid against one instalment. One payment per instalment, in full."""

    __tablename__ = "payments"

    instalment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("instalments.id"), unique=True)
    grant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("grants.id"), index=True)
    funder_id: Mapped[uuid.UUID]
    partner_id: Mapped[uuid.UUID]
    amount: Mapped[int] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))
    due_date: Mapped[date]
    paid_on: Mapped[date]
    reference: Mapped[str | None] = mapped_column(String(200))
    recorded_by: Mapped[str] = mapped_column(String(200))

    __table_args__ = (
        Index("ix_payments_funder_id", "funder_id", "id"),
        Index("ix_payments_funder_paid", "funder_id", "paid_on", "id"),
        Index("ix_payments_funder_amount", "funder_id", "amount", "id"),
        Index("ix_payments_funder_created", "funder_id", "created_at", "id"),
        Index("ix_payments_partner_paid", "partner_id", "paid_on"),
    )


class Variation(IdMixin, TimestampMixin, Base):
    """An approved change to a grant, with its own decision. Never changed once made."""

    __tablename__ = "variations"

    grant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("grants.id"))
    funder_id: Mapped[uuid.UUID]
    partner_id: Mapped[uuid.UUID]
    kind: Mapped[str] = mapped_column(String(20))
    decided_on: Mapped[date]
    decided_by: Mapped[str] = mapped_column(String(200))
    decision_reference: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(Text)
    currency: Mapped[str] = mapped_column(String(3))
    amount_before: Mapped[int] = mapped_column(Money)
    amount_after: Mapped[int] = mapped_column(Money)
    start_date_before: Mapped[date]
    start_date_after: Mapped[date]
    end_date_before: Mapped[date]
    end_date_after: Mapped[date]
    schedule_before: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    schedule_after: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    recorded_by: Mapped[str] = mapped_column(String(200))

    __table_args__ = (
        Index("ix_variations_grant", "grant_id", "decided_on"),
        Index("ix_variations_funder_id", "funder_id", "id"),
        Index("ix_variations_funder_decided", "funder_id", "decided_on", "id"),
        Index("ix_variations_funder_created", "funder_id", "created_at", "id"),
    )


class ListVersion(Base):
    """A counter of changes to one listed table, bumped by triggers (see the kit's
    ``listscale``): what tells a cached list anchor or count it is still current."""

    __tablename__ = "list_versions"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)
