"""HTTP routes of pooled listening funds. Thin handlers; the rules live in ``service``.

Proposals and votes have their own routes (``proposal_routes``).

Only the staff of member funders see a pool: anyone else gets 404. The ledger
has no update or delete route at all (PUT, PATCH and DELETE answer 405): a
mistaken pledge or contribution is corrected by a reversing entry.
"""

import uuid
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response

from services.common.auth import ServiceCallerDep, StaffDep
from services.common.concurrency import etag
from services.common.db import SessionDep
from services.common.errors import NotFound
from services.common.idempotency import IdempotencyDep
from services.common.lists import ListQuery, list_query, page_of
from services.common.service_app import problem_responses
from services.funding.grants.routes import grant_out
from services.funding.grants.schemas import Grant
from services.funding.pools import service
from services.funding.pools.models import Pool as PoolRow
from services.funding.pools.models import PoolLedgerEntry as EntryRow
from services.funding.pools.models import PoolMember as MemberRow
from services.funding.pools.schemas import (
    ContributionCreate,
    Invitation,
    LedgerEntry,
    Member,
    MemberStatementLine,
    PledgeCreate,
    Pool,
    PoolCreate,
    Reversal,
    Share,
    Statement,
    StatementLine,
)

router = APIRouter(tags=["pools"])

PoolListQuery = Annotated[
    ListQuery,
    Depends(
        list_query("pools", sortable=["created_at", "name"], filterable=["q", "host_funder_id"])
    ),
]
LedgerListQuery = Annotated[
    ListQuery,
    Depends(
        list_query(
            "ledger",
            sortable=["sequence", "posted_on"],
            filterable=["kind", "funder_id", "grant_id", "pool_id"],
            default_sort=("sequence", "ASC"),
            max_page_size=500,
        )
    ),
]
PoolGrantListQuery = Annotated[
    ListQuery,
    Depends(
        list_query(
            "grants",
            sortable=["awarded_on", "amount_awarded", "created_at"],
            filterable=["partner_id", "funder_id", "pool_id"],
            default_sort=("awarded_on", "DESC"),
        )
    ),
]
MemberListQuery = Annotated[
    ListQuery,
    Depends(
        list_query(
            "members",
            sortable=["status", "invited_at", "joined_at"],
            filterable=["status", "funder_id", "pool_id"],
            default_sort=("invited_at", "ASC"),
        )
    ),
]
ShareListQuery = Annotated[
    ListQuery,
    Depends(
        list_query(
            "shares",
            sortable=["approved_on", "share_amount"],
            filterable=["pool_id", "grant_id", "funder_id", "partner_id"],
            default_sort=("approved_on", "DESC"),
        )
    ),
]


def pool_out(row: PoolRow, my_status: str | None) -> Pool:
    return Pool(
        id=row.id,
        created_at=row.created_at,
        updated_at=row.updated_at,
        version=row.version,
        name=row.name,
        purpose=row.purpose,
        currency=row.currency,
        host_funder_id=row.host_funder_id,
        decision_rule=row.decision_rule,  # type: ignore[arg-type]
        quorum=row.quorum,
        rule_in_words=service.rule_in_words(row),
        my_status=my_status,  # type: ignore[arg-type]
    )


def member_out(row: MemberRow, pool: PoolRow) -> Member:
    return Member(
        id=row.id,
        pool_id=row.pool_id,
        funder_id=row.funder_id,
        status=row.status,  # type: ignore[arg-type]
        is_host=row.funder_id == pool.host_funder_id,
        invited_by=row.invited_by,
        invited_at=row.invited_at,
        joined_at=row.joined_at,
        left_at=row.left_at,
    )


def entry_out(row: EntryRow, reversed_: bool = False) -> LedgerEntry:
    return LedgerEntry.model_validate(
        {
            **{k: getattr(row, k) for k in LedgerEntry.model_fields if k != "reversed"},
            "reversed": reversed_,
        }
    )


def share_out(row: Any) -> Share:
    org, grant = row
    return Share(
        id=service.share_id(grant.id, org.funder_id),
        pool_id=grant.pool_id,
        grant_id=grant.id,
        grant_360_id=grant.grant_360_id,
        title=grant.title,
        partner_id=grant.partner_id,
        funder_id=org.funder_id,
        amount_awarded=grant.amount_awarded,
        share_amount=org.share_amount or 0,
        currency=grant.currency,
        approved_on=grant.approved_on,
        status=grant.status,
    )


def _line(row: Any) -> dict[str, int]:
    return {k: int(getattr(row, k)) for k in StatementLine.model_fields}


def pool_location(pool_id: uuid.UUID, rest: str = "") -> dict[str, str]:
    """The ``Location`` header of a pool, or of ``rest`` under it."""
    return {"Location": f"/api/v1/pools/{pool_id}{rest}"}


# Pools --------------------------------------------------------------------------------------


@router.post("/pools", status_code=201, response_model=Pool, responses=problem_responses(422))
async def create_pool(
    body: PoolCreate, session: SessionDep, caller: StaffDep, idem: IdempotencyDep
) -> Response:
    """Make a pooled listening fund hosted by your funder (its first member).

    The decision rule is chosen now: ``unanimous`` (every member votes; any objection
    stops a proposal), ``majority`` (more than half of the members approve; a tie does
    not pass) or ``quorum`` (``quorum`` approvals pass a proposal).
    """
    pool = await service.create_pool(session=session, caller=caller, data=body)
    return await idem.respond(session, pool_out(pool, "active"), headers=pool_location(pool.id))


@router.get("/pools/shares", response_model=list[Share])
async def my_shares(
    session: SessionDep, caller: StaffDep, query: ShareListQuery, response: Response
) -> list[Share]:
    """Your funder's share of every pooled grant it funds, in every pool (filter ``pool_id``).

    Shares are in exact minor units: each grant is attributed to the members in
    proportion to their contributions when it was committed (largest remainder).
    """
    page = await service.my_shares(session=session, caller=caller, query=query)
    page.apply(response, "shares")
    return [share_out(r) for r in page.items]


@router.get("/pools", response_model=list[Pool])
async def list_pools(
    session: SessionDep, caller: StaffDep, query: PoolListQuery, response: Response
) -> list[Pool]:
    """Pools your funder is in, is invited to, or has left (``my_status`` says which)."""
    page, statuses = await service.list_pools(session=session, caller=caller, query=query)
    page.apply(response, "pools")
    return [pool_out(p, statuses.get(p.id)) for p in page.items]


@router.get("/pools/{pool_id}", response_model=Pool, responses=problem_responses(404))
async def get_pool(
    pool_id: uuid.UUID, session: SessionDep, caller: StaffDep, response: Response
) -> Pool:
    """One pool (404 unless your funder is a member, invited, or a former member)."""
    pool, member = await service.access(
        session=session, caller=caller, pool_id=pool_id, need=service.SEE
    )
    response.headers["ETag"] = etag(pool)
    return pool_out(pool, member.status)


@router.get("/pools/{pool_id}/members", response_model=list[Member])
async def list_members(
    pool_id: uuid.UUID,
    session: SessionDep,
    caller: StaffDep,
    query: MemberListQuery,
    response: Response,
) -> list[Member]:
    """Everyone invited to, in, or gone from the pool (filter ``status``, ``funder_id``)."""
    pool, rows = await service.members(session=session, caller=caller, pool_id=pool_id)
    page = page_of([member_out(m, pool) for m in rows], query)
    page.apply(response, "members")
    return page.items


@router.get(
    "/pools/{pool_id}/members/{member_id}",
    response_model=Member,
    responses=problem_responses(404),
)
async def get_member(
    pool_id: uuid.UUID, member_id: uuid.UUID, session: SessionDep, caller: StaffDep
) -> Member:
    """One member of the pool."""
    pool, rows = await service.members(session=session, caller=caller, pool_id=pool_id)
    for row in rows:
        if row.id == member_id:
            return member_out(row, pool)
    raise NotFound("There is no member with this id in this pool.")


@router.get(
    "/pools/{pool_id}/shares/{share_id}", response_model=Share, responses=problem_responses(404)
)
async def get_pool_share(
    pool_id: uuid.UUID, share_id: str, session: SessionDep, caller: StaffDep
) -> Share:
    """One member's share of one grant of the pool."""
    row = await service.share(session=session, caller=caller, share_id=share_id)
    if row[1].pool_id != pool_id:
        raise NotFound("There is no share with this id in this pool.")
    return share_out(row)


@router.get("/pools/shares/{share_id}", response_model=Share, responses=problem_responses(404))
async def get_member_share(share_id: str, session: SessionDep, caller: StaffDep) -> Share:
    """One member's share of one pooled grant (its id is ``<grant id>.<funder id>``)."""
    row = await service.share(session=session, caller=caller, share_id=share_id)
    return share_out(row)


@router.post(
    "/pools/{pool_id}/invitations",
    status_code=201,
    response_model=Member,
    responses=problem_responses(403, 404, 409, 503),
)
async def invite(
    pool_id: uuid.UUID,
    body: Invitation,
    session: SessionDep,
    caller: StaffDep,
    idem: IdempotencyDep,
) -> Response:
    """The host invites a funder to join; its staff accept with ``POST /pools/{id}/accept``.

    The answer does not say whether a funder has that id (no directory of funders by
    trial and error): an invitation to an id that is no funder is never accepted."""
    member = await service.invite(session=session, caller=caller, pool_id=pool_id, data=body)
    pool, _ = await service.access(session=session, caller=caller, pool_id=pool_id)
    return await idem.respond(
        session, member_out(member, pool), headers=pool_location(pool_id, "/members")
    )


@router.post("/pools/{pool_id}/accept", response_model=Member, responses=problem_responses(409))
async def accept(pool_id: uuid.UUID, session: SessionDep, caller: StaffDep) -> Member:
    """Accept your funder's invitation: it becomes a member, votes and sees the books."""
    member = await service.accept(session=session, caller=caller, pool_id=pool_id)
    pool, _ = await service.access(session=session, caller=caller, pool_id=pool_id)
    return member_out(member, pool)


@router.post("/pools/{pool_id}/leave", response_model=Member, responses=problem_responses(409))
async def leave(pool_id: uuid.UUID, session: SessionDep, caller: StaffDep) -> Member:
    """Leave the pool. What your funder contributed and committed stands; it can still
    read the books and its shares, but no longer propose, vote or contribute."""
    member = await service.leave(session=session, caller=caller, pool_id=pool_id)
    pool, _ = await service.access(session=session, caller=caller, pool_id=pool_id)
    return member_out(member, pool)


# Money --------------------------------------------------------------------------------------


@router.post(
    "/pools/{pool_id}/pledges",
    status_code=201,
    response_model=LedgerEntry,
    responses=problem_responses(403, 404),
)
async def pledge(
    pool_id: uuid.UUID,
    body: PledgeCreate,
    session: SessionDep,
    caller: StaffDep,
    idem: IdempotencyDep,
) -> Response:
    """Pledge money to the pool (optionally by a date): a ``pledge`` ledger entry."""
    entry = await service.pledge(session=session, caller=caller, pool_id=pool_id, data=body)
    return await idem.respond(
        session, entry_out(entry), headers=pool_location(pool_id, f"/ledger/{entry.id}")
    )


@router.post(
    "/pools/{pool_id}/contributions",
    status_code=201,
    response_model=LedgerEntry,
    responses=problem_responses(403, 404, 422),
)
async def contribute(
    pool_id: uuid.UUID,
    body: ContributionCreate,
    session: SessionDep,
    caller: StaffDep,
    idem: IdempotencyDep,
) -> Response:
    """Record money the pool received from a member (against its pledge or not): a
    ``contribution`` ledger entry. Send an ``Idempotency-Key``."""
    entry = await service.contribute(session=session, caller=caller, pool_id=pool_id, data=body)
    return await idem.respond(
        session, entry_out(entry), headers=pool_location(pool_id, f"/ledger/{entry.id}")
    )


@router.get("/pools/{pool_id}/ledger", response_model=list[LedgerEntry])
async def list_ledger(
    pool_id: uuid.UUID,
    session: SessionDep,
    caller: StaffDep,
    query: LedgerListQuery,
    response: Response,
) -> list[LedgerEntry]:
    """The pool's append-only ledger, entry by entry (oldest first by default).

    Kinds: ``pledge``, ``contribution``, ``commitment`` (a member's share of a grant),
    ``payment`` (a member's share of a payment to a partner). Filters: ``kind``,
    ``funder_id``, ``grant_id``, ``id``.
    """
    page, reversed_ids = await service.list_entries(
        session=session, caller=caller, pool_id=pool_id, query=query
    )
    page.apply(response, "ledger")
    return [entry_out(e, e.id in reversed_ids) for e in page.items]


@router.get("/pools/{pool_id}/ledger/{entry_id}", response_model=LedgerEntry)
async def get_ledger_entry(
    pool_id: uuid.UUID, entry_id: uuid.UUID, session: SessionDep, caller: StaffDep
) -> LedgerEntry:
    """One ledger entry. It can never be changed or deleted; reverse it instead."""
    entry, reversed_ = await service.get_entry(
        session=session, caller=caller, pool_id=pool_id, entry_id=entry_id
    )
    return entry_out(entry, reversed_)


@router.post(
    "/pools/{pool_id}/ledger/{entry_id}/reverse",
    status_code=201,
    response_model=LedgerEntry,
    responses=problem_responses(403, 404, 409),
)
async def reverse_entry(
    pool_id: uuid.UUID,
    entry_id: uuid.UUID,
    body: Reversal,
    session: SessionDep,
    caller: StaffDep,
    idem: IdempotencyDep,
) -> Response:
    """Correct a mistaken pledge or contribution with a reversing entry of the opposite
    amount (by its member or the host). Commitments and payments follow their grant:
    withdraw or vary the grant instead. A contribution cannot be reversed if that would
    leave the pool overcommitted."""
    entry = await service.reverse(
        session=session, caller=caller, pool_id=pool_id, entry_id=entry_id, data=body
    )
    return await idem.respond(
        session, entry_out(entry), headers=pool_location(pool_id, f"/ledger/{entry.id}")
    )


@router.get("/pools/{pool_id}/statement", response_model=Statement)
async def get_statement(
    pool_id: uuid.UUID,
    session: SessionDep,
    caller: StaffDep,
    start: Annotated[date | None, Query(alias="from", description="First day (inclusive)")] = None,
    end: Annotated[date | None, Query(alias="to", description="Last day (inclusive)")] = None,
) -> Statement:
    """The pool's open books for a period (all time if omitted), identical for every
    member: pledges, contributions in, commitments, payments out, and the available
    balance (received less committed) before and after, per member and in total.
    Summed in the database from the ledger, so it always reconciles with it."""
    pool, total, per_member, members = await service.statement(
        session=session, caller=caller, pool_id=pool_id, start=start, end=end
    )
    lines = {
        row.funder_id: MemberStatementLine(funder_id=row.funder_id, **_line(row))
        for row in per_member
    }
    for funder_id in members:
        lines.setdefault(
            funder_id,
            MemberStatementLine(
                funder_id=funder_id, **dict.fromkeys(StatementLine.model_fields, 0)
            ),
        )
    return Statement(
        pool_id=pool.id,
        currency=pool.currency,
        start=start,
        end=end,
        total=StatementLine(**_line(total)),
        members=sorted(lines.values(), key=lambda line: str(line.funder_id)),
    )


# Grants and shares --------------------------------------------------------------------------


@router.get("/pools/{pool_id}/grants", response_model=list[Grant])
async def pool_grants(
    pool_id: uuid.UUID,
    session: SessionDep,
    caller: StaffDep,
    query: PoolGrantListQuery,
    response: Response,
) -> list[Grant]:
    """The core grants the pool has made (each also at ``/api/v1/grants/{id}``; the host
    records their payments, which are paid out of the pool)."""
    page = await service.pool_grants(session=session, caller=caller, pool_id=pool_id, query=query)
    page.apply(response, "grants")
    return [grant_out(g) for g in page.items]


@router.get("/pools/{pool_id}/shares", response_model=list[Share])
async def pool_shares(
    pool_id: uuid.UUID,
    session: SessionDep,
    caller: StaffDep,
    query: ShareListQuery,
    response: Response,
) -> list[Share]:
    """Every member's share of every grant of the pool (filter ``funder_id``, ``grant_id``)."""
    page = await service.pool_shares(session=session, caller=caller, pool_id=pool_id, query=query)
    page.apply(response, "shares")
    return [share_out(r) for r in page.items]


internal = APIRouter(prefix="/internal", include_in_schema=False)


@internal.get("/pools/{pool_id}/partners")
async def internal_pool_partners(
    pool_id: uuid.UUID, funder_id: uuid.UUID, session: SessionDep, _: ServiceCallerDep
) -> list[dict[str, str]]:
    """The organisations of a pool (grants and proposals), for a member funder; 404 when the
    funder is not (and was not) a member."""
    ids = await service.partners_of_pool(session=session, pool_id=pool_id, funder_id=funder_id)
    return [{"partner_id": str(i)} for i in ids]
