"""All SQL of core grants, instalments, payments and variations."""

import uuid
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, Select, bindparam, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload, selectinload

from services.common.db import DriverRead
from services.common.errors import BadRequest
from services.common.jsontext import json_columns
from services.common.lists import (
    ListQuery,
    Page,
    fetch_page,
    filter_flag,
    filter_values,
    filters_key,
    kept_statement,
    parse_uuid_list,
    where_ids,
)
from services.common.listscale import related_ids
from services.funding.grants.models import (
    GRANT_STATUSES,
    INSTALMENT_STATUSES,
    VARIATION_KINDS,
    Grant,
    GrantFundingOrganisation,
    Instalment,
    Payment,
    Variation,
)


class GrantRead(NamedTuple):
    """A grant read for answering (not for changing): its row and its funding organisations."""

    grant: Any  # a row of the grant's columns (attribute access), not an ORM object
    funder_ids: list[uuid.UUID]


GRANT_SORTS: dict[str, ColumnElement[Any]] = {
    "awarded_on": Grant.list_date,
    "amount_awarded": Grant.amount_awarded,
    "planned_start_date": Grant.planned_start_date,
    "planned_end_date": Grant.planned_end_date,
    "created_at": Grant.created_at,
}
INSTALMENT_SORTS: dict[str, ColumnElement[Any]] = {
    "due_date": Instalment.due_date,
    "amount": Instalment.amount,
    "created_at": Instalment.created_at,
}
PAYMENT_SORTS: dict[str, ColumnElement[Any]] = {
    "paid_on": Payment.paid_on,
    "amount": Payment.amount,
    "created_at": Payment.created_at,
}
VARIATION_SORTS: dict[str, ColumnElement[Any]] = {
    "decided_on": Variation.decided_on,
    "created_at": Variation.created_at,
}


def _year(name: str, value: Any) -> tuple[date, date]:
    try:
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise TypeError(value)
        year = int(value)
        return date(year, 1, 1), date(year, 12, 31)
    except (TypeError, ValueError, OverflowError) as exc:
        raise BadRequest(
            f"The '{name}' filter takes a year such as 2025.",
            slug="bad-list-parameter",
            errors={"filter": [f"{name} must be a year"]},
        ) from exc


def _scope(stmt: Select[Any], model: Any, *, funder_id: uuid.UUID | None, partner_id: Any) -> Any:
    if funder_id is not None:
        stmt = stmt.where(model.funder_id == funder_id)
    if partner_id is not None:
        stmt = stmt.where(model.partner_id == partner_id)
    return stmt


def overdue_clause(today: date) -> ColumnElement[bool]:
    """An instalment still unpaid after its due date."""
    return (Instalment.status == "scheduled") & (Instalment.due_date < today)


# Grants ------------------------------------------------------------------------------------


async def get_grant(
    session: AsyncSession, grant_id: uuid.UUID, *, for_update: bool = False
) -> Grant | None:
    if for_update:
        # FOR UPDATE cannot lock the nullable side of an outer join on PostgreSQL: lock the
        # grant, then read its funding organisations.
        stmt = select(Grant).options(selectinload(Grant.funding_organisations))
        stmt = stmt.where(Grant.id == grant_id).with_for_update()
        return (await session.execute(stmt)).scalar_one_or_none()
    stmt = select(Grant).options(joinedload(Grant.funding_organisations))
    stmt = stmt.where(Grant.id == grant_id)
    return (await session.execute(stmt)).unique().scalar_one_or_none()


_grants = Grant.__table__
_orgs = GrantFundingOrganisation.__table__
# Compiled once, run on the driver connection (``DriverRead``): the hottest read there is.
_READ_GRANT = DriverRead(
    select(_grants, _orgs.c.funder_id.label("org_funder_id"))
    .outerjoin(_orgs, _orgs.c.grant_id == _grants.c.id)
    .where(_grants.c.id == bindparam("grant_id"))
    .order_by(_orgs.c.position)
)


# What a list of grants reads of each: its columns, its dates, times and ids as the text
# their JSON shows (``json_text``: a page's rows are only written out).
_LISTED = json_columns(_grants.c)
# The funding organisations of each grant of a list page, read in the page's statement.
_FUNDER_IDS = related_ids(
    _orgs.c.funder_id,
    where=_orgs.c.grant_id == _grants.c.id,
    position=_orgs.c.position,
    name="funder_ids",
)


async def read_grant(session: AsyncSession, grant_id: uuid.UUID) -> GrantRead | None:
    """A grant and the funders named as its funding organisations, in one query (one round
    trip), as plain rows: for reads, which change nothing and need no ORM object."""
    rows = await _READ_GRANT.rows(session, grant_id=grant_id)
    if not rows:
        return None
    return GrantRead(rows[0], [r.org_funder_id for r in rows if r.org_funder_id is not None])


async def reference_taken(session: AsyncSession, *, funder_id: uuid.UUID, reference: str) -> bool:
    stmt = select(exists().where(Grant.funder_id == funder_id, Grant.reference == reference))
    return bool((await session.execute(stmt)).scalar())


async def list_grants(
    session: AsyncSession,
    query: ListQuery,
    *,
    today: date,
    funder_id: uuid.UUID | None = None,
    partner_id: uuid.UUID | None = None,
    awarded_only: bool = False,
) -> Page:
    """A page of grants as plain rows (no ORM objects), each with its ``funder_ids`` read
    in the page's own statement."""
    f = query.filters
    overdue = "overdue" in f
    stmt = kept_statement(
        ("grants", funder_id, partner_id, awarded_only, filters_key(f), today if overdue else None),
        lambda: _grants_statement(
            f, today=today, funder_id=funder_id, partner_id=partner_id, awarded_only=awarded_only
        ),
    )
    return await fetch_page(
        session,
        stmt,
        query,
        sort_columns=GRANT_SORTS,
        id_column=Grant.id,
        row_key=grant_row_key,
        # Which grants are overdue changes with instalments and the day: no anchors then.
        versioned=None if overdue else "grants",
        columns=[_FUNDER_IDS],
    )


def _grants_statement(
    f: dict[str, Any],
    *,
    today: date,
    funder_id: uuid.UUID | None,
    partner_id: uuid.UUID | None,
    awarded_only: bool,
) -> Select[Any]:
    """The grants a list shows: the caller's scope, narrowed by the filters ``f``."""
    stmt = _scope(select(*_LISTED), Grant, funder_id=funder_id, partner_id=partner_id)
    if awarded_only:
        stmt = stmt.where(Grant.approved_on.is_not(None))
    if "id" in f:
        stmt = stmt.where(Grant.id.in_(parse_uuid_list("id", f["id"])))
    stmt = where_ids(stmt, f, {"funder_id": Grant.funder_id})
    if "partner_id" in f:
        stmt = stmt.where(Grant.partner_id.in_(parse_uuid_list("partner_id", f["partner_id"])))
    if "status" in f:
        stmt = stmt.where(Grant.status.in_(filter_values("status", f["status"], GRANT_STATUSES)))
    if "year" in f:
        first, last = _year("year", f["year"])
        stmt = stmt.where(Grant.approved_on.between(first, last))
    if "pool_id" in f:
        stmt = stmt.where(Grant.pool_id.in_(parse_uuid_list("pool_id", f["pool_id"])))
    if "overdue" in f:
        late = exists().where(Instalment.grant_id == Grant.id, overdue_clause(today))
        stmt = stmt.where(late if filter_flag("overdue", f["overdue"]) else ~late)
    if f.get("q"):
        needle = f"%{str(f['q']).lower()}%"
        stmt = stmt.where(func.lower(Grant.title).like(needle) | (Grant.reference == f["q"]))
    return stmt


def grant_row_key(row: Any, sort: str) -> tuple[Any, Any]:
    """The keyset position of a grant in a list sorted by ``sort``."""
    column = {"awarded_on": "list_date"}.get(sort, sort)
    # A list's dates, times and ids may be their text (``json_text``): a cursor takes either.
    return getattr(row, column), row.id


async def add_funding_organisation(
    session: AsyncSession, *, grant_id: uuid.UUID, funder_id: uuid.UUID, position: int = 0
) -> None:
    session.add(GrantFundingOrganisation(grant_id=grant_id, funder_id=funder_id, position=position))


# Instalments -------------------------------------------------------------------------------


async def instalments_of(
    session: AsyncSession, grant_id: uuid.UUID, *, include_cancelled: bool = True
) -> list[Instalment]:
    stmt = select(Instalment).where(Instalment.grant_id == grant_id)
    if not include_cancelled:
        stmt = stmt.where(Instalment.status != "cancelled")
    stmt = stmt.order_by(Instalment.sequence)
    return list((await session.execute(stmt)).scalars())


async def next_sequence(session: AsyncSession, grant_id: uuid.UUID) -> int:
    stmt = select(func.coalesce(func.max(Instalment.sequence), 0)).where(
        Instalment.grant_id == grant_id
    )
    return int((await session.execute(stmt)).scalar_one()) + 1


async def get_instalment(
    session: AsyncSession, instalment_id: uuid.UUID, *, for_update: bool = False
) -> Instalment | None:
    stmt = select(Instalment).where(Instalment.id == instalment_id)
    if for_update:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def list_instalments(
    session: AsyncSession,
    query: ListQuery,
    *,
    today: date,
    funder_id: uuid.UUID | None = None,
    partner_id: uuid.UUID | None = None,
) -> Page:
    stmt = _scope(select(Instalment), Instalment, funder_id=funder_id, partner_id=partner_id)
    if partner_id is not None:
        stmt = stmt.where(
            exists().where(Grant.id == Instalment.grant_id, Grant.approved_on.is_not(None))
        )
    f = query.filters
    if "id" in f:
        stmt = stmt.where(Instalment.id.in_(parse_uuid_list("id", f["id"])))
    stmt = where_ids(stmt, f, {"funder_id": Instalment.funder_id})
    if "grant_id" in f:
        stmt = stmt.where(Instalment.grant_id.in_(parse_uuid_list("grant_id", f["grant_id"])))
    if "partner_id" in f:
        stmt = stmt.where(Instalment.partner_id.in_(parse_uuid_list("partner_id", f["partner_id"])))
    if "status" in f:
        stmt = stmt.where(
            Instalment.status.in_(filter_values("status", f["status"], INSTALMENT_STATUSES))
        )
    if "year" in f:
        first, last = _year("year", f["year"])
        stmt = stmt.where(Instalment.due_date.between(first, last))
    if "overdue" in f:
        clause = overdue_clause(today)
        stmt = stmt.where(clause if filter_flag("overdue", f["overdue"]) else ~clause)
    return await fetch_page(
        session,
        stmt,
        query,
        sort_columns=INSTALMENT_SORTS,
        id_column=Instalment.id,
        # Which instalments are overdue changes by the day; a partner's depend on grants.
        versioned=None
        if "overdue" in f
        else ("instalments" if partner_id is None else ("grants", "instalments")),
    )


#: The notices the periodic check sends once per instalment (and due date): their clause
#: and the column that records that the notice went.
NOTICES = ("overdue", "due_soon")


def _notice(kind: str, today: date, *, days: int) -> tuple[ColumnElement[bool], Any]:
    if kind == "overdue":
        return overdue_clause(today), Instalment.overdue_notified_at
    soon = (
        (Instalment.status == "scheduled")
        & (Instalment.due_date >= today)
        & (Instalment.due_date <= today + timedelta(days=days))
    )
    return soon, Instalment.due_soon_notified_at


async def due_for_notice(
    session: AsyncSession, kind: str, *, today: date, days: int, limit: int, lock: bool
) -> list[Instalment]:
    """Instalments of live grants that need the ``instalment.<kind>`` notice not yet emitted:
    ``overdue`` (unpaid after the due date) or ``due_soon`` (due within ``days``)."""
    clause, column = _notice(kind, today, days=days)
    stmt = (
        select(Instalment)
        .where(clause, column.is_(None))
        .where(
            exists().where(
                Grant.id == Instalment.grant_id, Grant.status.in_(("approved", "active"))
            )
        )
        .order_by(Instalment.due_date, Instalment.id)
        .limit(limit)
    )
    if lock:
        stmt = stmt.with_for_update(skip_locked=True)
    return list((await session.execute(stmt)).scalars())


async def mark_notified(
    session: AsyncSession, kind: str, ids: Sequence[uuid.UUID], at: datetime
) -> None:
    column = _notice(kind, at.date(), days=0)[1]
    await session.execute(
        update(Instalment)
        .where(Instalment.id.in_(ids))
        .values({column: at})
        .execution_options(synchronize_session=False)
    )


# Payments ----------------------------------------------------------------------------------


async def payment_of(session: AsyncSession, instalment_id: uuid.UUID) -> Payment | None:
    stmt = select(Payment).where(Payment.instalment_id == instalment_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_payment(session: AsyncSession, payment_id: uuid.UUID) -> Payment | None:
    return await session.get(Payment, payment_id)


async def amount_paid(session: AsyncSession, grant_id: uuid.UUID) -> int:
    stmt = select(func.coalesce(func.sum(Payment.amount), 0)).where(Payment.grant_id == grant_id)
    return int((await session.execute(stmt)).scalar_one())


async def list_payments(
    session: AsyncSession,
    query: ListQuery,
    *,
    funder_id: uuid.UUID | None = None,
    partner_id: uuid.UUID | None = None,
) -> Page:
    stmt = _scope(select(Payment), Payment, funder_id=funder_id, partner_id=partner_id)
    f = query.filters
    if "id" in f:
        stmt = stmt.where(Payment.id.in_(parse_uuid_list("id", f["id"])))
    stmt = where_ids(stmt, f, {"funder_id": Payment.funder_id})
    if "grant_id" in f:
        stmt = stmt.where(Payment.grant_id.in_(parse_uuid_list("grant_id", f["grant_id"])))
    if "instalment_id" in f:
        stmt = stmt.where(
            Payment.instalment_id.in_(parse_uuid_list("instalment_id", f["instalment_id"]))
        )
    if "partner_id" in f:
        stmt = stmt.where(Payment.partner_id.in_(parse_uuid_list("partner_id", f["partner_id"])))
    if "year" in f:
        first, last = _year("year", f["year"])
        stmt = stmt.where(Payment.paid_on.between(first, last))
    if "overdue" in f:
        late = Payment.paid_on > Payment.due_date
        stmt = stmt.where(late if filter_flag("overdue", f["overdue"]) else ~late)
    return await fetch_page(
        session,
        stmt,
        query,
        sort_columns=PAYMENT_SORTS,
        id_column=Payment.id,
        versioned="payments",
    )


# Variations --------------------------------------------------------------------------------


async def get_variation(session: AsyncSession, variation_id: uuid.UUID) -> Variation | None:
    return await session.get(Variation, variation_id)


async def variations_of(session: AsyncSession, grant_id: uuid.UUID) -> list[Variation]:
    stmt = (
        select(Variation)
        .where(Variation.grant_id == grant_id)
        .order_by(Variation.created_at, Variation.id)
    )
    return list((await session.execute(stmt)).scalars())


async def list_variations(
    session: AsyncSession,
    query: ListQuery,
    *,
    funder_id: uuid.UUID | None = None,
    partner_id: uuid.UUID | None = None,
) -> Page:
    stmt = _scope(select(Variation), Variation, funder_id=funder_id, partner_id=partner_id)
    f = query.filters
    if "id" in f:
        stmt = stmt.where(Variation.id.in_(parse_uuid_list("id", f["id"])))
    stmt = where_ids(stmt, f, {"funder_id": Variation.funder_id})
    if "grant_id" in f:
        stmt = stmt.where(Variation.grant_id.in_(parse_uuid_list("grant_id", f["grant_id"])))
    if "partner_id" in f:
        stmt = stmt.where(Variation.partner_id.in_(parse_uuid_list("partner_id", f["partner_id"])))
    if "kind" in f:
        stmt = stmt.where(Variation.kind.in_(filter_values("kind", f["kind"], VARIATION_KINDS)))
    if "year" in f:
        first, last = _year("year", f["year"])
        stmt = stmt.where(Variation.decided_on.between(first, last))
    return await fetch_page(
        session, stmt, query, sort_columns=VARIATION_SORTS, id_column=Variation.id
    )
