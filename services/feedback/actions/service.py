"""The rules of actions ("you said, we did"). Staff record them; partners see published ones,
and the public sees them on the funder's published scorecard."""

import uuid
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.common import audit
from services.common.auth import Caller
from services.common.concurrency import check_if_match
from services.common.db import utcnow
from services.common.errors import NotFound, Unprocessable
from services.common.http import ServiceClient
from services.common.lists import ListQuery, Page
from services.feedback import directory
from services.feedback.actions import repository
from services.feedback.actions.schemas import ActionCreate, ActionUpdate
from services.feedback.commitments import repository as commitments_repo
from services.feedback.models import Action
from services.feedback.rounds import repository as rounds_repo


async def _check_links(session: AsyncSession, funder_id: uuid.UUID, values: dict[str, Any]) -> None:
    errors: dict[str, list[str]] = {}
    if values.get("round_id") and not await rounds_repo.get(
        session, values["round_id"], funder_id=funder_id
    ):
        errors["round_id"] = ["is not a round of your funder"]
    if values.get("commitment_id") and not await commitments_repo.get(
        session, values["commitment_id"], funder_id=funder_id
    ):
        errors["commitment_id"] = ["is not a commitment of your funder"]
    if errors:
        raise Unprocessable(
            "The action links to something that is not your funder's.", errors=errors
        )


def _check_status(action: Action) -> None:
    if action.status == "not_doing" and not (action.reason or "").strip():
        raise Unprocessable(
            "Say why when you are not doing something: give a reason with status not_doing.",
            errors={"reason": ["is required when the status is not_doing"]},
        )
    if action.status == "done" and action.done_on is None:
        action.done_on = date.today()


async def create(*, session: AsyncSession, caller: Caller, data: ActionCreate) -> Action:
    assert caller.staff_funder_id is not None
    values = data.model_dump()
    await _check_links(session, caller.staff_funder_id, values)
    action = Action(funder_id=caller.staff_funder_id, version=1, **values)
    _check_status(action)
    if action.published:
        action.published_at = utcnow()
    session.add(action)
    await session.flush()
    audit.record(
        session,
        caller=caller,
        action="create",
        entity_type="action",
        entity_id=action.id,
        changes=values,
    )
    return action


async def _own(session: AsyncSession, caller: Caller, action_id: uuid.UUID) -> Action:
    action = await repository.get(session, action_id)
    if action is None or action.funder_id != caller.staff_funder_id:
        raise NotFound("There is no action with this id.")
    return action


async def update(
    *,
    session: AsyncSession,
    caller: Caller,
    action_id: uuid.UUID,
    data: ActionUpdate,
    if_match: str | None,
) -> Action:
    action = await _own(session, caller, action_id)
    check_if_match(if_match, action)
    changes = data.changes()
    await _check_links(session, action.funder_id, changes)
    for field, value in changes.items():
        if field in {"title", "status", "published"} and value is None:
            continue
        setattr(action, field, value)
    _check_status(action)
    if action.published and action.published_at is None:
        action.published_at = utcnow()
    if not action.published:
        action.published_at = None
    action.updated_at = utcnow()
    await session.flush()
    audit.record(
        session,
        caller=caller,
        action="update",
        entity_type="action",
        entity_id=action.id,
        changes=changes,
    )
    return action


async def get(
    *, session: AsyncSession, caller: Caller, partners: ServiceClient, action_id: uuid.UUID
) -> Action:
    """Staff see their funder's actions; a partner sees its funders' published ones."""
    if caller.has("funder_staff"):
        return await _own(session, caller, action_id)
    assert caller.own_partner_id is not None
    action = await repository.get(session, action_id)
    if (
        action is None
        or not action.published
        or action.funder_id
        not in await directory.funder_ids_of_partner(partners, caller.own_partner_id)
    ):
        raise NotFound("There is no action with this id.")
    return action


async def list_(
    *, session: AsyncSession, caller: Caller, partners: ServiceClient, query: ListQuery
) -> Page:
    if caller.has("funder_staff"):
        assert caller.staff_funder_id is not None
        return await repository.list_page(
            session, query, funder_ids=[caller.staff_funder_id], published_only=False
        )
    assert caller.own_partner_id is not None
    funder_ids = await directory.funder_ids_of_partner(partners, caller.own_partner_id)
    return await repository.list_page(session, query, funder_ids=funder_ids, published_only=True)


async def delete(*, session: AsyncSession, caller: Caller, action_id: uuid.UUID) -> Action:
    """Delete an action recorded by mistake; returns it as it was."""
    action = await _own(session, caller, action_id)
    await session.delete(action)
    await session.flush()
    audit.record(session, caller=caller, action="delete", entity_type="action", entity_id=action.id)
    return action
