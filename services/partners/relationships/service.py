"""The rules about relationships. Keyword-only functions; they flush, never commit."""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from services.common import audit, outbox
from services.common.auth import Caller
from services.common.concurrency import check_if_match
from services.common.db import utcnow
from services.common.errors import Conflict, NotFound
from services.common.lists import ListQuery, Page
from services.partners.access import PARTNER_NOT_FOUND, actor_name, is_own, jsonable
from services.partners.organisations import repository as organisations_repository
from services.partners.relationships import repository
from services.partners.relationships.models import Relationship, RelationshipChange
from services.partners.relationships.schemas import RelationshipUpdate, SharingUpdate
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
    funder_id = caller.staff_funder_id
    assert funder_id is not None
    relationship = await repository.get_relationship_by_id(
        session, relationship_id=relationship_id, funder_id=funder_id
    )
    if relationship is None:
        raise NotFound("There is no relationship with this id.")
    return relationship


async def list_relationships(*, session: AsyncSession, caller: Caller, query: ListQuery) -> Page:
    funder_id = caller.staff_funder_id
    assert funder_id is not None
    return await repository.list_relationships(session, query, funder_id=funder_id)


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


async def get_history_entry(
    *, session: AsyncSession, caller: Caller, relationship_id: uuid.UUID, change_id: uuid.UUID
) -> RelationshipChange:
    """One step of one of the caller's funder's relationships (404 otherwise)."""
    relationship = await get_relationship(
        session=session, caller=caller, relationship_id=relationship_id
    )
    change = await repository.get_change(
        session, relationship_id=relationship.id, change_id=change_id
    )
    if change is None:
        raise NotFound("This relationship has no history entry with this id.")
    return change


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


# The organisation's side: which funders it shares its own data with ---------------------

FUNDER_NOT_FOUND = "No funder with this id has a relationship with your organisation."
#: The answers an organisation may give, by the state the relationship is in.
SHARING_MOVES: dict[str, set[str]] = {
    "pending": {"accepted", "declined"},
    "accepted": {"stopped"},
    "declined": {"accepted"},
    "stopped": {"accepted"},
}
SHARING_REFUSALS = {
    ("accepted", "declined"): "You accepted this funder already; send 'stopped' to stop sharing.",
    ("pending", "stopped"): "You have not accepted this funder yet; send 'declined' to decline.",
    ("declined", "stopped"): "You declined this funder; it sees none of your own data already.",
    ("stopped", "declined"): "You stopped sharing with this funder already.",
}


async def _check_own(session: AsyncSession, caller: Caller, partner_id: uuid.UUID) -> None:
    if not is_own(caller, partner_id) or not await organisations_repository.get_partner(
        session, partner_id
    ):
        raise NotFound(PARTNER_NOT_FOUND)


async def list_funders_of_partner(
    *, session: AsyncSession, caller: Caller, partner_id: uuid.UUID, query: ListQuery
) -> Page:
    """Every funder that has a relationship with the caller's own organisation."""
    await _check_own(session, caller, partner_id)
    return await repository.list_funders_of_partner(session, query, partner_id=partner_id)


async def get_sharing(
    *, session: AsyncSession, caller: Caller, partner_id: uuid.UUID, funder_id: uuid.UUID
) -> Relationship:
    await _check_own(session, caller, partner_id)
    relationship = await repository.get_relationship_with_funder(
        session, funder_id=funder_id, partner_id=partner_id
    )
    if relationship is None:
        raise NotFound(FUNDER_NOT_FOUND)
    return relationship


async def set_sharing(
    *,
    session: AsyncSession,
    caller: Caller,
    partner_id: uuid.UUID,
    funder_id: uuid.UUID,
    data: SharingUpdate,
) -> Relationship:
    """The organisation accepts a funder, declines it, or stops sharing with it."""
    relationship = await get_sharing(
        session=session, caller=caller, partner_id=partner_id, funder_id=funder_id
    )
    return await change_sharing(
        session=session, caller=caller, relationship=relationship, wanted=data.sharing
    )


async def change_sharing(
    *, session: AsyncSession, caller: Caller, relationship: Relationship, wanted: str
) -> Relationship:
    """Move a relationship's sharing to ``wanted`` on the organisation's word.

    The caller must already be known to speak for the organisation (its own
    people: ``set_sharing``, or an accepted invitation of the funder).
    """
    current = relationship.sharing
    if current == wanted:
        return relationship
    if wanted not in SHARING_MOVES.get(current, set()):
        raise Conflict(
            SHARING_REFUSALS.get(
                (current, wanted), f"Sharing cannot go from {current} to {wanted}."
            ),
            slug="sharing-state",
            extra={"sharing": current},
        )
    relationship.sharing = wanted
    relationship.sharing_changed_at = utcnow()
    await session.flush()
    audit.record(
        session,
        caller=caller,
        action=f"sharing.{wanted}",
        entity_type="relationship",
        entity_id=relationship.id,
        changes={
            "sharing": wanted,
            "previous": current,
            "funder_id": str(relationship.funder_id),
        },
    )
    return relationship
