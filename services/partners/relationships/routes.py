"""HTTP routes for relationships. Thin: parse, call the service, shape the answer."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Response

from services.common.auth import PartnerDep, StaffDep
from services.common.concurrency import IfMatchDep, etag
from services.common.db import SessionDep
from services.common.lists import ListQuery, list_query
from services.common.service_app import problem_responses
from services.partners.relationships import service
from services.partners.relationships.models import Relationship as RelationshipRow
from services.partners.relationships.schemas import (
    FunderSharing,
    Relationship,
    RelationshipChange,
    RelationshipUpdate,
    SharingUpdate,
)

router = APIRouter(tags=["relationships"])

RelationshipListQuery = Annotated[
    ListQuery,
    Depends(
        list_query(
            "relationships",
            sortable=["since", "status", "created_at", "updated_at"],
            filterable=["partner_id", "funder_id", "status"],
            default_sort=("since", "DESC"),
        )
    ),
]
HistoryListQuery = Annotated[
    ListQuery,
    Depends(
        list_query(
            "relationship-history",
            sortable=["changed_at"],
            filterable=["status", "relationship_id", "funder_id", "partner_id"],
            default_sort=("changed_at", "ASC"),
        )
    ),
]


SharingListQuery = Annotated[
    ListQuery,
    Depends(
        list_query(
            "sharing",
            sortable=["funder_name", "sharing", "related_since", "sharing_changed_at"],
            filterable=["sharing", "funder_id"],
            default_sort=("related_since", "ASC"),
        )
    ),
]


def _sharing_out(relationship: RelationshipRow) -> FunderSharing:
    return FunderSharing(
        id=relationship.funder_id,
        funder_id=relationship.funder_id,
        funder_name=relationship.funder.name,
        sharing=relationship.sharing,  # type: ignore[arg-type]
        sharing_changed_at=relationship.sharing_changed_at,
        related_since=relationship.created_at,
    )


@router.get("/relationships", response_model=list[Relationship])
async def list_relationships(
    session: SessionDep, caller: StaffDep, query: RelationshipListQuery, response: Response
) -> list[Relationship]:
    """Your funder's relationships: exploring, active, paused, ended."""
    page = await service.list_relationships(session=session, caller=caller, query=query)
    page.apply(response, "relationships")
    return [Relationship.model_validate(r) for r in page.items]


@router.get("/relationships/{relationship_id}", response_model=Relationship)
async def get_relationship(
    relationship_id: uuid.UUID, session: SessionDep, caller: StaffDep, response: Response
) -> Relationship:
    """One of your funder's relationships."""
    relationship = await service.get_relationship(
        session=session, caller=caller, relationship_id=relationship_id
    )
    response.headers["ETag"] = etag(relationship)
    return Relationship.model_validate(relationship)


@router.put(
    "/relationships/{relationship_id}",
    response_model=Relationship,
    responses=problem_responses(412),
)
async def update_relationship(
    relationship_id: uuid.UUID,
    body: RelationshipUpdate,
    session: SessionDep,
    caller: StaffDep,
    if_match: IfMatchDep,
    response: Response,
) -> Relationship:
    """Change the stage of a relationship, when it began, or who looks after it."""
    relationship = await service.update_relationship(
        session=session,
        caller=caller,
        relationship_id=relationship_id,
        data=body,
        if_match=if_match,
    )
    response.headers["ETag"] = etag(relationship)
    return Relationship.model_validate(relationship)


@router.get("/relationships/{relationship_id}/history", response_model=list[RelationshipChange])
async def list_relationship_history(
    relationship_id: uuid.UUID,
    session: SessionDep,
    caller: StaffDep,
    query: HistoryListQuery,
    response: Response,
) -> list[RelationshipChange]:
    """The stages one of your funder's relationships has been through, oldest first.

    Each row is the stage it moved to, the stage before, when and who moved it.
    Filters: ``status``, ``relationship_id``, ``funder_id``, ``partner_id``, ``id``.
    """
    page = await service.list_history(
        session=session, caller=caller, relationship_id=relationship_id, query=query
    )
    page.apply(response, "relationship-history")
    return [RelationshipChange.model_validate(c) for c in page.items]


@router.get(
    "/relationships/{relationship_id}/history/{change_id}", response_model=RelationshipChange
)
async def get_relationship_history_entry(
    relationship_id: uuid.UUID, change_id: uuid.UUID, session: SessionDep, caller: StaffDep
) -> RelationshipChange:
    """One step of one of your funder's relationships' history."""
    change = await service.get_history_entry(
        session=session, caller=caller, relationship_id=relationship_id, change_id=change_id
    )
    return RelationshipChange.model_validate(change)


@router.get("/partners/{partner_id}/sharing", response_model=list[FunderSharing], tags=["sharing"])
async def list_sharing(
    partner_id: uuid.UUID,
    session: SessionDep,
    caller: PartnerDep,
    query: SharingListQuery,
    response: Response,
) -> list[FunderSharing]:
    """Every funder that has a relationship with your organisation, and whether you share with it.

    For the organisation's own people. A funder that added your organisation
    before you claimed it shares already (``accepted``); one that linked it by
    org-id waits (``pending``) and sees none of your own data (contacts, your
    documents, your description) until you accept it. Filter ``sharing``, ``funder_id``; sort
    ``funder_name``, ``sharing``, ``related_since``, ``sharing_changed_at``.
    """
    page = await service.list_funders_of_partner(
        session=session, caller=caller, partner_id=partner_id, query=query
    )
    page.apply(response, "sharing")
    return [_sharing_out(r) for r in page.items]


@router.get(
    "/partners/{partner_id}/sharing/{funder_id}", response_model=FunderSharing, tags=["sharing"]
)
async def get_sharing(
    partner_id: uuid.UUID, funder_id: uuid.UUID, session: SessionDep, caller: PartnerDep
) -> FunderSharing:
    """Whether your organisation shares its own data with one funder."""
    relationship = await service.get_sharing(
        session=session, caller=caller, partner_id=partner_id, funder_id=funder_id
    )
    return _sharing_out(relationship)


@router.put(
    "/partners/{partner_id}/sharing/{funder_id}",
    response_model=FunderSharing,
    responses=problem_responses(409),
    tags=["sharing"],
)
async def set_sharing(
    partner_id: uuid.UUID,
    funder_id: uuid.UUID,
    body: SharingUpdate,
    session: SessionDep,
    caller: PartnerDep,
) -> FunderSharing:
    """Accept a funder, decline it, or stop sharing with it: ``{"sharing": "accepted"}``.

    ``accepted`` (from pending, declined or stopped) lets the funder's staff see
    your contacts, your own documents and your description; ``declined`` answers
    a pending funder no; ``stopped`` withdraws an acceptance. The funder keeps
    its own relationship record (its notes and history) either way.
    """
    relationship = await service.set_sharing(
        session=session, caller=caller, partner_id=partner_id, funder_id=funder_id, data=body
    )
    return _sharing_out(relationship)
