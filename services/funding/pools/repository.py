"""All SQL of pooled funds: pools, members, proposals, votes, the ledger and its statement."""

import uuid
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, and_, case, false, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from services.common.errors import BadRequest
from services.common.lists import (
    ListQuery,
    Page,
    fetch_page,
    filter_values,
    parse_uuid_list,
    where_ids,
)
from services.funding.grants.models import Grant, GrantFundingOrganisation
from services.funding.grants.repository import GRANT_SORTS, grant_row_key
from services.funding.pools.models import (
    ENTRY_KINDS,
    PROPOSAL_STATUSES,
    Pool,
    PoolLedgerEntry,
    PoolMember,
    PoolProposal,
    PoolVote,
)

POOL_SORTS: dict[str, ColumnElement[Any]] = {"created_at": Pool.created_at, "name": Pool.name}
PROPOSAL_SORTS: dict[str, ColumnElement[Any]] = {
    "created_at": PoolProposal.created_at,
    "amount": PoolProposal.amount,
}
LEDGER_SORTS: dict[str, ColumnElement[Any]] = {
    "sequence": PoolLedgerEntry.sequence,
    "posted_on": PoolLedgerEntry.posted_on,
}
SHARE_SORTS: dict[str, ColumnElement[Any]] = {
    "approved_on": Grant.list_date,
    "share_amount": GrantFundingOrganisation.share_amount,
}
#: Members who may read a pool's books: those in it, and those who left (their commitments stand).
READERS = ("active", "left")


# Pools and members --------------------------------------------------------------------------


async def get_pool(
    session: AsyncSession, pool_id: uuid.UUID, *, for_update: bool = False
) -> Pool | None:
    """A pool; ``for_update`` takes a row lock (PostgreSQL ``SELECT ... FOR UPDATE``)."""
    stmt = select(Pool).where(Pool.id == pool_id)
    if for_update:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_member(
    session: AsyncSession, pool_id: uuid.UUID, funder_id: uuid.UUID, *, for_update: bool = False
) -> PoolMember | None:
    stmt = select(PoolMember).where(
        PoolMember.pool_id == pool_id, PoolMember.funder_id == funder_id
    )
    if for_update:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def members_of(
    session: AsyncSession, pool_id: uuid.UUID, *, statuses: tuple[str, ...] | None = None
) -> list[PoolMember]:
    stmt = select(PoolMember).where(PoolMember.pool_id == pool_id)
    if statuses is not None:
        stmt = stmt.where(PoolMember.status.in_(statuses))
    stmt = stmt.order_by(PoolMember.created_at, PoolMember.id)
    return list((await session.execute(stmt)).scalars())


async def list_pools(session: AsyncSession, query: ListQuery, *, funder_id: uuid.UUID) -> Page:
    """Pools the funder is in, was invited to, or left."""
    stmt = select(Pool).where(
        Pool.id.in_(select(PoolMember.pool_id).where(PoolMember.funder_id == funder_id))
    )
    f = query.filters
    if "id" in f:
        stmt = stmt.where(Pool.id.in_(parse_uuid_list("id", f["id"])))
    stmt = where_ids(stmt, f, {"host_funder_id": Pool.host_funder_id})
    if f.get("q"):
        stmt = stmt.where(func.lower(Pool.name).like(f"%{str(f['q']).lower()}%"))
    return await fetch_page(session, stmt, query, sort_columns=POOL_SORTS, id_column=Pool.id)


async def statuses_of(
    session: AsyncSession, pool_ids: list[uuid.UUID], funder_id: uuid.UUID
) -> dict[uuid.UUID, str]:
    stmt = select(PoolMember.pool_id, PoolMember.status).where(
        PoolMember.pool_id.in_(pool_ids), PoolMember.funder_id == funder_id
    )
    return {pool_id: status for pool_id, status in (await session.execute(stmt)).all()}


# Proposals and votes ------------------------------------------------------------------------


async def get_proposal(
    session: AsyncSession, pool_id: uuid.UUID, proposal_id: uuid.UUID, *, for_update: bool = False
) -> PoolProposal | None:
    stmt = select(PoolProposal).where(
        PoolProposal.id == proposal_id, PoolProposal.pool_id == pool_id
    )
    if for_update:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def list_proposals(session: AsyncSession, query: ListQuery, *, pool_id: uuid.UUID) -> Page:
    stmt = select(PoolProposal).where(PoolProposal.pool_id == pool_id)
    f = query.filters
    if "id" in f:
        stmt = stmt.where(PoolProposal.id.in_(parse_uuid_list("id", f["id"])))
    if "status" in f:
        stmt = stmt.where(
            PoolProposal.status.in_(filter_values("status", f["status"], PROPOSAL_STATUSES))
        )
    stmt = where_ids(
        stmt,
        f,
        {
            "partner_id": PoolProposal.partner_id,
            "pool_id": PoolProposal.pool_id,
            "proposed_by_funder_id": PoolProposal.proposed_by_funder_id,
            "grant_id": PoolProposal.grant_id,
        },
    )
    return await fetch_page(
        session, stmt, query, sort_columns=PROPOSAL_SORTS, id_column=PoolProposal.id
    )


async def votes_of(session: AsyncSession, proposal_ids: list[uuid.UUID]) -> list[PoolVote]:
    stmt = (
        select(PoolVote)
        .where(PoolVote.proposal_id.in_(proposal_ids))
        .order_by(PoolVote.created_at, PoolVote.id)
    )
    return list((await session.execute(stmt)).scalars())


async def get_vote(
    session: AsyncSession, proposal_id: uuid.UUID, funder_id: uuid.UUID
) -> PoolVote | None:
    stmt = select(PoolVote).where(
        PoolVote.proposal_id == proposal_id, PoolVote.funder_id == funder_id
    )
    return (await session.execute(stmt)).scalar_one_or_none()


# The ledger ---------------------------------------------------------------------------------


async def next_sequence(session: AsyncSession, pool_id: uuid.UUID) -> int:
    """The next entry number of a pool (call with the pool locked)."""
    stmt = select(func.coalesce(func.max(PoolLedgerEntry.sequence), 0)).where(
        PoolLedgerEntry.pool_id == pool_id
    )
    return int((await session.execute(stmt)).scalar_one()) + 1


async def get_entry(
    session: AsyncSession, pool_id: uuid.UUID, entry_id: uuid.UUID
) -> PoolLedgerEntry | None:
    stmt = select(PoolLedgerEntry).where(
        PoolLedgerEntry.id == entry_id, PoolLedgerEntry.pool_id == pool_id
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def reversal_of(session: AsyncSession, entry_id: uuid.UUID) -> PoolLedgerEntry | None:
    stmt = select(PoolLedgerEntry).where(PoolLedgerEntry.reverses_id == entry_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def reversed_ids(session: AsyncSession, entry_ids: list[uuid.UUID]) -> set[uuid.UUID]:
    stmt = select(PoolLedgerEntry.reverses_id).where(PoolLedgerEntry.reverses_id.in_(entry_ids))
    return {row for row in (await session.execute(stmt)).scalars() if row is not None}


async def list_entries(session: AsyncSession, query: ListQuery, *, pool_id: uuid.UUID) -> Page:
    stmt = select(PoolLedgerEntry).where(PoolLedgerEntry.pool_id == pool_id)
    f = query.filters
    if "id" in f:
        stmt = stmt.where(PoolLedgerEntry.id.in_(parse_uuid_list("id", f["id"])))
    if "kind" in f:
        stmt = stmt.where(PoolLedgerEntry.kind.in_(filter_values("kind", f["kind"], ENTRY_KINDS)))
    for name in ("funder_id", "grant_id", "pool_id"):
        if name in f:
            column = getattr(PoolLedgerEntry, name)
            stmt = stmt.where(column.in_(parse_uuid_list(name, f[name])))
    return await fetch_page(
        session, stmt, query, sort_columns=LEDGER_SORTS, id_column=PoolLedgerEntry.id
    )


def _sum_kind(kind: str, condition: ColumnElement[bool]) -> ColumnElement[Any]:
    return func.coalesce(
        func.sum(
            case((and_(PoolLedgerEntry.kind == kind, condition), PoolLedgerEntry.amount), else_=0)
        ),
        0,
    )


async def totals(session: AsyncSession, pool_id: uuid.UUID) -> dict[str, int]:
    """The pool's net totals by kind, over the whole ledger."""
    stmt = (
        select(PoolLedgerEntry.kind, func.sum(PoolLedgerEntry.amount))
        .where(PoolLedgerEntry.pool_id == pool_id)
        .group_by(PoolLedgerEntry.kind)
    )
    found = {kind: int(amount or 0) for kind, amount in (await session.execute(stmt)).all()}
    return {kind: found.get(kind, 0) for kind in ENTRY_KINDS}


async def contributions_by_member(
    session: AsyncSession, pool_id: uuid.UUID
) -> dict[uuid.UUID, int]:
    """Each member's net contributions received so far."""
    stmt = (
        select(PoolLedgerEntry.funder_id, func.sum(PoolLedgerEntry.amount))
        .where(PoolLedgerEntry.pool_id == pool_id, PoolLedgerEntry.kind == "contribution")
        .group_by(PoolLedgerEntry.funder_id)
    )
    return {funder: int(amount or 0) for funder, amount in (await session.execute(stmt)).all()}


async def pledge_received(session: AsyncSession, pledge_id: uuid.UUID) -> int:
    """Net contributions recorded against a pledge."""
    stmt = select(func.coalesce(func.sum(PoolLedgerEntry.amount), 0)).where(
        PoolLedgerEntry.pledge_id == pledge_id, PoolLedgerEntry.kind == "contribution"
    )
    return int((await session.execute(stmt)).scalar_one())


async def grant_outstanding(session: AsyncSession, grant_id: uuid.UUID) -> dict[uuid.UUID, int]:
    """Each member's committed-but-unpaid money on one pooled grant."""
    stmt = (
        select(
            PoolLedgerEntry.funder_id,
            _sum_kind("commitment", true()) - _sum_kind("payment", true()),
        )
        .where(PoolLedgerEntry.grant_id == grant_id)
        .group_by(PoolLedgerEntry.funder_id)
    )
    return {funder: int(amount) for funder, amount in (await session.execute(stmt)).all()}


def _statement_columns(start: date | None, end: date | None) -> list[Any]:
    in_period = and_(
        PoolLedgerEntry.posted_on >= start if start else true(),
        PoolLedgerEntry.posted_on <= end if end else true(),
    )
    before = PoolLedgerEntry.posted_on < start if start else false()
    to_end = PoolLedgerEntry.posted_on <= end if end else true()
    return [
        _sum_kind("pledge", in_period).label("pledged"),
        _sum_kind("contribution", in_period).label("contributions"),
        _sum_kind("commitment", in_period).label("commitments"),
        _sum_kind("payment", in_period).label("payments"),
        (_sum_kind("contribution", before) - _sum_kind("commitment", before)).label(
            "opening_available"
        ),
        (_sum_kind("contribution", to_end) - _sum_kind("commitment", to_end)).label(
            "closing_available"
        ),
        (_sum_kind("contribution", to_end) - _sum_kind("payment", to_end)).label("closing_cash"),
        (_sum_kind("commitment", to_end) - _sum_kind("payment", to_end)).label("closing_unpaid"),
        func.count(PoolLedgerEntry.id).filter(in_period).label("entries"),
    ]


async def statement(
    session: AsyncSession, pool_id: uuid.UUID, *, start: date | None, end: date | None
) -> tuple[Any, list[Any]]:
    """The pool's statement for a period, in total and per member: sums in the database."""
    columns = _statement_columns(start, end)
    where = PoolLedgerEntry.pool_id == pool_id
    total = (await session.execute(select(*columns).where(where))).one()
    per_member = (
        await session.execute(
            select(PoolLedgerEntry.funder_id, *columns)
            .where(where)
            .group_by(PoolLedgerEntry.funder_id)
            .order_by(PoolLedgerEntry.funder_id)
        )
    ).all()
    return total, list(per_member)


# Pooled grants and shares -------------------------------------------------------------------


async def list_pool_grants(session: AsyncSession, query: ListQuery, *, pool_id: uuid.UUID) -> Page:
    stmt = (
        select(Grant)
        .where(Grant.pool_id == pool_id)
        .options(selectinload(Grant.funding_organisations))
    )
    f = query.filters
    if "id" in f:
        stmt = stmt.where(Grant.id.in_(parse_uuid_list("id", f["id"])))
    stmt = where_ids(
        stmt,
        f,
        {"partner_id": Grant.partner_id, "funder_id": Grant.funder_id, "pool_id": Grant.pool_id},
    )
    return await fetch_page(
        session, stmt, query, sort_columns=GRANT_SORTS, id_column=Grant.id, row_key=grant_row_key
    )


async def list_shares(
    session: AsyncSession,
    query: ListQuery,
    *,
    funder_id: uuid.UUID | None = None,
    pool_ids: list[uuid.UUID] | None = None,
) -> Page:
    """Shares of pooled grants: (funding organisation row, grant) pairs."""
    stmt = (
        select(GrantFundingOrganisation, Grant)
        .join(Grant, Grant.id == GrantFundingOrganisation.grant_id)
        .where(Grant.pool_id.is_not(None))
    )
    if funder_id is not None:
        stmt = stmt.where(GrantFundingOrganisation.funder_id == funder_id)
    if pool_ids is not None:
        stmt = stmt.where(Grant.pool_id.in_(pool_ids))
    f = query.filters
    if "id" in f:
        stmt = stmt.where(
            or_(
                false(),
                *(
                    and_(
                        GrantFundingOrganisation.grant_id == grant_id,
                        GrantFundingOrganisation.funder_id == funder_id,
                    )
                    for grant_id, funder_id in parse_share_ids(f["id"])
                ),
            )
        )
    stmt = where_ids(stmt, f, {"partner_id": Grant.partner_id})
    if "pool_id" in f:
        stmt = stmt.where(Grant.pool_id.in_(parse_uuid_list("pool_id", f["pool_id"])))
    if "grant_id" in f:
        stmt = stmt.where(Grant.id.in_(parse_uuid_list("grant_id", f["grant_id"])))
    if "funder_id" in f:
        stmt = stmt.where(
            GrantFundingOrganisation.funder_id.in_(parse_uuid_list("funder_id", f["funder_id"]))
        )
    # A share is one (grant, funder) pair; ``id`` is ``<grant id>.<funder id>``.
    key = (GrantFundingOrganisation.grant_id, GrantFundingOrganisation.funder_id)
    sorts = [] if query.sort == "id" else [SHARE_SORTS[query.sort]]
    order = [c.desc() if query.descending else c.asc() for c in (*sorts, *key)]
    total = (
        await session.execute(select(func.count()).select_from(stmt.order_by(None).subquery()))
    ).scalar_one()
    rows = (
        await session.execute(stmt.order_by(*order).offset(query.start).limit(query.limit))
    ).all()
    return Page(list(rows), total, query.start, None)


def share_id(grant_id: uuid.UUID, funder_id: uuid.UUID) -> str:
    """The id of one member's share of one pooled grant."""
    return f"{grant_id}.{funder_id}"


def parse_share_ids(value: Any) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """Share ids (``<grant id>.<funder id>``) from a filter or a path; a malformed one is a 400."""
    values = value if isinstance(value, list) else [value]
    pairs = []
    for raw in values:
        grant, _, funder = str(raw).partition(".")
        try:
            pairs.append((uuid.UUID(grant), uuid.UUID(funder)))
        except ValueError as exc:
            raise BadRequest(
                "A share id is '<grant id>.<funder id>', as the shares list gives it.",
                slug="bad-list-parameter",
                errors={"id": ["is not a share id"]},
            ) from exc
    return pairs


async def get_share(session: AsyncSession, *, grant_id: uuid.UUID, funder_id: uuid.UUID) -> Any:
    """One (funding organisation row, grant) pair of a pooled grant, or ``None``."""
    stmt = (
        select(GrantFundingOrganisation, Grant)
        .join(Grant, Grant.id == GrantFundingOrganisation.grant_id)
        .where(
            Grant.pool_id.is_not(None),
            GrantFundingOrganisation.grant_id == grant_id,
            GrantFundingOrganisation.funder_id == funder_id,
        )
    )
    return (await session.execute(stmt)).first()


async def member_pool_ids(session: AsyncSession, funder_id: uuid.UUID) -> list[uuid.UUID]:
    stmt = select(PoolMember.pool_id).where(
        PoolMember.funder_id == funder_id, PoolMember.status.in_(READERS)
    )
    return list((await session.execute(stmt)).scalars())


async def partner_ids_of_pool(session: AsyncSession, pool_id: uuid.UUID) -> list[uuid.UUID]:
    """Every organisation the pool has made a grant to or had a proposal for (decided or
    not), in id order."""
    granted = select(Grant.partner_id).where(Grant.pool_id == pool_id)
    proposed = select(PoolProposal.partner_id).where(PoolProposal.pool_id == pool_id)
    union = granted.union(proposed).subquery()
    stmt = select(union.c.partner_id).order_by(union.c.partner_id)
    return list((await session.execute(stmt)).scalars())
