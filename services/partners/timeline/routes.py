"""HTTP routes of the timeline."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Response

from services.common.auth import StaffOrPartnerDep
from services.common.db import SessionDep
from services.common.errors import NotFound
from services.common.lists import ListQuery, list_query, one_query
from services.common.service_app import problem_responses
from services.partners.timeline import service
from services.partners.timeline.schemas import TimelineEntry

router = APIRouter(tags=["timeline"])

TimelineQuery = Annotated[
    ListQuery,
    Depends(
        list_query(
            "timeline",
            sortable=["occurred_at"],
            filterable=[
                "kind",
                "funder_id",
                "grant_id",
                "partner_id",
                "occurred_at_gte",
                "occurred_at_lte",
            ],
            default_sort=("occurred_at", "DESC"),
        )
    ),
]


@router.get("/partners/{partner_id}/timeline", response_model=list[TimelineEntry])
async def timeline(
    partner_id: uuid.UUID,
    session: SessionDep,
    caller: StaffOrPartnerDep,
    query: TimelineQuery,
    response: Response,
) -> list[TimelineEntry]:
    """A partner's story with its funders, newest first.

    Interactions (``interaction``), reflective updates (``update``) and the
    replies in their threads (``reply``), documents (``document``), and grant
    events from the funding service (``grant.approved``, ``grant.varied``,
    ``instalment.paid``, ``grant.withdrawn``), and gatherings the partner came to
    (``gathering``: a learning day or network meeting, with its shared notes). Each entry has ``kind``,
    ``occurred_at``, ``title``, a short ``summary``, ``source_id`` (the record it
    is about) and ``data``.

    A partner sees its own timeline (without interactions its funders marked
    private); funder staff see what concerns their own funder and the
    partner's own documents. Grant events are placed by the date they are about,
    so one delivered late still lands in its place.

    Paged like every list (``range``, ``Content-Range: timeline 0-24/87``,
    ``X-Next-Cursor``). Filters: ``kind`` (one or a list), ``funder_id``,
    ``grant_id``, ``occurred_at_gte`` and ``occurred_at_lte`` (dates or datetimes).
    """
    page = await service.list_timeline(
        session=session, caller=caller, partner_id=partner_id, query=query
    )
    page.apply(response, "timeline")
    return [TimelineEntry.model_validate(e) for e in page.items]


@router.get(
    "/partners/{partner_id}/timeline/{entry_id}",
    response_model=TimelineEntry,
    responses=problem_responses(404),
)
async def timeline_entry(
    partner_id: uuid.UUID, entry_id: uuid.UUID, session: SessionDep, caller: StaffOrPartnerDep
) -> TimelineEntry:
    """One entry of a partner's timeline, to whoever may see it in the list."""
    page = await service.list_timeline(
        session=session, caller=caller, partner_id=partner_id, query=one_query("timeline", entry_id)
    )
    if not page.items:
        raise NotFound("There is no timeline entry with this id.")
    return TimelineEntry.model_validate(page.items[0])
