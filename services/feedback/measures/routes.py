"""HTTP routes of measures."""

from datetime import date

from fastapi import APIRouter, Query, Response

from services.common.auth import StaffDep
from services.common.db import SessionDep
from services.feedback.measures import service
from services.feedback.measures.schemas import Measure

router = APIRouter(tags=["measures"])


@router.get("/measures", response_model=list[Measure])
async def list_measures(
    session: SessionDep,
    caller: StaffDep,
    response: Response,
    since: date | None = Query(None, alias="from", description="From this due / received date"),
    until: date | None = Query(None, alias="to", description="Up to this date, inclusive"),
) -> list[Measure]:
    """Your funder's own measured behaviour: the share of instalments paid by their due date
    (with the median days late of late ones), and the median days to a first reply to a
    reflective update. Computed from funding's and partners' events."""
    assert caller.staff_funder_id is not None
    found = await service.measures(session, caller.staff_funder_id, since=since, until=until)
    response.headers["Content-Range"] = f"measures 0-{len(found) - 1}/{len(found)}"
    return [Measure.model_validate(m) for m in found]
