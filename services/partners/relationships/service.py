"""The rules about relationships. Keyword-only functions; they flush, never commit."""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from services.common import audit, outbox
from services.common.auth import Caller
from services.common.concurrency import check_if_match
from services.common.errors import NotFound
from services.common.lists import ListQuery, Page
from services.partners.access import jsonable
from services.partners.relationships import repository
from services.partners.relationships.models import Relationship
from services.partners.relationships.schemas import RelationshipUpdate


def emit_relationship_changed(
    session: AsyncSession, relationship: Relationship, *, previous_status: str | None
) -> None:
    """Tell the other services a relationship began or changed stage."""
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
        emit_relationship_changed(session, relationship, previous_status=previous)
    return relationship


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
