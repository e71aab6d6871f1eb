"""HTTP routes of gatherings."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Response

from services.common.auth import StaffDep, StaffOrPartnerDep
from services.common.concurrency import IfMatchDep, etag
from services.common.db import SessionDep
from services.common.idempotency import IdempotencyDep
from services.common.lists import ListQuery, list_query
from services.common.service_app import problem_responses
from services.partners.gatherings import service
from services.partners.gatherings.schemas import Gathering, GatheringCreate, GatheringUpdate

router = APIRouter(tags=["gatherings"])

GatheringQuery = Annotated[
    ListQuery,
    Depends(
        list_query(
            "gatherings",
            sortable=["held_at", "created_at", "title"],
            filterable=["partner_id", "funder_id", "kind", "held_at_gte", "held_at_lte"],
            default_sort=("held_at", "DESC"),
        )
    ),
]


@router.post(
    "/gatherings", status_code=201, response_model=Gathering, responses=problem_responses(409)
)
async def create_gathering(
    body: GatheringCreate, session: SessionDep, caller: StaffDep, idem: IdempotencyDep
) -> Response:
    """Record an event with many partners (funder staff): a learning day, a partner
    network meeting. Example::

        {"kind": "learning_day", "title": "Spring learning day",
         "held_at": "2026-04-22T10:00:00Z", "place": "Leeds Central Library",
         "invited_partner_ids": ["…", "…", "…"], "attended_partner_ids": ["…", "…"],
         "shared_notes": "What we heard together: …",
         "private_notes": "For us: follow up with two partners about premises."}

    Invited partners must be your funder's; those who came must be among the invited.
    ``shared_notes`` are read by every partner that came, and the gathering appears in
    each one's timeline; ``private_notes`` are your funder's own and never shown to a
    partner. Accepts ``Idempotency-Key``.
    """
    gathering = await service.create_gathering(session=session, caller=caller, data=body)
    [out] = await service.gatherings_out(session=session, caller=caller, gatherings=[gathering])
    return await idem.respond(
        session,
        out,
        headers={"Location": f"/api/v1/gatherings/{gathering.id}", "ETag": etag(gathering)},
    )


@router.get("/gatherings", response_model=list[Gathering])
async def list_gatherings(
    session: SessionDep, caller: StaffOrPartnerDep, query: GatheringQuery, response: Response
) -> list[Gathering]:
    """Your funder's gatherings (staff), or those your organisation was invited to (partner).

    Filters: ``partner_id`` (invited; a partner may only name itself), ``kind``,
    ``held_at_gte`` / ``held_at_lte``, ``id``. Newest first.
    """
    page = await service.list_gatherings(session=session, caller=caller, query=query)
    page.apply(response, "gatherings")
    return await service.gatherings_out(session=session, caller=caller, gatherings=page.items)


@router.get(
    "/gatherings/{gathering_id}", response_model=Gathering, responses=problem_responses(404)
)
async def get_gathering(
    gathering_id: uuid.UUID, session: SessionDep, caller: StaffOrPartnerDep, response: Response
) -> Gathering:
    """One gathering: to its funder's staff, or a partner it invited (its own invitation,
    and the shared notes once it came). Anyone else gets 404."""
    gathering = await service.get_gathering(
        session=session, caller=caller, gathering_id=gathering_id
    )
    response.headers["ETag"] = etag(gathering)
    [out] = await service.gatherings_out(session=session, caller=caller, gatherings=[gathering])
    return out


@router.put(
    "/gatherings/{gathering_id}",
    response_model=Gathering,
    responses=problem_responses(404, 412),
)
async def update_gathering(
    gathering_id: uuid.UUID,
    body: GatheringUpdate,
    session: SessionDep,
    caller: StaffDep,
    if_match: IfMatchDep,
    response: Response,
) -> Gathering:
    """Change a gathering (staff): record who came (``attended_partner_ids``), write the
    notes afterwards, invite more. The partner lists replace the current ones when sent;
    timelines follow. Send ``If-Match`` to be safe from lost updates."""
    gathering = await service.update_gathering(
        session=session, caller=caller, gathering_id=gathering_id, data=body, if_match=if_match
    )
    response.headers["ETag"] = etag(gathering)
    [out] = await service.gatherings_out(session=session, caller=caller, gatherings=[gathering])
    return out


@router.delete(
    "/gatherings/{gathering_id}",
    response_model=Gathering,
    responses=problem_responses(404, 412),
)
async def delete_gathering(
    gathering_id: uuid.UUID, session: SessionDep, caller: StaffDep, if_match: IfMatchDep
) -> Gathering:
    """Delete a gathering and its timeline entries; answers the deleted record."""
    return await service.delete_gathering(
        session=session, caller=caller, gathering_id=gathering_id, if_match=if_match
    )
