"""Request and response bodies of pooled funds."""

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

from services.common.schemas import Record, TimestampedRecord
from services.funding.grants.schemas import Amount, Currency, Frequency, NoKpiInput

DecisionRule = Literal["unanimous", "majority", "quorum"]
MemberStatus = Literal["invited", "active", "left"]
ProposalStatus = Literal["open", "awaiting_funds", "approved", "declined"]
VoteChoice = Literal["approve", "object", "abstain"]
EntryKind = Literal["pledge", "contribution", "commitment", "payment"]


class PoolCreate(NoKpiInput):
    """A pooled fund hosted by your funder. The decision rule is chosen now, once."""

    name: str = Field(min_length=1, max_length=200, examples=["The Listening Fund"])
    purpose: str = Field(
        min_length=1,
        max_length=10000,
        description="In plain words: what the pool is for",
        examples=["Help youth organisations listen to young people and act on what they hear."],
    )
    currency: Currency = "GBP"
    decision_rule: DecisionRule = Field(
        description="unanimous (any objection stops a proposal), majority (more than half of "
        "the members approve) or quorum (at least `quorum` approvals)"
    )
    quorum: int | None = Field(
        None, ge=1, le=100, description="Approvals needed; only with decision_rule=quorum"
    )


class Pool(TimestampedRecord):
    name: str
    purpose: str
    currency: str
    host_funder_id: uuid.UUID
    decision_rule: DecisionRule
    quorum: int | None
    rule_in_words: str
    my_status: MemberStatus | None = Field(description="Your funder's place in the pool")


class Invitation(NoKpiInput):
    funder_id: uuid.UUID = Field(description="The funder invited to join")


class Member(Record):
    pool_id: uuid.UUID
    funder_id: uuid.UUID
    status: MemberStatus
    is_host: bool
    invited_by: str | None
    invited_at: datetime | None
    joined_at: datetime | None
    left_at: datetime | None


class PledgeCreate(NoKpiInput):
    """A member's promise of money to the pool (no money moves yet)."""

    amount: Amount
    due_by: date | None = Field(None, description="When the member means to pay it, if agreed")
    memo: str | None = Field(None, max_length=2000)


class ContributionCreate(NoKpiInput):
    """Money actually received by the pool from a member."""

    amount: Amount
    received_on: date = Field(description="When the pool received it (not in the future)")
    pledge_id: uuid.UUID | None = Field(None, description="The pledge it meets, if any")
    funder_id: uuid.UUID | None = Field(
        None,
        description="The contributing member (yours if omitted; only the host may record "
        "another member's contribution)",
    )
    memo: str | None = Field(None, max_length=2000, description="e.g. the bank reference")


class Reversal(NoKpiInput):
    """Correct a mistaken pledge or contribution: an entry of the opposite amount."""

    reason: str = Field(min_length=1, max_length=2000, description="What was wrong, in words")


class LedgerEntry(Record):
    pool_id: uuid.UUID
    sequence: int
    kind: EntryKind
    funder_id: uuid.UUID
    amount: int = Field(description="Signed minor units; a reversal has the opposite sign")
    currency: str
    posted_on: date
    due_by: date | None
    pledge_id: uuid.UUID | None
    grant_id: uuid.UUID | None
    proposal_id: uuid.UUID | None
    payment_id: uuid.UUID | None
    reverses_id: uuid.UUID | None
    reversed: bool = Field(description="A later entry reverses this one")
    memo: str | None
    recorded_by: str
    created_at: datetime


class ProposalCreate(NoKpiInput):
    """A core grant the pool might make to a partner (of the proposer or the host)."""

    partner_id: uuid.UUID
    title: str = Field(min_length=1, max_length=300)
    description: str = Field(min_length=1, max_length=10000)
    amount: Amount
    planned_start_date: date
    planned_end_date: date = Field(description="A term of 1 to 10 years")
    payment_frequency: Frequency = "annual"
    reference: str | None = Field(
        None,
        min_length=1,
        max_length=100,
        pattern=r"^[A-Za-z0-9_. -]+$",
        description="The grant's reference once made (the 360Giving id uses the host's prefix)",
    )


class VoteCreate(NoKpiInput):
    vote: VoteChoice
    comment: str | None = Field(None, max_length=5000, description="Why, in your own words")


class Vote(Record):
    funder_id: uuid.UUID
    vote: VoteChoice
    comment: str | None
    voted_by: str
    created_at: datetime
    updated_at: datetime


class Tally(BaseModel):
    members: int
    approve: int
    object: int
    abstain: int
    not_voted: int


class Proposal(TimestampedRecord):
    pool_id: uuid.UUID
    proposed_by_funder_id: uuid.UUID
    proposed_by: str
    partner_id: uuid.UUID
    title: str
    description: str
    amount: int
    currency: str
    planned_start_date: date
    planned_end_date: date
    payment_frequency: Frequency
    reference: str | None
    status: ProposalStatus
    decided_at: datetime | None
    decision_reason: str | None = Field(description="The rule's reasoning, in words")
    tally: Tally
    grant_id: uuid.UUID | None
    votes: list[Vote]


class Share(BaseModel):
    """One member's share of one pooled grant."""

    id: str = Field(description="The share's id: `<grant id>.<funder id>`.")
    pool_id: uuid.UUID
    grant_id: uuid.UUID
    grant_360_id: str | None
    title: str
    partner_id: uuid.UUID
    funder_id: uuid.UUID
    amount_awarded: int
    share_amount: int
    currency: str
    approved_on: date | None
    status: str


class StatementLine(BaseModel):
    pledged: int = Field(description="Pledges made in the period")
    contributions: int = Field(description="Money received in the period")
    commitments: int = Field(description="Money committed to grants in the period")
    payments: int = Field(description="Money paid out to partners in the period")
    opening_available: int = Field(description="Received less committed, before the period")
    closing_available: int = Field(description="Received less committed, at the period's end")
    closing_cash: int = Field(description="Received less paid out, at the period's end")
    closing_unpaid: int = Field(description="Committed and not yet paid, at the period's end")
    entries: int = Field(description="Ledger entries in the period")


class MemberStatementLine(StatementLine):
    funder_id: uuid.UUID


class Statement(BaseModel):
    """The pool's open books for a period: the same for every member."""

    pool_id: uuid.UUID
    currency: str
    start: date | None
    end: date | None
    total: StatementLine
    members: list[MemberStatementLine]
