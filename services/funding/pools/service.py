"""The rules of pooled listening funds. Keyword-only functions; they flush, never commit.

Only the staff of a pool's member funders see it (anyone else gets 404, as if it
did not exist). The host invites; an invited funder's staff accept; members may
leave, and what they committed stands (former members keep reading the books).
Money moves only as append-only ledger entries (see ``ledger``). Proposals are
decided by the pool's rule as votes arrive; an approved proposal becomes a core
grant of the pool, made by ``grants.service`` like any other.
"""

import uuid
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.common import audit, outbox
from services.common.auth import Caller
from services.common.db import utcnow
from services.common.errors import BadRequest, Conflict, Forbidden, NotFound, Unprocessable
from services.common.http import ServiceClient
from services.common.lists import ListQuery, Page
from services.funding.grants import service as grants
from services.funding.grants.models import Grant
from services.funding.grants.schedule import describe
from services.funding.pools import ledger, repository
from services.funding.pools.models import (
    Pool,
    PoolLedgerEntry,
    PoolMember,
    PoolProposal,
    PoolVote,
)
from services.funding.pools.schemas import (
    ContributionCreate,
    Invitation,
    PledgeCreate,
    PoolCreate,
    ProposalCreate,
    Reversal,
    VoteCreate,
)

SEE = ("invited", "active", "left")
READ = repository.READERS
ACT = ("active",)
OPEN = ("open", "awaiting_funds")


def today() -> date:
    return utcnow().date()


def rule_in_words(pool: Pool) -> str:
    """The pool's decision rule, as members would say it."""
    if pool.decision_rule == "unanimous":
        return "Unanimous consent: every member votes and any objection stops a proposal."
    if pool.decision_rule == "majority":
        return (
            "Majority of members: more than half of the members must approve; a tie does not pass."
        )
    return f"Quorum: a proposal passes with {pool.quorum} approvals."


# Access -------------------------------------------------------------------------------------


async def access(
    *, session: AsyncSession, caller: Caller, pool_id: uuid.UUID, need: tuple[str, ...] = READ
) -> tuple[Pool, PoolMember]:
    """The pool and the caller's membership. 404 unless the caller's funder is (or was, or is
    invited to be) a member; 403 when its place in the pool does not allow this."""
    assert caller.staff_funder_id is not None
    pool = await repository.get_pool(session, pool_id)
    member = await repository.get_member(session, pool_id, caller.staff_funder_id)
    if pool is None or member is None:
        raise NotFound("There is no pool with this id.")
    if member.status not in need:
        if member.status == "invited":
            raise Forbidden(
                "Your funder is invited to this pool: accept the invitation "
                f"(POST /api/v1/pools/{pool.id}/accept) to take part and read its books.",
                slug="pool-invitation-pending",
            )
        raise Forbidden(
            "Your funder has left this pool: it can read the books, but no longer take part.",
            slug="pool-member-left",
        )
    return pool, member


def _host_only(pool: Pool, caller: Caller, doing: str) -> None:
    if pool.host_funder_id != caller.staff_funder_id:
        raise Forbidden(f"Only the pool's host funder can {doing}.", slug="pool-host-only")


# Pools and members --------------------------------------------------------------------------


async def create_pool(*, session: AsyncSession, caller: Caller, data: PoolCreate) -> Pool:
    """Make a pool hosted by the caller's funder, which becomes its first member."""
    assert caller.staff_funder_id is not None
    if data.decision_rule == "quorum" and data.quorum is None:
        raise Unprocessable(
            "A quorum rule needs 'quorum': how many approvals pass a proposal.",
            errors={"quorum": ["is required with decision_rule=quorum"]},
        )
    if data.decision_rule != "quorum" and data.quorum is not None:
        raise Unprocessable(
            f"'quorum' is only used with decision_rule=quorum, not {data.decision_rule}.",
            errors={"quorum": ["only with decision_rule=quorum"]},
        )
    now = utcnow()
    pool = Pool(
        name=data.name,
        purpose=data.purpose,
        currency=data.currency,
        host_funder_id=caller.staff_funder_id,
        decision_rule=data.decision_rule,
        quorum=data.quorum,
        created_by=caller.actor,
        version=1,
    )
    session.add(pool)
    await session.flush()
    session.add(
        PoolMember(
            pool_id=pool.id,
            funder_id=caller.staff_funder_id,
            status="active",
            invited_by=caller.actor,
            invited_at=now,
            joined_at=now,
        )
    )
    await session.flush()
    audit.record(
        session,
        caller=caller,
        action="create",
        entity_type="pool",
        entity_id=pool.id,
        changes=data.model_dump(mode="json"),
    )
    return pool


async def list_pools(
    *, session: AsyncSession, caller: Caller, query: ListQuery
) -> tuple[Page, dict[uuid.UUID, str]]:
    assert caller.staff_funder_id is not None
    page = await repository.list_pools(session, query, funder_id=caller.staff_funder_id)
    statuses = await repository.statuses_of(
        session, [p.id for p in page.items], caller.staff_funder_id
    )
    return page, statuses


async def invite(
    *,
    session: AsyncSession,
    caller: Caller,
    pool_id: uuid.UUID,
    data: Invitation,
) -> PoolMember:
    """The host invites a funder by its id.

    The answer is the same whether or not a funder has that id, so the endpoint does not
    tell which funders exist; an invitation nobody can accept stays ``invited`` and gives
    no access. The host learns a funder's id from the funder itself."""
    pool, _ = await access(session=session, caller=caller, pool_id=pool_id, need=ACT)
    _host_only(pool, caller, "invite funders")
    member = await repository.get_member(session, pool.id, data.funder_id, for_update=True)
    now = utcnow()
    if member is not None and member.status in ("invited", "active"):
        raise Conflict(
            f"This funder is already {'invited to' if member.status == 'invited' else 'in'} "
            "the pool.",
            extra={"status": member.status},
        )
    if member is None:
        member = PoolMember(pool_id=pool.id, funder_id=data.funder_id, status="invited")
        session.add(member)
    member.status, member.invited_by, member.invited_at = "invited", caller.actor, now
    member.joined_at, member.left_at = None, None
    await session.flush()
    audit.record(
        session,
        caller=caller,
        action="invite",
        entity_type="pool",
        entity_id=pool.id,
        changes={"funder_id": str(data.funder_id)},
    )
    return member


async def accept(*, session: AsyncSession, caller: Caller, pool_id: uuid.UUID) -> PoolMember:
    """An invited funder's staff accept: the funder becomes a member."""
    pool, member = await access(session=session, caller=caller, pool_id=pool_id, need=SEE)
    if member.status != "invited":
        raise Conflict(
            f"Your funder is {'already a member' if member.status == 'active' else 'no longer'}"
            f"{'' if member.status == 'active' else ' in this pool and not invited'}; "
            "only an invitation can be accepted.",
            extra={"status": member.status},
        )
    member.status, member.joined_at = "active", utcnow()
    await session.flush()
    audit.record(session, caller=caller, action="join", entity_type="pool", entity_id=pool.id)
    return member


async def leave(*, session: AsyncSession, caller: Caller, pool_id: uuid.UUID) -> PoolMember:
    """A member leaves; its contributions and commitments stand, and it can still read."""
    pool, member = await access(session=session, caller=caller, pool_id=pool_id, need=ACT)
    if pool.host_funder_id == caller.staff_funder_id:
        raise Conflict(
            "The host cannot leave the pool it administers.", slug="pool-host-cannot-leave"
        )
    member.status, member.left_at = "left", utcnow()
    await session.flush()
    audit.record(session, caller=caller, action="leave", entity_type="pool", entity_id=pool.id)
    return member


async def members(
    *, session: AsyncSession, caller: Caller, pool_id: uuid.UUID
) -> tuple[Pool, list[PoolMember]]:
    """Everyone invited to, in, or gone from the pool."""
    pool, _ = await access(session=session, caller=caller, pool_id=pool_id)
    return pool, await repository.members_of(session, pool.id)


# Pledges, contributions, reversals ---------------------------------------------------------


async def pledge(
    *, session: AsyncSession, caller: Caller, pool_id: uuid.UUID, data: PledgeCreate
) -> PoolLedgerEntry:
    """A member promises money to the pool: a pledge entry (no money moves)."""
    assert caller.staff_funder_id is not None
    pool, _ = await access(session=session, caller=caller, pool_id=pool_id, need=ACT)
    pool = await ledger.lock(session, pool.id)
    entry = await ledger.post(
        session,
        pool=pool,
        kind="pledge",
        funder_id=caller.staff_funder_id,
        amount=data.amount,
        posted_on=today(),
        recorded_by=caller.actor,
        due_by=data.due_by,
        memo=data.memo,
    )
    _audit_entry(session, caller, entry)
    return entry


async def contribute(
    *, session: AsyncSession, caller: Caller, pool_id: uuid.UUID, data: ContributionCreate
) -> PoolLedgerEntry:
    """Money received by the pool from a member, against its pledge or not."""
    assert caller.staff_funder_id is not None
    pool, _ = await access(session=session, caller=caller, pool_id=pool_id, need=ACT)
    funder_id = data.funder_id or caller.staff_funder_id
    if funder_id != caller.staff_funder_id:
        _host_only(pool, caller, "record another member's contribution")
        other = await repository.get_member(session, pool.id, funder_id)
        if other is None or other.status != "active":
            raise Unprocessable(
                "Contributions come from members of the pool; this funder is not one.",
                errors={"funder_id": ["is not a member of the pool"]},
            )
    if data.received_on > today():
        raise Unprocessable(
            "received_on is in the future: record a contribution once the pool has it.",
            errors={"received_on": ["cannot be in the future"]},
        )
    pool = await ledger.lock(session, pool.id)
    if data.pledge_id is not None:
        pledged = await repository.get_entry(session, pool.id, data.pledge_id)
        if (
            pledged is None
            or pledged.kind != "pledge"
            or pledged.reverses_id is not None
            or pledged.funder_id != funder_id
        ):
            raise Unprocessable(
                "pledge_id is not a pledge of this member in this pool.",
                errors={"pledge_id": ["is not this member's pledge"]},
            )
        if await repository.reversal_of(session, pledged.id) is not None:
            raise Unprocessable("That pledge was reversed.", errors={"pledge_id": ["was reversed"]})
    entry = await ledger.post(
        session,
        pool=pool,
        kind="contribution",
        funder_id=funder_id,
        amount=data.amount,
        posted_on=data.received_on,
        recorded_by=caller.actor,
        pledge_id=data.pledge_id,
        memo=data.memo,
    )
    _audit_entry(session, caller, entry)
    return entry


def _audit_entry(session: AsyncSession, caller: Caller, entry: PoolLedgerEntry) -> None:
    audit.record(
        session,
        caller=caller,
        action="post",
        entity_type="pool_ledger_entry",
        entity_id=entry.id,
        changes={
            "pool_id": str(entry.pool_id),
            "kind": entry.kind,
            "funder_id": str(entry.funder_id),
            "amount": entry.amount,
            "posted_on": entry.posted_on.isoformat(),
            "reverses_id": str(entry.reverses_id) if entry.reverses_id else None,
        },
    )


async def reverse(
    *,
    session: AsyncSession,
    caller: Caller,
    pool_id: uuid.UUID,
    entry_id: uuid.UUID,
    data: Reversal,
) -> PoolLedgerEntry:
    """Correct a mistaken pledge or contribution with an entry of the opposite amount.
    Nothing is edited or deleted; the pool is never left overcommitted."""
    pool, _ = await access(session=session, caller=caller, pool_id=pool_id, need=ACT)
    pool = await ledger.lock(session, pool.id)
    entry = await repository.get_entry(session, pool.id, entry_id)
    if entry is None:
        raise NotFound("There is no ledger entry with this id in this pool.")
    if entry.kind not in ("pledge", "contribution"):
        raise Conflict(
            f"A {entry.kind} entry follows its grant: withdraw or vary the grant to change it.",
            slug="ledger-entry-not-reversible",
        )
    if entry.reverses_id is not None:
        raise Conflict(
            "This entry is itself a reversal; record a new pledge or contribution instead.",
            slug="ledger-entry-not-reversible",
        )
    if entry.funder_id != caller.staff_funder_id and pool.host_funder_id != caller.staff_funder_id:
        raise Forbidden(
            "Only the member it belongs to, or the host, can reverse an entry.",
            slug="pool-host-only",
        )
    if await repository.reversal_of(session, entry.id) is not None:
        raise Conflict("This entry was already reversed.", slug="ledger-entry-reversed")
    if entry.kind == "contribution":
        bal = await ledger.balance(session, pool.id)
        if bal.available < entry.amount:
            raise Conflict(
                f"Reversing this contribution of {describe(entry.amount, pool.currency)} would "
                f"overcommit the pool: only {describe(bal.available, pool.currency)} is "
                "received and not committed.",
                slug="pool-balance-insufficient",
                extra={"available": bal.available},
            )
    reversal = await ledger.post(
        session,
        pool=pool,
        kind=entry.kind,
        funder_id=entry.funder_id,
        amount=-entry.amount,
        posted_on=today(),
        recorded_by=caller.actor,
        reverses_id=entry.id,
        pledge_id=entry.pledge_id,
        due_by=entry.due_by,
        memo=data.reason,
    )
    _audit_entry(session, caller, reversal)
    return reversal


async def list_entries(
    *, session: AsyncSession, caller: Caller, pool_id: uuid.UUID, query: ListQuery
) -> tuple[Page, set[uuid.UUID]]:
    pool, _ = await access(session=session, caller=caller, pool_id=pool_id)
    page = await repository.list_entries(session, query, pool_id=pool.id)
    return page, await repository.reversed_ids(session, [e.id for e in page.items])


async def get_entry(
    *, session: AsyncSession, caller: Caller, pool_id: uuid.UUID, entry_id: uuid.UUID
) -> tuple[PoolLedgerEntry, bool]:
    pool, _ = await access(session=session, caller=caller, pool_id=pool_id)
    entry = await repository.get_entry(session, pool.id, entry_id)
    if entry is None:
        raise NotFound("There is no ledger entry with this id in this pool.")
    return entry, await repository.reversal_of(session, entry.id) is not None


# Proposals and votes ------------------------------------------------------------------------


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
    grant: Grant = await grants.create_pooled_grant(
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


# Grants, shares and the statement ----------------------------------------------------------


async def pool_grants(
    *, session: AsyncSession, caller: Caller, pool_id: uuid.UUID, query: ListQuery
) -> Page:
    pool, _ = await access(session=session, caller=caller, pool_id=pool_id)
    return await repository.list_pool_grants(session, query, pool_id=pool.id)


async def pool_shares(
    *, session: AsyncSession, caller: Caller, pool_id: uuid.UUID, query: ListQuery
) -> Page:
    """Every member's share of every grant of the pool (open books)."""
    pool, _ = await access(session=session, caller=caller, pool_id=pool_id)
    return await repository.list_shares(session, query, pool_ids=[pool.id])


share_id = repository.share_id


async def share(*, session: AsyncSession, caller: Caller, share_id: str) -> Any:
    """One share of a pooled grant, for the staff of a funder that can read the pool's books."""
    assert caller.funder_id is not None
    try:
        ((grant_id, funder_id),) = repository.parse_share_ids(share_id)
    except BadRequest as exc:
        raise NotFound("There is no share with this id.") from exc
    row = await repository.get_share(session, grant_id=grant_id, funder_id=funder_id)
    readable = await repository.member_pool_ids(session, caller.funder_id)
    if row is None or row[1].pool_id not in readable:
        raise NotFound("There is no share with this id.")
    return row


async def my_shares(*, session: AsyncSession, caller: Caller, query: ListQuery) -> Page:
    """The caller's funder's share of every pooled grant it funds, across its pools."""
    assert caller.staff_funder_id is not None
    pools = await repository.member_pool_ids(session, caller.staff_funder_id)
    return await repository.list_shares(
        session, query, funder_id=caller.staff_funder_id, pool_ids=pools
    )


async def statement(
    *,
    session: AsyncSession,
    caller: Caller,
    pool_id: uuid.UUID,
    start: date | None,
    end: date | None,
) -> tuple[Pool, Any, list[Any], list[uuid.UUID]]:
    """The open books for a period, the same for every member, summed in the database."""
    if start and end and start > end:
        raise Unprocessable(
            "'from' is after 'to': the period would be empty.",
            errors={"from": ["must not be after 'to'"]},
        )
    pool, _ = await access(session=session, caller=caller, pool_id=pool_id)
    total, per_member = await repository.statement(session, pool.id, start=start, end=end)
    members = [m.funder_id for m in await repository.members_of(session, pool.id, statuses=READ)]
    return pool, total, per_member, members


async def partners_of_pool(
    *, session: AsyncSession, pool_id: uuid.UUID, funder_id: uuid.UUID
) -> list[uuid.UUID]:
    """The organisations of a pool, for a funder that is (or was) a member; 404 otherwise
    (for other services acting for that funder, e.g. a feedback round's audience)."""
    member = await repository.get_member(session, pool_id, funder_id)
    if member is None or member.status not in READ:
        raise NotFound("There is no pool with this id.")
    return await repository.partner_ids_of_pool(session, pool_id)
