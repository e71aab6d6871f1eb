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
    (with the median days late of late ones), and the median days to a first reply to a
    reflective update. Computed from funding's and partners' events."""
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
    """One of your funder's measures (``instalments_paid_on_time``, ``days_to_first_reply``)."""
    assert caller.staff_funder_id is not None
    for found in await service.measures(session, caller.staff_funder_id, since=since, until=until):
        if found["id"] == measure_id:
            return Measure.model_validate(found)
    raise NotFound("There is no measure with this id.")
