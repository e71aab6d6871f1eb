"""Proposals and votes of a pool: members propose grants and decide them by the pool's rule.

A proposal is decided as votes arrive (``judge``); an approved one becomes a core
grant of the pool, made by ``grants.service`` like any other, its money committed
from the pool's ledger. Keyword-only functions; they flush, never commit.
"""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from services.common import audit, outbox
from services.common.auth import Caller
from services.common.db import utcnow
from services.common.errors import Conflict, NotFound, Unprocessable
from services.common.http import ServiceClient
from services.common.lists import ListQuery, Page
from services.funding.grants import awards
from services.funding.grants import service as grants
from services.funding.grants.models import Grant
from services.funding.pools import ledger, repository
from services.funding.pools.models import Pool, PoolProposal, PoolVote
from services.funding.pools.schemas import ProposalCreate, VoteCreate
from services.funding.pools.service import ACT, OPEN, access, today


async def propose(
    *,
    session: AsyncSession,
    caller: Caller,
    partners: ServiceClient,
    pool_id: uuid.UUID,
    data: ProposalCreate,
) -> PoolProposal:
    """A member proposes a grant to a partner of its own funder or of the host."""
    assert caller.staff_funder_id is not None
    pool, _ = await access(session=session, caller=caller, pool_id=pool_id, need=ACT)
    grants.check_term(data.planned_start_date, data.planned_end_date)
    summary = None
    for funder_id in dict.fromkeys([caller.staff_funder_id, pool.host_funder_id]):
        summary = await partners.get_json(
            f"/internal/funders/{funder_id}/partners/{data.partner_id}"
        )
        if summary is not None and summary.get("relationship_status") != "ended":
            break
    if summary is None:
        raise Unprocessable(
            "Neither your funder nor the pool's host has a relationship with this partner. "
            "Record the partner (POST /api/v1/partners) before proposing a grant to it.",
            slug="unknown-partner",
            errors={"partner_id": ["is not a partner of your funder or the host"]},
        )
    if summary.get("relationship_status") == "ended":
        raise Unprocessable(
            "The relationship with this partner has ended; reopen it before proposing a grant.",
            slug="relationship-ended",
            errors={"partner_id": ["the relationship has ended"]},
        )
    proposal = PoolProposal(
        pool_id=pool.id,
        proposed_by_funder_id=caller.staff_funder_id,
        proposed_by=caller.actor,
        partner_id=data.partner_id,
        title=data.title,
        description=data.description,
        amount=data.amount,
        currency=pool.currency,
        planned_start_date=data.planned_start_date,
        planned_end_date=data.planned_end_date,
        payment_frequency=data.payment_frequency,
        reference=data.reference,
        status="open",
        version=1,
    )
    session.add(proposal)
    await session.flush()
    audit.record(
        session,
        caller=caller,
        action="propose",
        entity_type="pool_proposal",
        entity_id=proposal.id,
        changes=data.model_dump(mode="json"),
    )
    # Each member's staff are told a proposal awaits their vote (email notifications).
    members = await repository.members_of(session, pool.id, statuses=ACT)
    outbox.emit(
        session,
        "proposal.opened",
        {
            "proposal_id": str(proposal.id),
            "pool_id": str(pool.id),
            "pool_name": pool.name,
            "funder_ids": [str(m.funder_id) for m in members],
            "title": proposal.title,
            "amount": proposal.amount,
            "currency": proposal.currency,
        },
    )
    return proposal


async def get_proposal(
    *, session: AsyncSession, caller: Caller, pool_id: uuid.UUID, proposal_id: uuid.UUID
) -> tuple[PoolProposal, list[PoolVote], int]:
    pool, _ = await access(session=session, caller=caller, pool_id=pool_id)
    proposal = await repository.get_proposal(session, pool.id, proposal_id)
    if proposal is None:
        raise NotFound("There is no proposal with this id in this pool.")
    votes = await repository.votes_of(session, [proposal.id])
    active = await repository.members_of(session, pool.id, statuses=ACT)
    return proposal, votes, len(active)


async def list_proposals(
    *, session: AsyncSession, caller: Caller, pool_id: uuid.UUID, query: ListQuery
) -> tuple[Page, dict[uuid.UUID, list[PoolVote]], int]:
    pool, _ = await access(session=session, caller=caller, pool_id=pool_id)
    page = await repository.list_proposals(session, query, pool_id=pool.id)
    votes: dict[uuid.UUID, list[PoolVote]] = {p.id: [] for p in page.items}
    for vote in await repository.votes_of(session, list(votes)):
        votes[vote.proposal_id].append(vote)
    active = await repository.members_of(session, pool.id, statuses=ACT)
    return page, votes, len(active)


def judge(
    rule: str, quorum: int | None, *, members: int, approve: int, object_: int, abstain: int
) -> tuple[str | None, str]:
    """The pool's rule applied to a tally: ("approved" | "declined" | None, the reasoning).

    Only the votes of current members count. Under unanimous consent every member must
    vote and any objection stops the proposal (abstaining does not); under majority more
    than half of the members must approve, so a tie does not pass; under a quorum of N,
    N approvals pass it.
    """
    waiting = members - approve - object_ - abstain
    noun = "member" if members == 1 else "members"
    if rule == "unanimous":
        if object_:
            return "declined", (
                f"{object_} of {members} {noun} objected; under unanimous consent any objection "
                "stops a proposal."
            )
        if waiting == 0 and approve:
            extra = f", {abstain} abstained" if abstain else ""
            return "approved", (
                f"{approve} of {members} {noun} approved{extra}, none objected; "
                "unanimous consent reached."
            )
        if waiting == 0:
            return "declined", f"All {members} {noun} abstained; nobody approved."
        return None, (
            f"{approve} of {members} {noun} approved so far, {waiting} still to vote; unanimous "
            "consent needs every member to vote without objection."
        )
    if rule == "majority":
        need = members // 2 + 1
        if approve >= need:
            return "approved", f"{approve} of {members} {noun} approved; majority reached."
        if approve + waiting < need:
            if approve * 2 == members:
                return "declined", (
                    f"{approve} of {members} {noun} approved and {members - approve} did not: "
                    f"a tie, and a tie does not pass (a majority needs {need})."
                )
            return "declined", (
                f"{approve} of {members} {noun} approved; a majority ({need}) can no longer "
                "be reached."
            )
        return None, f"{approve} of {members} {noun} approved so far; a majority needs {need}."
    assert quorum is not None
    if approve >= quorum:
        return "approved", f"{approve} approvals of the {quorum} needed; quorum reached."
    if approve + waiting < quorum:
        return "declined", (
            f"{approve} approvals with {waiting} of {members} {noun} still to vote; the quorum "
            f"of {quorum} can no longer be reached."
        )
    return None, f"{approve} approvals so far; the quorum is {quorum}."


def tally(votes: list[PoolVote], active: set[uuid.UUID] | None, members: int) -> dict[str, int]:
    counted = [v for v in votes if active is None or v.funder_id in active]
    counts = {choice: sum(1 for v in counted if v.vote == choice) for choice in VOTE_CHOICES}
    return {
        "members": members,
        **counts,
        "not_voted": max(members - sum(counts.values()), 0),
    }


VOTE_CHOICES = ("approve", "object", "abstain")


async def vote(
    *,
    session: AsyncSession,
    caller: Caller,
    partners: ServiceClient,
    pool_id: uuid.UUID,
    proposal_id: uuid.UUID,
    data: VoteCreate,
) -> PoolProposal:
    """Record (or change, while the proposal is open) the member's vote; the rule decides."""
    assert caller.staff_funder_id is not None
    pool, _ = await access(session=session, caller=caller, pool_id=pool_id, need=ACT)
    proposal = await _open_proposal(session, pool, proposal_id)
    existing = await repository.get_vote(session, proposal.id, caller.staff_funder_id)
    if existing is None:
        session.add(
            PoolVote(
                proposal_id=proposal.id,
                funder_id=caller.staff_funder_id,
                vote=data.vote,
                comment=data.comment,
                voted_by=caller.actor,
            )
        )
    else:
        existing.vote, existing.comment, existing.voted_by = data.vote, data.comment, caller.actor
    await session.flush()
    audit.record(
        session,
        caller=caller,
        action="vote",
        entity_type="pool_proposal",
        entity_id=proposal.id,
        changes=data.model_dump(mode="json"),
    )
    return await _decide(session, caller, partners, pool, proposal)


async def decide(
    *,
    session: AsyncSession,
    caller: Caller,
    partners: ServiceClient,
    pool_id: uuid.UUID,
    proposal_id: uuid.UUID,
) -> PoolProposal:
    """Apply the rule again (e.g. to a proposal awaiting funds, once more is received)."""
    pool, _ = await access(session=session, caller=caller, pool_id=pool_id, need=ACT)
    proposal = await _open_proposal(session, pool, proposal_id)
    return await _decide(session, caller, partners, pool, proposal)


async def _open_proposal(session: AsyncSession, pool: Pool, proposal_id: uuid.UUID) -> PoolProposal:
    proposal = await repository.get_proposal(session, pool.id, proposal_id, for_update=True)
    if proposal is None:
        raise NotFound("There is no proposal with this id in this pool.")
    if proposal.status not in OPEN:
        raise Conflict(
            f"This proposal was {proposal.status}; it can no longer be voted on or decided.",
            slug="proposal-decided",
            extra={"status": proposal.status},
        )
    return proposal


async def _decide(
    session: AsyncSession,
    caller: Caller,
    partners: ServiceClient,
    pool: Pool,
    proposal: PoolProposal,
) -> PoolProposal:
    active = [m.funder_id for m in await repository.members_of(session, pool.id, statuses=ACT)]
    votes = await repository.votes_of(session, [proposal.id])
    counts = tally(votes, set(active), len(active))
    outcome, reason = judge(
        pool.decision_rule,
        pool.quorum,
        members=len(active),
        approve=counts["approve"],
        object_=counts["object"],
        abstain=counts["abstain"],
    )
    proposal.tally = counts
    proposal.decision_reason = reason
    if outcome == "declined":
        proposal.status, proposal.decided_at = "declined", utcnow()
    elif outcome == "approved":
        await _approve(session, caller, partners, pool, proposal, active, reason)
    else:
        proposal.status = "open"
    await session.flush()
    audit.record(
        session,
        caller=caller,
        action="decide",
        entity_type="pool_proposal",
        entity_id=proposal.id,
        changes={"status": proposal.status, "reason": proposal.decision_reason, **counts},
    )
    return proposal


async def _approve(
    session: AsyncSession,
    caller: Caller,
    partners: ServiceClient,
    pool: Pool,
    proposal: PoolProposal,
    active: list[uuid.UUID],
    reason: str,
) -> None:
    """Commit the money (under the pool's lock) and make the core grant, or wait for funds."""
    host = await partners.get_json(f"/internal/funders/{pool.host_funder_id}")
    if host is None:
        raise NotFound("The pool's host funder is not known to the partners service.")
    pool = await ledger.lock(session, pool.id)
    try:
        shares = await ledger.split_commitment(
            session, pool=pool, amount=proposal.amount, members=active, doing="this proposal"
        )
    except Conflict as short:
        proposal.status = "awaiting_funds"
        proposal.decision_reason = (
            f"{reason} But {short.detail[0].lower()}{short.detail[1:]} The proposal waits: "
            "decide it again once more is received."
        )
        return
    decided_on = today()
    grant: Grant = await awards.create_pooled_grant(
        session=session,
        caller=caller,
        pool_id=pool.id,
        host_funder_id=pool.host_funder_id,
        prefix=host["prefix_360giving"],
        partner_id=proposal.partner_id,
        title=proposal.title,
        description=proposal.description,
        amount=proposal.amount,
        currency=proposal.currency,
        planned_start_date=proposal.planned_start_date,
        planned_end_date=proposal.planned_end_date,
        payment_frequency=proposal.payment_frequency,
        reference=proposal.reference,
        decided_on=decided_on,
        decided_by=f"Members of {pool.name} ({pool.decision_rule})",
        decision_reference=f"Pool proposal {proposal.id}",
        shares=shares,
        proposed_on=proposal.created_at.date(),
    )
    await ledger.post_commitments(
        session,
        pool=pool,
        shares=shares,
        on=decided_on,
        recorded_by=caller.actor,
        grant_id=grant.id,
        proposal_id=proposal.id,
        memo=f"Grant {grant.reference}: {proposal.title}",
    )
    proposal.status, proposal.decided_at, proposal.grant_id = "approved", utcnow(), grant.id
