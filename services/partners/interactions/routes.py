"""HTTP routes of interactions."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Response

from services.common.auth import StaffDep, StaffOrPartnerDep
from services.common.concurrency import IfMatchDep, etag
from services.common.db import SessionDep
from services.common.idempotency import IdempotencyDep
from services.common.lists import ListQuery, list_query
from services.common.service_app import problem_responses
from services.partners.interactions import service
from services.partners.interactions.schemas import (
    Interaction,
    InteractionCreate,
    InteractionUpdate,
)

router = APIRouter(tags=["interactions"])

InteractionQuery = Annotated[
    ListQuery,
    Depends(
        list_query(
            "interactions",
            sortable=["occurred_at", "created_at", "updated_at", "kind"],
            filterable=[
                "partner_id",
                "funder_id",
                "kind",
                "private",
                "occurred_at_gte",
                "occurred_at_lte",
                "tag",
            ],
            default_sort=("occurred_at", "DESC"),
        )
    ),
]


@router.post(
    "/interactions", status_code=201, response_model=Interaction, responses=problem_responses(409)
)
async def create_interaction(
    body: InteractionCreate, session: SessionDep, caller: StaffDep, idem: IdempotencyDep
) -> Response:
    """Record a visit, call, meeting, event or other contact with a partner (funder staff).

    Example body::

        {"partner_id": "…", "kind": "visit", "occurred_at": "2025-03-04T10:30:00Z",
         "summary": "Met the youth panel; they are rethinking the evening sessions.",
         "participants": ["Amina (us)", "Jo Baker (director)"]}

    Shared with the partner by default, because the relationship is open. Send
    ``"private": true`` with a ``private_reason`` to keep it from the partner.
    ``recorded_by`` is taken from your token. Accepts ``Idempotency-Key``.
    """
    interaction = await service.create_interaction(session=session, caller=caller, data=body)
    return await idem.respond(
        session,
        Interaction.model_validate(interaction),
        headers={
            "Location": f"/api/v1/interactions/{interaction.id}",
            "ETag": etag(interaction),
        },
    )


@router.get("/interactions", response_model=list[Interaction])
async def list_interactions(
    session: SessionDep, caller: StaffOrPartnerDep, query: InteractionQuery, response: Response
) -> list[Interaction]:
    """Interactions: your funder's (staff), or those shared with your organisation (partner).

    Filters: ``partner_id``, ``funder_id``, ``kind`` (one or a list), ``private``
    (true/false), ``occurred_at_gte`` / ``occurred_at_lte`` (a date or datetime),
    ``id``, and for staff ``tag`` (your funder's own tags, one or a list). Sorted by ``occurred_at`` newest first unless ``sort`` says otherwise.
    """
    page = await service.list_interactions(session=session, caller=caller, query=query)
    page.apply(response, "interactions")
    return [Interaction.model_validate(i) for i in page.items]


@router.get("/interactions/{interaction_id}", response_model=Interaction)
async def get_interaction(
    interaction_id: uuid.UUID, session: SessionDep, caller: StaffOrPartnerDep, response: Response
) -> Interaction:
    """One interaction. A partner never sees one its funder marked private."""
    interaction = await service.get_interaction(
        session=session, caller=caller, interaction_id=interaction_id
    )
    response.headers["ETag"] = etag(interaction)
    return Interaction.model_validate(interaction)


@router.put(
    "/interactions/{interaction_id}",
    response_model=Interaction,
    responses=problem_responses(412),
)
async def update_interaction(
    interaction_id: uuid.UUID,
    body: InteractionUpdate,
    session: SessionDep,
    caller: StaffDep,
    if_match: IfMatchDep,
    response: Response,
) -> Interaction:
    """Change an interaction your funder recorded; mark it private (with a reason) or shared.

    Send ``If-Match`` with the ETag you read to be safe from lost updates.
    """
    interaction = await service.update_interaction(
        session=session,
        caller=caller,
        interaction_id=interaction_id,
        data=body,
        if_match=if_match,
    )
    response.headers["ETag"] = etag(interaction)
    return Interaction.model_validate(interaction)


@router.delete(
    "/interactions/{interaction_id}",
    response_model=Interaction,
    responses=problem_responses(412),
)
async def delete_interaction(
    interaction_id: uuid.UUID, session: SessionDep, caller: StaffDep, if_match: IfMatchDep
) -> Interaction:
    """Delete an interaction your funder recorded; answers the deleted record."""
    interaction = await service.delete_interaction(
        session=session, caller=caller, interaction_id=interaction_id, if_match=if_match
    )
    return Interaction.model_validate(interaction)
