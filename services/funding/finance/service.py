"""The rules of finance: the financial year, budgets, the approval limit, the forecast.

Only a person with the ``finance`` role (on top of ``funder_staff``) changes the
financial year, the approval limit or budgets; any of the funder's staff reads
them and the forecast.
"""

import uuid
from collections.abc import Iterator
from datetime import date
from types import SimpleNamespace
from typing import Any, NamedTuple

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.common import audit
from services.common.auth import Caller
from services.common.concurrency import check_if_match
from services.common.errors import Conflict, Forbidden, NotFound, Unprocessable
from services.common.http import ServiceClient
from services.common.lists import ListQuery, Page
from services.funding.finance import repository
from services.funding.finance.models import ALL_FUNDING, Budget, FinanceSetting
from services.funding.finance.schemas import (
    BudgetCreate,
    BudgetUpdate,
    FinanceSettingsUpdate,
    Forecast,
    ForecastRow,
    ForecastYear,
    GroupBy,
    PaperProposal,
    PaperRegion,
    PaperStatus,
    PaperYear,
    TrusteePapers,
)
from services.funding.grants.models import Grant
from services.funding.grants.schedule import add_months, default_schedule, describe

#: A funder that has not chosen: the UK charity default, April to March.
DEFAULT_YEAR_START = 4
MAX_YEARS = 30


def _funder(caller: Caller) -> uuid.UUID:
    assert caller.funder_id is not None
    return caller.funder_id


def _finance(caller: Caller, doing: str) -> uuid.UUID:
    if not (caller.has("finance") and caller.has("funder_staff") and caller.funder_id):
        raise Forbidden(f"{doing} needs the finance role of your funder.")
    return caller.funder_id


async def get_settings(*, session: AsyncSession, funder_id: uuid.UUID) -> FinanceSetting:
    settings = await repository.get_settings(session, funder_id)
    return settings or FinanceSetting(
        funder_id=funder_id,
        year_start_month=DEFAULT_YEAR_START,
        approval_limit=None,
        approval_limit_currency=None,
        debtor_name=None,
        debtor_iban=None,
        debtor_bic=None,
        version=0,
    )


async def update_settings(
    *, session: AsyncSession, caller: Caller, data: FinanceSettingsUpdate, if_match: str | None
) -> FinanceSetting:
    """Set the financial year's first month and the staff approval limit (finance only)."""
    funder_id = _finance(caller, "Changing the financial year or the approval limit")
    if (data.approval_limit is None) != (data.approval_limit_currency is None):
        raise Unprocessable(
            "Give approval_limit and approval_limit_currency together (or neither, for no limit).",
            errors={"approval_limit_currency": ["give it with approval_limit"]},
        )
    settings = await repository.get_settings(session, funder_id, for_update=True)
    if settings is None:
        check_if_match(if_match, SimpleNamespace(version=0))
        settings = FinanceSetting(funder_id=funder_id, version=1)
        session.add(settings)
    else:
        check_if_match(if_match, settings)
    before = {
        "year_start_month": settings.year_start_month,
        "approval_limit": settings.approval_limit,
        "approval_limit_currency": settings.approval_limit_currency,
    }
    settings.year_start_month = data.year_start_month
    settings.approval_limit = data.approval_limit
    settings.approval_limit_currency = data.approval_limit_currency
    settings.debtor_name = data.debtor_name
    settings.debtor_iban = data.debtor_iban
    settings.debtor_bic = data.debtor_bic
    await session.flush()
    audit.record(
        session,
        caller=caller,
        action="update",
        entity_type="finance_settings",
        entity_id=funder_id,
        changes={"before": before, "after": data.model_dump(mode="json")},
    )
    return settings


async def check_approval_limit(*, session: AsyncSession, caller: Caller, grant: Grant) -> None:
    """Above the approver's limit, only a person with the trustee role approves: a person's
    own decision limit (set on their membership) if they have one, else the funder's staff
    approval limit."""
    if caller.has("trustee"):
        return
    own = caller.decision_limit
    if own is not None:
        amount, currency = own
        whose = "your funder lets you approve (your decision limit)"
    else:
        settings = await repository.get_settings(session, grant.funder_id)
        if settings is None or settings.approval_limit is None:
            return
        amount, currency = settings.approval_limit, settings.approval_limit_currency or "GBP"
        whose = "your funder lets its staff approve"
    same = currency == grant.currency
    if same and grant.amount_awarded <= amount:
        return
    raise Forbidden(
        f"This award of {describe(grant.amount_awarded, grant.currency)} is above the "
        f"{describe(amount, currency)} {whose}"
        + ("" if same else " (or in another currency)")
        + ": a person with the trustee role must record the trustees' decision.",
        slug="above-approval-limit",
        title="Above the staff approval limit",
    )


# The planned pipeline ----------------------------------------------------------------------


async def replan(*, session: AsyncSession, grant: Grant) -> None:
    """Keep a proposed grant's planned schedule (the forecast's pipeline) up to date; an
    awarded or withdrawn grant has none. A custom frequency is planned as annual."""
    lines: list[tuple[date, int]] = []
    if grant.status == "proposed":
        frequency = "annual" if grant.payment_frequency == "custom" else grant.payment_frequency
        lines = default_schedule(
            grant.amount_awarded, grant.planned_start_date, grant.planned_end_date, frequency
        )
    await repository.replace_plan(session, grant, lines)


# Budgets -----------------------------------------------------------------------------------


async def create_budget(*, session: AsyncSession, caller: Caller, data: BudgetCreate) -> Budget:
    funder_id = _finance(caller, "Setting a budget")
    budget = Budget(
        funder_id=funder_id,
        financial_year=data.financial_year,
        pool_id=data.pool_id,
        scope=str(data.pool_id) if data.pool_id else ALL_FUNDING,
        currency=data.currency,
        amount=data.amount,
        notes=data.notes,
    )
    session.add(budget)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise Conflict(
            f"There is already a {data.currency} budget for {data.financial_year}"
            + (" for this pool" if data.pool_id else "")
            + ": change that one (PUT) instead.",
            slug="budget-exists",
        ) from None
    audit.record(
        session,
        caller=caller,
        action="create",
        entity_type="budget",
        entity_id=budget.id,
        changes=data.model_dump(mode="json"),
    )
    return budget


async def get_budget(*, session: AsyncSession, caller: Caller, budget_id: uuid.UUID) -> Budget:
    budget = await repository.get_budget(session, _funder(caller), budget_id)
    if budget is None:
        raise NotFound("No such budget.")
    return budget


async def update_budget(
    *,
    session: AsyncSession,
    caller: Caller,
    budget_id: uuid.UUID,
    data: BudgetUpdate,
    if_match: str | None,
) -> Budget:
    _finance(caller, "Changing a budget")
    budget = await get_budget(session=session, caller=caller, budget_id=budget_id)
    check_if_match(if_match, budget)
    changes = data.model_dump(exclude_unset=True, mode="json")
    for name, value in changes.items():
        if name == "amount" and value is None:
            raise Unprocessable("amount cannot be empty.", errors={"amount": ["required"]})
        setattr(budget, name, value)
    await session.flush()
    audit.record(
        session,
        caller=caller,
        action="update",
        entity_type="budget",
        entity_id=budget.id,
        changes=changes,
    )
    return budget


async def delete_budget(*, session: AsyncSession, caller: Caller, budget_id: uuid.UUID) -> Budget:
    _finance(caller, "Removing a budget")
    budget = await get_budget(session=session, caller=caller, budget_id=budget_id)
    await session.delete(budget)
    await session.flush()
    audit.record(session, caller=caller, action="delete", entity_type="budget", entity_id=budget.id)
    return budget


async def list_budgets(*, session: AsyncSession, caller: Caller, query: ListQuery) -> Page:
    return await repository.list_budgets(session, _funder(caller), query)


# The forecast ------------------------------------------------------------------------------


def year_bounds(year: int, start_month: int) -> tuple[date, date]:
    """The first day of financial year ``year`` and the first day of the next one."""
    first = date(year, start_month, 1)
    return first, add_months(first, 12)


def year_label(year: int, start_month: int) -> str:
    return str(year) if start_month == 1 else f"{year}-{(year + 1) % 100:02d}"


class _Group(NamedTuple):
    """A summed group as the database answers one: year, currency, key, total."""

    financial_year: int
    currency: str
    key: Any
    total: int


async def partner_regions(
    *, partners: ServiceClient, funder_id: uuid.UUID
) -> dict[uuid.UUID, str | None]:
    """Each partner's region as the partners directory gives it to this funder (only once
    the organisation shares with the funder; the funding service holds no region)."""
    summaries = await partners.get_json(f"/internal/funders/{funder_id}/partners")
    return {uuid.UUID(p["id"]): p.get("region") or None for p in summaries}


def _by_region(groups: list[Any], regions: dict[uuid.UUID, str | None]) -> list[_Group]:
    """Per-partner sums as per-region groups (``_merge`` adds up those of one region)."""
    return [
        _Group(g.financial_year, g.currency, regions.get(uuid.UUID(str(g.key))), int(g.total))
        for g in groups
    ]


async def forecast(
    *,
    session: AsyncSession,
    caller: Caller,
    partners: ServiceClient,
    from_year: int,
    to_year: int,
    group_by: GroupBy | None,
) -> Forecast:
    """Committed, paid and pipeline per financial year (and group), against budget."""
    funder_id = _funder(caller)
    if to_year < from_year or to_year - from_year >= MAX_YEARS:
        raise Unprocessable(
            f"Ask for 1 to {MAX_YEARS} financial years: to_year must be from from_year "
            f"({from_year}) to {from_year + MAX_YEARS - 1}.",
            errors={"to_year": [f"between {from_year} and {from_year + MAX_YEARS - 1}"]},
        )
    settings = await get_settings(session=session, funder_id=funder_id)
    start_month = settings.year_start_month
    begins, _ = year_bounds(from_year, start_month)
    _, ends_before = year_bounds(to_year, start_month)
    sums = await repository.forecast_sums(
        session,
        funder_id=funder_id,
        begins=begins,
        ends_before=ends_before,
        start_month=start_month,
        group_by=group_by,
    )
    if group_by == "region":
        regions = await partner_regions(partners=partners, funder_id=funder_id)
        sums = {measure: _by_region(groups, regions) for measure, groups in sums.items()}
    budgets = await repository.budget_sums(
        session, funder_id=funder_id, from_year=from_year, to_year=to_year
    )
    whole = {
        (b.financial_year, b.currency): int(b.total) for b in budgets if b.scope == ALL_FUNDING
    }
    by_pool = {
        (b.financial_year, b.currency, str(b.pool_id)): int(b.total)
        for b in budgets
        if b.pool_id is not None
    }
    years = list(_years(sums, whole, start_month))
    rows = list(_rows(sums, by_pool, group_by))
    return Forecast(
        from_year=from_year,
        to_year=to_year,
        year_start_month=start_month,
        group_by=group_by,
        years=years,
        rows=rows,
    )


def _merge(sums: dict[str, list[Any]], width: int) -> dict[tuple[Any, ...], dict[str, int]]:
    """Already-summed groups of each measure, side by side by their first ``width`` keys
    (year totals add up the groups of a finer grouping: no second round of queries)."""
    merged: dict[tuple[Any, ...], dict[str, int]] = {}
    for measure, groups in sums.items():
        for group in groups:
            key = tuple(group[:width])
            merged.setdefault(key, {"committed": 0, "paid": 0, "pipeline": 0})[measure] += int(
                group.total
            )
    return merged


def _years(
    totals: dict[str, list[Any]], budgets: dict[tuple[int, str], int], start_month: int
) -> Iterator[ForecastYear]:
    merged = _merge(totals, 2)
    for year, currency in budgets:
        merged.setdefault((year, currency), {"committed": 0, "paid": 0, "pipeline": 0})
    for (year, currency), m in sorted(merged.items()):
        first, after = year_bounds(int(year), start_month)
        budget = budgets.get((year, currency))
        yield ForecastYear(
            financial_year=int(year),
            label=year_label(int(year), start_month),
            starts_on=first,
            ends_on=date.fromordinal(after.toordinal() - 1),
            currency=currency,
            budget=budget,
            headroom=None
            if budget is None
            else budget - m["committed"] - m["paid"] - m["pipeline"],
            **m,
        )


def _key_text(group_by: GroupBy | None, value: Any) -> str | None:
    if value is None:
        return None
    if group_by == "month":
        number = int(value)
        return f"{number // 100:04d}-{number % 100:02d}"
    return str(value)


def _rows(
    sums: dict[str, list[Any]],
    pool_budgets: dict[tuple[int, str, str], int],
    group_by: GroupBy | None,
) -> Iterator[ForecastRow]:
    width = 2 if group_by in (None, "currency") else 3
    merged = _merge(sums, width)
    if group_by == "pool":
        for year, currency, pool in pool_budgets:
            merged.setdefault(
                (year, currency, uuid.UUID(pool)), {"committed": 0, "paid": 0, "pipeline": 0}
            )
    for key, m in sorted(merged.items(), key=lambda item: tuple(str(k) for k in item[0])):
        year, currency = int(key[0]), key[1]
        text = _key_text(group_by, key[2]) if width == 3 else None
        budget = pool_budgets.get((year, currency, text or "")) if group_by == "pool" else None
        yield ForecastRow(financial_year=year, currency=currency, key=text, budget=budget, **m)


CSV_COLUMNS = ["financial_year", "currency", "key", "budget", "committed", "paid", "pipeline"]


def forecast_csv(result: Forecast) -> Iterator[list[Any]]:
    """The forecast's rows for CSV (amounts in minor units), one line per group."""
    yield [*CSV_COLUMNS[:2], result.group_by or "group", *CSV_COLUMNS[3:]]
    for row in result.rows:
        yield [getattr(row, c) for c in CSV_COLUMNS]


# Papers for a trustee meeting --------------------------------------------------------------


async def trustee_papers(
    *, session: AsyncSession, caller: Caller, partners: ServiceClient
) -> TrusteePapers:
    """Proposals awaiting a decision, their money by financial year and by region, all
    grants by status."""
    funder_id = _funder(caller)
    regions = await partner_regions(partners=partners, funder_id=funder_id)
    by_region: dict[tuple[str | None, str], list[int]] = {}
    for row in await repository.proposal_partner_totals(session, funder_id):
        counted = by_region.setdefault((regions.get(row.partner_id), row.currency), [0, 0])
        counted[0] += row.count
        counted[1] += int(row.total)
    settings = await get_settings(session=session, funder_id=funder_id)
    start = settings.year_start_month
    grants = await repository.proposals(session, funder_id)
    years = await repository.proposal_years(session, funder_id=funder_id, start_month=start)
    statuses = await repository.status_totals(session, funder_id)
    return TrusteePapers(
        year_start_month=start,
        proposals=[
            PaperProposal(
                grant_id=g.id,
                reference=g.reference,
                title=g.title,
                partner_id=g.partner_id,
                region=regions.get(g.partner_id),
                amount_awarded=g.amount_awarded,
                currency=g.currency,
                planned_start_date=g.planned_start_date,
                planned_end_date=g.planned_end_date,
                payment_frequency=g.payment_frequency,
                proposed_on=g.list_date,
            )
            for g in grants
        ],
        totals_by_year=[
            PaperYear(
                financial_year=int(y.financial_year),
                label=year_label(int(y.financial_year), start),
                currency=y.currency,
                amount=int(y.total),
            )
            for y in years
        ],
        totals_by_region=[
            PaperRegion(region=region, currency=currency, count=count, amount=amount)
            for (region, currency), (count, amount) in sorted(
                by_region.items(), key=lambda item: (item[0][0] or "", item[0][1])
            )
        ],
        totals_by_status=[
            PaperStatus(status=s.status, currency=s.currency, count=s.count, amount=int(s.total))
            for s in statuses
        ],
        variations_awaiting_decision=[],
    )


def papers_csv(papers: TrusteePapers) -> Iterator[list[Any]]:
    """The proposals for CSV, then the totals by year, region and status, for a board pack."""
    yield (
        [
            "section",
            "reference",
            "title",
            "partner_id",
            "region",
            "currency",
            "amount",
            "start",
            "end",
            "frequency",
            "year_or_status",
            "count",
        ]
    )
    for p in papers.proposals:
        yield (
            [
                "proposal",
                p.reference,
                p.title,
                p.partner_id,
                p.region,
                p.currency,
                p.amount_awarded,
                p.planned_start_date,
                p.planned_end_date,
                p.payment_frequency,
                "",
                "",
            ]
        )
    for y in papers.totals_by_year:
        yield ["year", "", "", "", "", y.currency, y.amount, "", "", "", y.label, ""]
    for r in papers.totals_by_region:
        yield ["region", "", "", "", r.region, r.currency, r.amount, "", "", "", "", r.count]
    for s in papers.totals_by_status:
        yield ["status", "", "", "", "", s.currency, s.amount, "", "", "", s.status, s.count]
