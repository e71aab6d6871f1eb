"""All SQL about relationships between funders and partners."""

import uuid
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import contains_eager

from services.common.lists import (
    ListQuery,
    Page,
    fetch_page,
    filter_values,
    parse_uuid_list,
    where_ids,
)
from services.partners.funders.models import Funder
from services.partners.organisations.models import Partner
from services.partners.relationships.models import (
    RELATIONSHIP_STATUSES,
    SHARING_STATES,
    Relationship,
    RelationshipChange,
)

RELATIONSHIP_SORTS: dict[str, ColumnElement[Any]] = {
    "since": Relationship.since,
    "status": Relationship.status,
    "created_at": Relationship.created_at,
    "updated_at": Relationship.updated_at,
}


async def get_relationship(
    session: AsyncSession, *, funder_id: uuid.UUID, partner_id: uuid.UUID
) -> Relationship | None:
    stmt = select(Relationship).where(
        Relationship.funder_id == funder_id, Relationship.partner_id == partner_id
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_relationship_by_id(
    session: AsyncSession, *, relationship_id: uuid.UUID, funder_id: uuid.UUID
) -> Relationship | None:
    stmt = select(Relationship).where(
        Relationship.id == relationship_id, Relationship.funder_id == funder_id
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def list_relationships(
    session: AsyncSession, query: ListQuery, *, funder_id: uuid.UUID
) -> Page:
    stmt = select(Relationship).where(Relationship.funder_id == funder_id)
    if "id" in query.filters:
        stmt = stmt.where(Relationship.id.in_(parse_uuid_list("id", query.filters["id"])))
    stmt = where_ids(
        stmt,
        query.filters,
        {"partner_id": Relationship.partner_id, "funder_id": Relationship.funder_id},
    )
    if "status" in query.filters:
        stmt = stmt.where(
            Relationship.status.in_(
                filter_values("status", query.filters["status"], RELATIONSHIP_STATUSES)
            )
        )
    return await fetch_page(
        session, stmt, query, sort_columns=RELATIONSHIP_SORTS, id_column=Relationship.id
    )


async def relationships_of_funder(
    session: AsyncSession,
    *,
    funder_id: uuid.UUID,
    statuses: list[str] | None = None,
    partner_ids: list[uuid.UUID] | None = None,
) -> list[Relationship]:
    stmt = (
        select(Relationship)
        .join(Relationship.partner)
        .options(contains_eager(Relationship.partner))
        .where(Relationship.funder_id == funder_id)
        .order_by(Partner.name, Partner.id)
    )
    if statuses:
        stmt = stmt.where(Relationship.status.in_(statuses))
    if partner_ids is not None:
        stmt = stmt.where(Relationship.partner_id.in_(partner_ids))
    return list((await session.execute(stmt)).scalars())


CHANGE_SORTS: dict[str, ColumnElement[Any]] = {"changed_at": RelationshipChange.changed_at}


async def list_changes(
    session: AsyncSession, query: ListQuery, *, relationship_id: uuid.UUID
) -> Page:
    stmt = select(RelationshipChange).where(RelationshipChange.relationship_id == relationship_id)
    for name, column in (
        ("id", RelationshipChange.id),
        ("relationship_id", RelationshipChange.relationship_id),
        ("funder_id", RelationshipChange.funder_id),
        ("partner_id", RelationshipChange.partner_id),
    ):
        if name in query.filters:
            stmt = stmt.where(column.in_(parse_uuid_list(name, query.filters[name])))
    if "status" in query.filters:
        stmt = stmt.where(
            RelationshipChange.status.in_(
                filter_values("status", query.filters["status"], RELATIONSHIP_STATUSES)
            )
        )
    return await fetch_page(
        session, stmt, query, sort_columns=CHANGE_SORTS, id_column=RelationshipChange.id
    )


SHARING_SORTS: dict[str, ColumnElement[Any]] = {
    "funder_name": Funder.name,
    "sharing": Relationship.sharing,
    "related_since": Relationship.created_at,
    "sharing_changed_at": Relationship.sharing_changed_at,
}


def _sharing_key(row: Relationship, field: str) -> tuple[Any, Any]:
    value = {
        "funder_name": lambda: row.funder.name,
        "related_since": lambda: row.created_at,
    }.get(field, lambda: getattr(row, field))()
    return value, row.funder_id


async def list_funders_of_partner(
    session: AsyncSession, query: ListQuery, *, partner_id: uuid.UUID
) -> Page:
    """Every funder's relationship with one organisation, each with its funder loaded."""
    stmt = (
        select(Relationship)
        .join(Relationship.funder)
        .options(contains_eager(Relationship.funder))
        .where(Relationship.partner_id == partner_id)
    )
    filters = query.filters
    for name in ("id", "funder_id"):
        if name in filters:
            stmt = stmt.where(Relationship.funder_id.in_(parse_uuid_list(name, filters[name])))
    if "sharing" in filters:
        stmt = stmt.where(
            Relationship.sharing.in_(filter_values("sharing", filters["sharing"], SHARING_STATES))
        )
    return await fetch_page(
        session,
        stmt,
        query,
        sort_columns=SHARING_SORTS,
        id_column=Relationship.funder_id,
        row_key=_sharing_key,
    )


async def get_change(
    session: AsyncSession, *, relationship_id: uuid.UUID, change_id: uuid.UUID
) -> RelationshipChange | None:
    stmt = select(RelationshipChange).where(
        RelationshipChange.relationship_id == relationship_id, RelationshipChange.id == change_id
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_relationship_with_funder(
    session: AsyncSession, *, funder_id: uuid.UUID, partner_id: uuid.UUID
) -> Relationship | None:
    stmt = (
        select(Relationship)
        .join(Relationship.funder)
        .options(contains_eager(Relationship.funder))
        .where(Relationship.funder_id == funder_id, Relationship.partner_id == partner_id)
        .with_for_update()
    )
    return (await session.execute(stmt)).scalar_one_or_none()
