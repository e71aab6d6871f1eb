"""All SQL of finance: settings, budgets, the planned pipeline, and the forecast's sums.

The forecast is computed by the database: each of committed, paid, pipeline and
budget is one GROUP BY query over the funder's rows in the date range, keyed by
financial year (and month, partner, pool or currency). Python only merges the
already-summed groups.
"""

import uuid
from collections.abc import Sequence
from datetime import date
from typing import Any, Literal

from sqlalchemy import ColumnElement, Integer, case, cast, delete, extract, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.errors import BadRequest
from services.common.lists import ListQuery, Page, fetch_page, parse_uuid_list
from services.funding.finance.models import Budget, FinanceSetting, PlannedInstalment
from services.funding.grants.models import Grant, Instalment, Payment

GroupBy = Literal["partner", "pool", "currency", "month", "region"] | None


async def get_settings(
    session: AsyncSession, funder_id: uuid.UUID, *, for_update: bool = False
) -> FinanceSetting | None:
    query = select(FinanceSetting).where(FinanceSetting.funder_id == funder_id)
    if for_update:
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


# Budgets -----------------------------------------------------------------------------------


async def get_budget(
    session: AsyncSession, funder_id: uuid.UUID, budget_id: uuid.UUID
) -> Budget | None:
    return (
        await session.execute(
            select(Budget).where(Budget.id == budget_id, Budget.funder_id == funder_id)
        )
    ).scalar_one_or_none()


BUDGET_SORTS = {"financial_year": Budget.financial_year, "amount": Budget.amount}


async def list_budgets(session: AsyncSession, funder_id: uuid.UUID, query: ListQuery) -> Page:
    stmt = select(Budget).where(Budget.funder_id == funder_id)
    f = query.filters
    if "id" in f:
        stmt = stmt.where(Budget.id.in_(parse_uuid_list("id", f["id"])))
    if "financial_year" in f:
        stmt = stmt.where(Budget.financial_year == year_filter(f["financial_year"]))
    if "pool_id" in f:
        stmt = stmt.where(Budget.pool_id.in_(parse_uuid_list("pool_id", f["pool_id"])))
    if "funder_id" in f:
        stmt = stmt.where(Budget.funder_id.in_(parse_uuid_list("funder_id", f["funder_id"])))
    return await fetch_page(session, stmt, query, sort_columns=BUDGET_SORTS, id_column=Budget.id)


def year_filter(value: Any) -> int:
    try:
        return int(str(value))
    except ValueError:
        raise BadRequest(
            f"The 'financial_year' filter must be a year such as 2025, not {value!r}.",
            slug="bad-list-parameter",
            errors={"filter": ["financial_year must be a year such as 2025"]},
        ) from None


# The planned pipeline ----------------------------------------------------------------------


async def replace_plan(
    session: AsyncSession, grant: Grant, lines: Sequence[tuple[date, int]]
) -> None:
    await session.execute(delete(PlannedInstalment).where(PlannedInstalment.grant_id == grant.id))
    if lines:
        await session.execute(
            insert(PlannedInstalment),
            [
                {
                    "grant_id": grant.id,
                    "sequence": sequence,
                    "funder_id": grant.funder_id,
                    "partner_id": grant.partner_id,
                    "pool_id": grant.pool_id,
                    "due_date": due,
                    "amount": amount,
                    "currency": grant.currency,
                }
                for sequence, (due, amount) in enumerate(lines, start=1)
            ],
        )


# The forecast ------------------------------------------------------------------------------


def financial_year(day: Any, start_month: int) -> ColumnElement[int]:
    """The financial year (the calendar year it starts in) of a date column, in SQL."""
    year = extract("year", day)
    if start_month != 1:
        year = year - case((extract("month", day) < start_month, 1), else_=0)
    return cast(year, Integer)


def _key(group_by: GroupBy, *, day: Any, partner: Any, pool: Any) -> list[ColumnElement[Any]]:
    # Region lives in the partners service: the database sums by partner, and the service
    # adds up those partners' sums by the region the partners directory gives.
    if group_by in ("partner", "region"):
        return [partner.label("key")]
    if group_by == "pool":
        return [pool.label("key")]
    if group_by == "month":
        month = extract("year", day) * 100 + extract("month", day)
        return [cast(month, Integer).label("key")]
    return []


async def _sums(
    session: AsyncSession,
    *,
    amount: Any,
    day: Any,
    currency: Any,
    partner: Any,
    pool: Any,
    source: Any,
    where: Sequence[ColumnElement[bool]],
    start_month: int,
    group_by: GroupBy,
) -> list[Any]:
    fy = financial_year(day, start_month).label("financial_year")
    keys = [fy, currency.label("currency"), *_key(group_by, day=day, partner=partner, pool=pool)]
    stmt = select(*keys, func.sum(amount).label("total")).select_from(source).where(*where)
    stmt = stmt.group_by(*keys)
    return list((await session.execute(stmt)).all())


async def forecast_sums(
    session: AsyncSession,
    *,
    funder_id: uuid.UUID,
    begins: date,
    ends_before: date,
    start_month: int,
    group_by: GroupBy,
) -> dict[str, list[Any]]:
    """Committed, paid and pipeline sums by (financial year, currency[, key]), in SQL."""
    committed = await _sums(
        session,
        amount=Instalment.amount,
        day=Instalment.due_date,
        currency=Instalment.currency,
        partner=Instalment.partner_id,
        pool=Grant.pool_id,
        source=Instalment.__table__.join(Grant.__table__, Grant.id == Instalment.grant_id),
        where=[
            Instalment.funder_id == funder_id,
            Instalment.status == "scheduled",
            Grant.status.in_(("approved", "active")),
            Instalment.due_date >= begins,
            Instalment.due_date < ends_before,
        ],
        start_month=start_month,
        group_by=group_by,
    )
    paid = await _sums(
        session,
        amount=Payment.amount,
        day=Payment.paid_on,
        currency=Payment.currency,
        partner=Payment.partner_id,
        pool=Grant.pool_id,
        source=Payment.__table__.join(Grant.__table__, Grant.id == Payment.grant_id),
        where=[
            Payment.funder_id == funder_id,
            Payment.paid_on >= begins,
            Payment.paid_on < ends_before,
        ],
        start_month=start_month,
        group_by=group_by,
    )
    pipeline = await _sums(
        session,
        amount=PlannedInstalment.amount,
        day=PlannedInstalment.due_date,
        currency=PlannedInstalment.currency,
        partner=PlannedInstalment.partner_id,
        pool=PlannedInstalment.pool_id,
        source=PlannedInstalment.__table__,
        where=[
            PlannedInstalment.funder_id == funder_id,
            PlannedInstalment.due_date >= begins,
            PlannedInstalment.due_date < ends_before,
        ],
        start_month=start_month,
        group_by=group_by,
    )
    return {"committed": committed, "paid": paid, "pipeline": pipeline}


async def budget_sums(
    session: AsyncSession, *, funder_id: uuid.UUID, from_year: int, to_year: int
) -> list[Any]:
    """Budgets by (financial year, scope, pool, currency)."""
    stmt = (
        select(
            Budget.financial_year,
            Budget.scope,
            Budget.pool_id,
            Budget.currency,
            func.sum(Budget.amount).label("total"),
        )
        .where(
            Budget.funder_id == funder_id,
            Budget.financial_year >= from_year,
            Budget.financial_year <= to_year,
        )
        .group_by(Budget.financial_year, Budget.scope, Budget.pool_id, Budget.currency)
    )
    return list((await session.execute(stmt)).all())


# Papers for a trustee meeting --------------------------------------------------------------

PAPER_LIMIT = 5000


async def proposals(session: AsyncSession, funder_id: uuid.UUID) -> list[Grant]:
    """The funder's own proposed grants, oldest first (a board paper's order)."""
    stmt = (
        select(Grant)
        .where(Grant.funder_id == funder_id, Grant.status == "proposed")
        .order_by(Grant.created_at, Grant.id)
        .limit(PAPER_LIMIT)
    )
    return list((await session.execute(stmt)).scalars())


async def proposal_years(
    session: AsyncSession, *, funder_id: uuid.UUID, start_month: int
) -> list[Any]:
    """What the proposals would pay, by financial year and currency (their planned schedule)."""
    fy = financial_year(PlannedInstalment.due_date, start_month).label("financial_year")
    stmt = (
        select(fy, PlannedInstalment.currency, func.sum(PlannedInstalment.amount).label("total"))
        .join(Grant, Grant.id == PlannedInstalment.grant_id)
        .where(PlannedInstalment.funder_id == funder_id, Grant.status == "proposed")
        .group_by(fy, PlannedInstalment.currency)
        .order_by(fy, PlannedInstalment.currency)
    )
    return list((await session.execute(stmt)).all())


async def _grant_totals(session: AsyncSession, key: Any, *where: Any) -> list[Any]:
    """Grants by ``key`` and currency: how many, and their awards."""
    stmt = (
        select(
            key,
            Grant.currency,
            func.count().label("count"),
            func.sum(Grant.amount_awarded).label("total"),
        )
        .where(*where)
        .group_by(key, Grant.currency)
        .order_by(key, Grant.currency)
    )
    return list((await session.execute(stmt)).all())


async def proposal_partner_totals(session: AsyncSession, funder_id: uuid.UUID) -> list[Any]:
    """The proposals by partner and currency: how many, and what they would award."""
    return await _grant_totals(
        session, Grant.partner_id, Grant.funder_id == funder_id, Grant.status == "proposed"
    )


async def status_totals(session: AsyncSession, funder_id: uuid.UUID) -> list[Any]:
    """Grants by status and currency: how many, and their awards."""
    return await _grant_totals(session, Grant.status, Grant.funder_id == funder_id)
