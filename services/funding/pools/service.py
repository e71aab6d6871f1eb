"""The rules of pooled listening funds. Keyword-only functions; they flush, never commit.

Only the staff of a pool's member funders see it (anyone else gets 404, as if it
did not exist). The host invites; an invited funder's staff accept; members may
leave, and what they committed stands (former members keep reading the books).
Money moves only as append-only ledger entries (see ``ledger``). Proposals and
votes, decided by the pool's rule, are in ``proposals``.
"""

import uuid
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.common import audit
from services.common.auth import Caller
from services.common.db import utcnow
from services.common.errors import BadRequest, Conflict, Forbidden, NotFound, Unprocessable
from services.common.lists import ListQuery, Page
from services.funding.grants.schedule import describe
from services.funding.pools import ledger, repository
from services.funding.pools.models import (
    Pool,
    PoolLedgerEntry,
    PoolMember,
)
from services.funding.pools.schemas import (
    ContributionCreate,
    Invitation,
    PledgeCreate,
    PoolCreate,
    Reversal,
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
