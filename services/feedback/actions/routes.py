"""HTTP routes of actions ("you said, we did")."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Response

from services.common.auth import StaffDep, StaffOrPartnerDep
from services.common.concurrency import IfMatchDep, etag
from services.common.db import SessionDep
from services.common.idempotency import IdempotencyDep
from services.common.lists import ListQuery, list_query
from services.common.service_app import problem_responses
from services.feedback.actions import service
from services.feedback.actions.schemas import Action, ActionCreate, ActionUpdate
from services.feedback.deps import PartnersDep

router = APIRouter(tags=["actions"])

ActionListQuery = Annotated[
    ListQuery,
    Depends(
        list_query(
            "actions",
            sortable=["created_at", "updated_at", "due_on", "status", "title"],
            filterable=["round_id", "commitment_id", "funder_id", "status", "published"],
            default_sort=("created_at", "DESC"),
        )
    ),
]


@router.post("/actions", status_code=201, response_model=Action, responses=problem_responses(422))
async def create_action(
    body: ActionCreate, session: SessionDep, caller: StaffDep, idem: IdempotencyDep
) -> Response:
    """Record what your funder will do (or will not do, and why) about what partners said.

    Link it to the round and the commitment it answers. Partners see it once
    ``published``; the public sees it on your published scorecard.
    """
    action = await service.create(session=session, caller=caller, data=body)
    return await idem.respond(
        session,
        Action.model_validate(action),
        headers={"Location": f"/api/v1/actions/{action.id}", "ETag": etag(action)},
    )


@router.get("/actions", response_model=list[Action])
async def list_actions(
    session: SessionDep,
    caller: StaffOrPartnerDep,
    partners: PartnersDep,
    query: ActionListQuery,
    response: Response,
) -> list[Action]:
    """Your funder's actions (staff), or your funders' published actions (partner)."""
    page = await service.list_(session=session, caller=caller, partners=partners, query=query)
    page.apply(response, "actions")
    return [Action.model_validate(a) for a in page.items]


@router.get("/actions/{action_id}", response_model=Action)
async def get_action(
    action_id: uuid.UUID,
    session: SessionDep,
    caller: StaffOrPartnerDep,
    partners: PartnersDep,
    response: Response,
) -> Action:
    """One action."""
    action = await service.get(
        session=session, caller=caller, partners=partners, action_id=action_id
    )
    response.headers["ETag"] = etag(action)
    return Action.model_validate(action)


@router.put("/actions/{action_id}", response_model=Action, responses=problem_responses(412, 422))
async def update_action(
    action_id: uuid.UUID,
    body: ActionUpdate,
    session: SessionDep,
    caller: StaffDep,
    if_match: IfMatchDep,
    response: Response,
) -> Action:
    """Move an action on (planned, in progress, done, or not doing with the reason), or
    publish it."""
    action = await service.update(
        session=session, caller=caller, action_id=action_id, data=body, if_match=if_match
    )
    response.headers["ETag"] = etag(action)
    return Action.model_validate(action)


@router.delete("/actions/{action_id}", response_model=Action)
async def delete_action(action_id: uuid.UUID, session: SessionDep, caller: StaffDep) -> Action:
    """Delete an action recorded by mistake."""
    out = Action.model_validate(
        await service.delete(session=session, caller=caller, action_id=action_id)
    )
    return out
