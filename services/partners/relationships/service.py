"""The rules about relationships. Keyword-only functions; they flush, never commit."""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from services.common import audit, outbox
from services.common.auth import Caller
from services.common.concurrency import check_if_match
from services.common.db import utcnow
from services.common.errors import NotFound
from services.common.lists import ListQuery, Page
from services.partners.access import actor_name, jsonable
from services.partners.relationships import repository
from services.partners.relationships.models import Relationship, RelationshipChange
from services.partners.relationships.schemas import RelationshipUpdate
from services.partners.timeline import service as timeline_service

STAGE_WORDS = {
    "exploring": "Getting to know each other",
    "active": "Relationship active",
    "paused": "Relationship paused",
    "ended": "Relationship ended",
}


async def relationship_changed(
    session: AsyncSession,
    relationship: Relationship,
    *,
    previous_status: str | None,
    caller: Caller,
) -> None:
    """A relationship began or moved stage: its history, the timeline and the other services.

    The history row and the timeline entry are the funder's record (its staff see
    them); the event tells funding and feedback.
    """
    if relationship.status != previous_status:
        change = RelationshipChange(
            relationship_id=relationship.id,
            funder_id=relationship.funder_id,
            partner_id=relationship.partner_id,
            status=relationship.status,
            previous_status=previous_status,
            since=relationship.since,
            changed_at=utcnow(),
            changed_by=actor_name(caller),
        )
        session.add(change)
        await session.flush()
        await timeline_service.record(
            session,
            kind="relationship",
            source_id=change.id,
            partner_id=relationship.partner_id,
            funder_id=relationship.funder_id,
            occurred_at=change.changed_at,
            title=STAGE_WORDS.get(relationship.status, relationship.status),
            summary=(
                f"From {previous_status} to {relationship.status}, by {change.changed_by}."
                if previous_status
                else f"Began as {relationship.status}, by {change.changed_by}."
            ),
            data={"status": relationship.status, "previous_status": previous_status},
            visible_to_partner=False,
        )
    outbox.emit(
        session,
        "relationship.changed",
        {
            "relationship_id": str(relationship.id),
            "funder_id": str(relationship.funder_id),
            "partner_id": str(relationship.partner_id),
            "status": relationship.status,
            "previous_status": previous_status,
            "since": relationship.since.isoformat(),
        },
    )


async def get_relationship(
    *, session: AsyncSession, caller: Caller, relationship_id: uuid.UUID
) -> Relationship:
    assert caller.funder_id is not None
    relationship = await repository.get_relationship_by_id(
        session, relationship_id=relationship_id, funder_id=caller.funder_id
    )
    if relationship is None:
        raise NotFound("There is no relationship with this id.")
    return relationship


async def list_relationships(*, session: AsyncSession, caller: Caller, query: ListQuery) -> Page:
    assert caller.funder_id is not None
    return await repository.list_relationships(session, query, funder_id=caller.funder_id)


async def update_relationship(
    *,
    session: AsyncSession,
    caller: Caller,
    relationship_id: uuid.UUID,
    data: RelationshipUpdate,
    if_match: str | None,
) -> Relationship:
    relationship = await get_relationship(
        session=session, caller=caller, relationship_id=relationship_id
    )
    check_if_match(if_match, relationship)
    previous = relationship.status
    changes = {k: v for k, v in data.changes().items() if v is not None}
    for field, value in changes.items():
        setattr(relationship, field, value)
    await session.flush()
    audit.record(
        session,
        caller=caller,
        action="update",
        entity_type="relationship",
        entity_id=relationship.id,
        changes=jsonable(changes),
    )
    if relationship.status != previous or "since" in changes:
        await relationship_changed(session, relationship, previous_status=previous, caller=caller)
    return relationship


async def list_history(
    *, session: AsyncSession, caller: Caller, relationship_id: uuid.UUID, query: ListQuery
) -> Page:
    """The stages one of the caller's funder's relationships has been through."""
    relationship = await get_relationship(
        session=session, caller=caller, relationship_id=relationship_id
    )
    return await repository.list_changes(session, query, relationship_id=relationship.id)


async def partner_summaries(
    *,
    session: AsyncSession,
    funder_id: uuid.UUID,
    statuses: list[str] | None,
    partner_ids: list[uuid.UUID] | None,
) -> list[Relationship]:
    """A funder's relationships with their partners loaded, for the other services."""
    return await repository.relationships_of_funder(
        session, funder_id=funder_id, statuses=statuses, partner_ids=partner_ids
    )
