"""HTTP routes of finance: settings, budgets and the forecast (JSON and CSV)."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from services.common.auth import Caller, StaffDep
from services.common.concurrency import IfMatchDep, etag
from services.common.csvsafe import csv_response
from services.common.db import SessionDep
from services.common.http import ServiceClient
from services.common.idempotency import IdempotencyDep
from services.common.lists import ListQuery, list_query
from services.common.service_app import problem_responses
from services.funding.finance import service
from services.funding.finance.models import Budget as BudgetRow
from services.funding.finance.models import FinanceSetting
from services.funding.finance.schemas import (
    Budget,
    BudgetCreate,
    BudgetUpdate,
    FinanceSettings,
    FinanceSettingsUpdate,
    Forecast,
    GroupBy,
    TrusteePapers,
)
from services.funding.grants.routes import PartnersDep

router = APIRouter()

BudgetListQuery = Annotated[
    ListQuery,
    Depends(
        list_query(
            "budgets",
            sortable=["financial_year", "amount"],
            filterable=["financial_year", "pool_id", "funder_id"],
            default_sort=("financial_year", "ASC"),
        )
    ),
]


def settings_out(settings: FinanceSetting) -> FinanceSettings:
    return FinanceSettings(
        id=settings.funder_id,
        funder_id=settings.funder_id,
        year_start_month=settings.year_start_month,
        approval_limit=settings.approval_limit,
        approval_limit_currency=settings.approval_limit_currency,
        debtor_name=settings.debtor_name,
        debtor_iban=settings.debtor_iban,
        debtor_bic=settings.debtor_bic,
        version=settings.version,
        updated_at=settings.updated_at,
    )


def budget_out(budget: BudgetRow) -> Budget:
    return Budget.model_validate(budget)


@router.get("/finance-settings", response_model=FinanceSettings, tags=["finance"])
async def get_finance_settings(
    session: SessionDep, caller: StaffDep, response: Response
) -> FinanceSettings:
    """Your funder's financial year (its first month; April unless set) and the largest
    award its staff may approve without a trustee."""
    assert caller.funder_id is not None
    settings = await service.get_settings(session=session, funder_id=caller.funder_id)
    response.headers["ETag"] = etag(settings)
    return settings_out(settings)


@router.put(
    "/finance-settings",
    response_model=FinanceSettings,
    tags=["finance"],
    responses=problem_responses(412),
)
async def update_finance_settings(
    body: FinanceSettingsUpdate,
    session: SessionDep,
    caller: StaffDep,
    if_match: IfMatchDep,
    response: Response,
) -> FinanceSettings:
    """Set your financial year's first month and the staff approval limit. Needs the
    finance role: staff cannot raise their own limit."""
    settings = await service.update_settings(
        session=session, caller=caller, data=body, if_match=if_match
    )
    response.headers["ETag"] = etag(settings)
    return settings_out(settings)


@router.post(
    "/budgets",
    status_code=201,
    response_model=Budget,
    tags=["finance"],
    responses=problem_responses(409),
)
async def create_budget(
    body: BudgetCreate, session: SessionDep, caller: StaffDep, idem: IdempotencyDep
) -> Response:
    """Set a budget for one financial year, for all your funding or for one pool (finance
    role). One budget per year, scope and currency."""
    budget = await service.create_budget(session=session, caller=caller, data=body)
    return await idem.respond(
        session,
        budget_out(budget),
        headers={"Location": f"/api/v1/budgets/{budget.id}", "ETag": etag(budget)},
    )


@router.get("/budgets", response_model=list[Budget], tags=["finance"])
async def list_budgets(
    session: SessionDep, caller: StaffDep, query: BudgetListQuery, response: Response
) -> list[Budget]:
    """Your funder's budgets. Filters: ``financial_year``, ``pool_id``, ``id``."""
    page = await service.list_budgets(session=session, caller=caller, query=query)
    page.apply(response, "budgets")
    return [budget_out(b) for b in page.items]


@router.get("/budgets/{budget_id}", response_model=Budget, tags=["finance"])
async def get_budget(
    budget_id: uuid.UUID, session: SessionDep, caller: StaffDep, response: Response
) -> Budget:
    """One budget."""
    budget = await service.get_budget(session=session, caller=caller, budget_id=budget_id)
    response.headers["ETag"] = etag(budget)
    return budget_out(budget)


@router.put(
    "/budgets/{budget_id}",
    response_model=Budget,
    tags=["finance"],
    responses=problem_responses(412),
)
async def update_budget(
    budget_id: uuid.UUID,
    body: BudgetUpdate,
    session: SessionDep,
    caller: StaffDep,
    if_match: IfMatchDep,
    response: Response,
) -> Budget:
    """Change a budget's amount or notes (finance role)."""
    budget = await service.update_budget(
        session=session, caller=caller, budget_id=budget_id, data=body, if_match=if_match
    )
    response.headers["ETag"] = etag(budget)
    return budget_out(budget)


@router.delete("/budgets/{budget_id}", response_model=Budget, tags=["finance"])
async def delete_budget(budget_id: uuid.UUID, session: SessionDep, caller: StaffDep) -> Budget:
    """Remove a budget (finance role); answers the removed record."""
    return budget_out(
        await service.delete_budget(session=session, caller=caller, budget_id=budget_id)
    )


FORECAST_DOC = """Your funder's money per financial year, computed by the database.

For each financial year from ``from_year`` to ``to_year`` (a year is named by
the calendar year it starts in; your financial year starts in the month of
your finance settings) and each currency: **committed** (instalments of
approved or active grants, unpaid, due in the year), **paid** (payments made in
the year), **pipeline** (proposed grants, spread by their planned default
schedule) and your **budget** with the **headroom** left. ``rows`` break the
same down by ``group_by``: ``partner`` (partner id), ``pool`` (pool id, with the
pool's budget; no pool: your own grants), ``month`` (YYYY-MM), ``currency`` or
``region`` (the partner's region as the partners service holds it, once the
organisation shares it with you; null otherwise: the database sums by partner and
those sums are added up by region). Amounts are integer minor units.
"""


async def _forecast(
    session: SessionDep,
    caller: Caller,
    partners: ServiceClient,
    from_year: int,
    to_year: int,
    group_by: GroupBy | None,
) -> Forecast:
    return await service.forecast(
        session=session,
        caller=caller,
        partners=partners,
        from_year=from_year,
        to_year=to_year,
        group_by=group_by,
    )


FromYear = Annotated[int, Query(ge=2000, le=2100, description="First financial year")]
ToYear = Annotated[int, Query(ge=2000, le=2100, description="Last financial year")]
GroupByQuery = Annotated[
    GroupBy | None, Query(description="partner, pool, currency, month or region")
]


@router.get(
    "/forecast",
    response_model=Forecast,
    tags=["finance"],
    description=FORECAST_DOC,
)
async def get_forecast(
    session: SessionDep,
    caller: StaffDep,
    partners: PartnersDep,
    from_year: FromYear,
    to_year: ToYear,
    group_by: GroupByQuery = None,
) -> Forecast:
    return await _forecast(session, caller, partners, from_year, to_year, group_by)


@router.get(
    "/forecast.csv",
    tags=["finance"],
    responses={200: {"content": {"text/csv": {}}}},
)
async def get_forecast_csv(
    session: SessionDep,
    caller: StaffDep,
    partners: PartnersDep,
    from_year: FromYear,
    to_year: ToYear,
    group_by: GroupByQuery = None,
) -> Response:
    """The forecast's rows as CSV: financial_year, currency, the group, budget, committed,
    paid, pipeline (minor units)."""
    result = await _forecast(session, caller, partners, from_year, to_year, group_by)
    return csv_response(service.forecast_csv(result), "forecast.csv")


@router.get("/trustee-papers", response_model=TrusteePapers, tags=["finance"])
async def get_trustee_papers(
    session: SessionDep, caller: StaffDep, partners: PartnersDep
) -> TrusteePapers:
    """Papers for a trustee meeting: the proposed grants awaiting a decision (oldest first),
    what they would pay in each financial year, their totals by the partners' region, and
    all your grants by status. Variations are recorded with the decision that made them, so
    none await one here."""
    return await service.trustee_papers(session=session, caller=caller, partners=partners)


@router.get(
    "/trustee-papers.csv",
    tags=["finance"],
    responses={200: {"content": {"text/csv": {}}}},
)
async def get_trustee_papers_csv(
    session: SessionDep, caller: StaffDep, partners: PartnersDep
) -> Response:
    """The trustee papers as CSV for a board pack: one line per proposal, then the totals by
    financial year, region and status."""
    papers = await service.trustee_papers(session=session, caller=caller, partners=partners)
    return csv_response(service.papers_csv(papers), "trustee-papers.csv")
