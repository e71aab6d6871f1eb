"""HTTP routes for relationships. Thin: parse, call the service, shape the answer."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Response

from services.common.auth import StaffDep
from services.common.concurrency import IfMatchDep, etag
from services.common.db import SessionDep
from services.common.lists import ListQuery, list_query
from services.common.service_app import problem_responses
from services.partners.relationships import service
from services.partners.relationships.schemas import (
    Relationship,
    RelationshipChange,
    RelationshipUpdate,
)

router = APIRouter(tags=["relationships"])

RelationshipListQuery = Annotated[
    ListQuery,
    Depends(
        list_query(
            "relationships",
            sortable=["since", "status", "created_at", "updated_at"],
            filterable=["partner_id", "status"],
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
            filterable=["status"],
            default_sort=("changed_at", "ASC"),
        )
    ),
]


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
    Filters: ``status``.
    """
    page = await service.list_history(
        session=session, caller=caller, relationship_id=relationship_id, query=query
    )
    page.apply(response, "relationship-history")
    return [RelationshipChange.model_validate(c) for c in page.items]
