"""HTTP routes of measures."""

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from services.common.auth import StaffDep
from services.common.db import SessionDep
from services.common.errors import NotFound
from services.common.lists import ListQuery, list_query, page_of
from services.common.service_app import problem_responses
from services.feedback.measures import service
from services.feedback.measures.schemas import Measure

router = APIRouter(tags=["measures"])


MeasureListQuery = Annotated[
    ListQuery,
    Depends(list_query("measures", sortable=["name"], filterable=[], default_sort=("id", "ASC"))),
]


@router.get("/measures", response_model=list[Measure])
async def list_measures(
    session: SessionDep,
    caller: StaffDep,
    response: Response,
    query: MeasureListQuery,
    since: date | None = Query(None, alias="from", description="From this due / received date"),
    until: date | None = Query(None, alias="to", description="Up to this date, inclusive"),
) -> list[Measure]:
    """Your funder's own measured behaviour: the share of instalments paid by their due date
    (with the median days late of late ones); the median days to a first reply to a
    reflective update; the median days from a grant's proposal to its decision; the share
    of updates replied to within the days your commitment promises (``promised_days`` of
    the commitment measured by ``updates_replied_in_time``, else ``days_to_first_reply``);
    the share of closed rounds published with at least one published action. Computed in
    the database from funding's and partners' events and your own rounds. Link one to a
    commitment with the commitment's ``measure``: the scorecard shows it beside it."""
    assert caller.staff_funder_id is not None
    found = await service.measures(session, caller.staff_funder_id, since=since, until=until)
    page = page_of([Measure.model_validate(m) for m in found], query)
    page.apply(response, "measures")
    return page.items


@router.get("/measures/{measure_id}", response_model=Measure, responses=problem_responses(404))
async def get_measure(
    measure_id: str,
    session: SessionDep,
    caller: StaffDep,
    since: date | None = Query(None, alias="from", description="From this due / received date"),
    until: date | None = Query(None, alias="to", description="Up to this date, inclusive"),
) -> Measure:
    """One of your funder's measures (``instalments_paid_on_time``, ``days_to_first_reply``,
    ``days_to_decision``, ``updates_replied_in_time``, ``rounds_published_with_actions``)."""
    assert caller.staff_funder_id is not None
    for found in await service.measures(session, caller.staff_funder_id, since=since, until=until):
        if found["id"] == measure_id:
            return Measure.model_validate(found)
    raise NotFound("There is no measure with this id.")
