"""The rules of interactions. Keyword-only functions; they flush, never commit."""

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.common import audit
from services.common.auth import Caller
from services.common.concurrency import check_if_match
from services.common.errors import NotFound, Unprocessable
from services.common.lists import ListQuery, Page
from services.partners.access import actor_name, check_partner_field, is_staff
from services.partners.interactions import repository
from services.partners.interactions.models import Interaction
from services.partners.interactions.schemas import InteractionCreate, InteractionUpdate
from services.partners.search.service import staff_tag_keys
from services.partners.timeline import service as timeline_service

NOT_FOUND = "There is no interaction with this id."
KIND_TITLES = {
    "visit": "Visit",
    "call": "Call",
    "meeting": "Meeting",
    "event": "Event",
    "other": "Conversation",
}


def _check_private(private: bool, reason: str | None) -> str | None:
    if private and not (reason and reason.strip()):
        raise Unprocessable(
            "Interactions are shared with the partner by default. To keep this one private, "
            "say why in private_reason.",
            errors={"private_reason": ["is required when private is true"]},
        )
    return reason if private else None


def _audit_fields(interaction: Interaction) -> dict[str, Any]:
    return {
        "partner_id": str(interaction.partner_id),
        "kind": interaction.kind,
        "occurred_at": interaction.occurred_at.isoformat(),
        "summary": interaction.summary,
        "participants": interaction.participants,
        "private": interaction.private,
        "private_reason": interaction.private_reason,
    }


async def _sync_timeline(session: AsyncSession, interaction: Interaction) -> None:
    await timeline_service.record(
        session,
        kind="interaction",
        source_id=interaction.id,
        partner_id=interaction.partner_id,
        funder_id=interaction.funder_id,
        occurred_at=interaction.occurred_at,
        title=KIND_TITLES[interaction.kind],
        summary=interaction.summary,
        data={"kind": interaction.kind, "private": interaction.private},
        visible_to_partner=not interaction.private,
    )


async def create_interaction(
    *, session: AsyncSession, caller: Caller, data: InteractionCreate
) -> Interaction:
    """Staff record an interaction with a partner their funder has a relationship with."""
    funder_id = caller.staff_funder_id
    assert funder_id is not None
    await check_partner_field(session, caller, data.partner_id)
    reason = _check_private(data.private, data.private_reason)
    interaction = Interaction(
        funder_id=funder_id,
        partner_id=data.partner_id,
        kind=data.kind,
        occurred_at=data.occurred_at,
        summary=data.summary,
        participants=list(data.participants),
        recorded_by=actor_name(caller),
        private=data.private,
        private_reason=reason,
        version=1,
    )
    session.add(interaction)
    await session.flush()
    audit.record(
        session,
        caller=caller,
        action="create",
        entity_type="interaction",
        entity_id=interaction.id,
        changes=_audit_fields(interaction),
    )
    await _sync_timeline(session, interaction)
    return interaction


async def get_interaction(
    *, session: AsyncSession, caller: Caller, interaction_id: uuid.UUID
) -> Interaction:
    """Staff see their own funder's; a partner sees its own unless marked private."""
    interaction = await repository.get(session, interaction_id)
    if interaction is not None:
        if is_staff(caller) and interaction.funder_id == caller.staff_funder_id:
            return interaction
        if (
            caller.own_partner_id is not None
            and interaction.partner_id == caller.own_partner_id
            and not interaction.private
        ):
            return interaction
    raise NotFound(NOT_FOUND)


async def list_interactions(*, session: AsyncSession, caller: Caller, query: ListQuery) -> Page:
    if is_staff(caller):
        return await repository.list_interactions(
            session,
            query,
            funder_id=caller.staff_funder_id,
            tag_keys=staff_tag_keys(caller, query.filters),
        )
    partner_id = caller.own_partner_id
    assert partner_id is not None
    staff_tag_keys(caller, query.filters)
    return await repository.list_interactions(session, query, partner_id=partner_id)


async def _own_interaction(
    session: AsyncSession, caller: Caller, interaction_id: uuid.UUID
) -> Interaction:
    interaction = await repository.get(session, interaction_id)
    if (
        interaction is None
        or caller.staff_funder_id is None
        or (interaction.funder_id != caller.staff_funder_id)
    ):
        raise NotFound(NOT_FOUND)
    return interaction


async def update_interaction(
    *,
    session: AsyncSession,
    caller: Caller,
    interaction_id: uuid.UUID,
    data: InteractionUpdate,
    if_match: str | None,
) -> Interaction:
    interaction = await _own_interaction(session, caller, interaction_id)
    check_if_match(if_match, interaction)
    changes = {k: v for k, v in data.changes().items() if v is not None or k == "private_reason"}
    private = changes.get("private", interaction.private)
    reason = changes.get("private_reason", interaction.private_reason)
    changes["private_reason"] = _check_private(private, reason)
    for field, value in changes.items():
        setattr(interaction, field, list(value) if field == "participants" else value)
    await session.flush()
    audit.record(
        session,
        caller=caller,
        action="update",
        entity_type="interaction",
        entity_id=interaction.id,
        changes={k: v for k, v in _audit_fields(interaction).items() if k in changes},
    )
    await _sync_timeline(session, interaction)
    return interaction


async def delete_interaction(
    *, session: AsyncSession, caller: Caller, interaction_id: uuid.UUID, if_match: str | None
) -> Interaction:
    interaction = await _own_interaction(session, caller, interaction_id)
    check_if_match(if_match, interaction)
    await session.delete(interaction)
    await session.flush()
    audit.record(
        session,
        caller=caller,
        action="delete",
        entity_type="interaction",
        entity_id=interaction.id,
        changes={"partner_id": str(interaction.partner_id)},
    )
    await timeline_service.remove(session, kind="interaction", source_ids=[interaction.id])
    return interaction
