"""Tables of pooled listening funds: the pool, its members, proposals, votes and the ledger.

The ledger is append-only: no code path updates or deletes an entry; a mistake
is corrected by a reversing entry (``reverses_id``) of the opposite sign.
"""

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from services.common.db import IdMixin, Money, TimestampMixin, UTCDateTime, VersionedMixin, utcnow
from services.funding.db import Base

DECISION_RULES = ("unanimous", "majority", "quorum")
MEMBER_STATUSES = ("invited", "active", "left")
PROPOSAL_STATUSES = ("open", "awaiting_funds", "approved", "declined")
VOTES = ("approve", "object", "abstain")
#: pledge: a promise (no money moves); contribution: money received by the pool;
#: commitment: money granted (a member's share of a pooled grant); payment: money paid out.
ENTRY_KINDS = ("pledge", "contribution", "commitment", "payment")


class Pool(IdMixin, TimestampMixin, VersionedMixin, Base):
    """A pooled fund: money from several member funders, granted by their joint decision."""

    __tablename__ = "pools"

    name: Mapped[str] = mapped_column(String(200))
    purpose: Mapped[str] = mapped_column(Text)
    currency: Mapped[str] = mapped_column(String(3))
    host_funder_id: Mapped[uuid.UUID] = mapped_column(index=True)
    decision_rule: Mapped[str] = mapped_column(String(20))
    quorum: Mapped[int | None] = mapped_column(comment="Approvals needed under the quorum rule")
    created_by: Mapped[str] = mapped_column(String(200))


class PoolMember(IdMixin, TimestampMixin, Base):
    """A funder invited to, in, or gone from a pool."""

    __tablename__ = "pool_members"

    pool_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("pools.id"))
    funder_id: Mapped[uuid.UUID]
    status: Mapped[str] = mapped_column(String(20))
    invited_by: Mapped[str | None] = mapped_column(String(200))
    invited_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    joined_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    left_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint("pool_id", "funder_id"),
        Index("ix_pool_members_funder", "funder_id", "status"),
    )


class PoolProposal(IdMixin, TimestampMixin, VersionedMixin, Base):
    """A suggested grant from a pool to a partner, decided by the members' votes."""

    __tablename__ = "pool_proposals"

    pool_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("pools.id"))
    proposed_by_funder_id: Mapped[uuid.UUID]
    proposed_by: Mapped[str] = mapped_column(String(200))
    partner_id: Mapped[uuid.UUID]
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text)
    amount: Mapped[int] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))
    planned_start_date: Mapped[date]
    planned_end_date: Mapped[date]
    payment_frequency: Mapped[str] = mapped_column(String(20))
    reference: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decision_reason: Mapped[str | None] = mapped_column(Text)
    tally: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    grant_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("grants.id"))

    __table_args__ = (
        Index("ix_pool_proposals_pool", "pool_id", "created_at", "id"),
        Index("ix_pool_proposals_pool_status", "pool_id", "status"),
    )


class PoolVote(IdMixin, TimestampMixin, Base):
    """A member's vote on a proposal, with its comment (it may change while the proposal is open)."""

    __tablename__ = "pool_votes"

    proposal_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("pool_proposals.id"))
    funder_id: Mapped[uuid.UUID]
    vote: Mapped[str] = mapped_column(String(20))
    comment: Mapped[str | None] = mapped_column(Text)
    voted_by: Mapped[str] = mapped_column(String(200))

    __table_args__ = (UniqueConstraint("proposal_id", "funder_id"),)


class PoolLedgerEntry(IdMixin, Base):
    """One entry of a pool's append-only ledger. Amounts are signed minor units; a reversal
    has the opposite sign of the entry it reverses."""

    __tablename__ = "pool_ledger_entries"

    pool_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("pools.id"))
    sequence: Mapped[int] = mapped_column(comment="1, 2, 3... within the pool")
    kind: Mapped[str] = mapped_column(String(20))
    funder_id: Mapped[uuid.UUID] = mapped_column(comment="The member the money is attributed to")
    amount: Mapped[int] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))
    posted_on: Mapped[date] = mapped_column(comment="When the money moved (or was pledged)")
    due_by: Mapped[date | None] = mapped_column(comment="A pledge's date, if any")
    pledge_id: Mapped[uuid.UUID | None] = mapped_column(comment="The pledge a contribution meets")
    grant_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("grants.id"))
    proposal_id: Mapped[uuid.UUID | None]
    payment_id: Mapped[uuid.UUID | None]
    reverses_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("pool_ledger_entries.id"), unique=True
    )
    memo: Mapped[str | None] = mapped_column(Text)
    recorded_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        UniqueConstraint("pool_id", "sequence"),
        Index("ix_pool_ledger_pool_posted", "pool_id", "posted_on", "id"),
        Index("ix_pool_ledger_pool_kind", "pool_id", "kind", "funder_id"),
        Index("ix_pool_ledger_grant", "grant_id", "funder_id"),
    )
