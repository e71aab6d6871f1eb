"""All SQL of the partners service."""

import uuid
from typing import Any

from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import contains_eager

from services.common.lists import ListQuery, Page, fetch_page, filter_values, parse_uuid_list
from services.partners.models import (
    RELATIONSHIP_STATUSES,
    ApiClient,
    Funder,
    Partner,
    Relationship,
)

FUNDER_SORTS: dict[str, ColumnElement[Any]] = {
    "name": Funder.name,
    "slug": Funder.slug,
    "created_at": Funder.created_at,
}
PARTNER_SORTS: dict[str, ColumnElement[Any]] = {
    "name": Partner.name,
    "created_at": Partner.created_at,
    "updated_at": Partner.updated_at,
    "region": Partner.region,
    "status": Relationship.status,
    "since": Relationship.since,
}
RELATIONSHIP_SORTS: dict[str, ColumnElement[Any]] = {
    "since": Relationship.since,
    "status": Relationship.status,
    "created_at": Relationship.created_at,
    "updated_at": Relationship.updated_at,
}


async def get_funder(session: AsyncSession, funder_id: uuid.UUID) -> Funder | None:
    return await session.get(Funder, funder_id)


async def get_funder_by_slug(session: AsyncSession, slug: str) -> Funder | None:
    return (await session.execute(select(Funder).where(Funder.slug == slug))).scalar_one_or_none()


async def list_funders(
    session: AsyncSession, query: ListQuery, *, only: uuid.UUID | None = None
) -> Page:
    stmt = select(Funder)
    if only is not None:
        stmt = stmt.where(Funder.id == only)
    if "id" in query.filters:
        stmt = stmt.where(Funder.id.in_(parse_uuid_list("id", query.filters["id"])))
    if "slug" in query.filters:
        stmt = stmt.where(Funder.slug == str(query.filters["slug"]))
    return await fetch_page(session, stmt, query, sort_columns=FUNDER_SORTS, id_column=Funder.id)


async def get_partner(session: AsyncSession, partner_id: uuid.UUID) -> Partner | None:
    return await session.get(Partner, partner_id)


async def get_partner_by_org_id(session: AsyncSession, org_id: str) -> Partner | None:
    stmt = select(Partner).where(Partner.org_id == org_id)
    return (await session.execute(stmt)).scalar_one_or_none()


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


def _partner_filters(stmt: Select[Any], filters: dict[str, Any]) -> Select[Any]:
    if "id" in filters:
        stmt = stmt.where(Partner.id.in_(parse_uuid_list("id", filters["id"])))
    if "status" in filters:
        stmt = stmt.where(
            Relationship.status.in_(
                filter_values("status", filters["status"], RELATIONSHIP_STATUSES)
            )
        )
    if "region" in filters:
        stmt = stmt.where(Partner.region == str(filters["region"]))
    if "org_id" in filters:
        stmt = stmt.where(Partner.org_id == str(filters["org_id"]))
    if "steward" in filters:
        stmt = stmt.where(Relationship.steward == str(filters["steward"]))
    if filters.get("q"):
        needle = f"%{str(filters['q']).lower()}%"
        stmt = stmt.where(
            or_(func.lower(Partner.name).like(needle), func.lower(Partner.org_id).like(needle))
        )
    return stmt


def _row_value(row: Relationship, field: str) -> Any:
    if field in {"status", "since"}:
        return getattr(row, field)
    return getattr(row.partner, field)


async def list_partners_of_funder(
    session: AsyncSession, query: ListQuery, *, funder_id: uuid.UUID
) -> Page:
    """Relationships of one funder, each with its partner loaded."""
    stmt = (
        select(Relationship)
        .join(Relationship.partner)
        .options(contains_eager(Relationship.partner))
        .where(Relationship.funder_id == funder_id)
    )
    stmt = _partner_filters(stmt, query.filters)
    return await fetch_page(
        session,
        stmt,
        query,
        sort_columns=PARTNER_SORTS,
        id_column=Relationship.partner_id,
        row_key=lambda row, field: (_row_value(row, field), row.partner_id),
    )


async def list_own_partner(
    session: AsyncSession, query: ListQuery, *, partner_id: uuid.UUID
) -> Page:
    stmt = select(Partner).where(Partner.id == partner_id)
    if "id" in query.filters:
        stmt = stmt.where(Partner.id.in_(parse_uuid_list("id", query.filters["id"])))
    sorts = {k: v for k, v in PARTNER_SORTS.items() if k not in {"status", "since"}}
    if query.sort not in sorts:
        query = ListQuery(query.resource, "name", False, query.start, query.end, query.filters)
    return await fetch_page(session, stmt, query, sort_columns=sorts, id_column=Partner.id)


async def list_relationships(
    session: AsyncSession, query: ListQuery, *, funder_id: uuid.UUID
) -> Page:
    stmt = select(Relationship).where(Relationship.funder_id == funder_id)
    if "id" in query.filters:
        stmt = stmt.where(Relationship.id.in_(parse_uuid_list("id", query.filters["id"])))
    if "partner_id" in query.filters:
        stmt = stmt.where(
            Relationship.partner_id.in_(parse_uuid_list("partner_id", query.filters["partner_id"]))
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


async def funders_of_partner(session: AsyncSession, *, partner_id: uuid.UUID) -> list[Funder]:
    stmt = (
        select(Funder)
        .join(Relationship, Relationship.funder_id == Funder.id)
        .where(Relationship.partner_id == partner_id)
        .order_by(Funder.name)
    )
    return list((await session.execute(stmt)).scalars())


async def get_client(session: AsyncSession, client_id: str) -> ApiClient | None:
    stmt = select(ApiClient).where(ApiClient.client_id == client_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_client_of_partner(
    session: AsyncSession, *, partner_id: uuid.UUID, client_record_id: uuid.UUID
) -> ApiClient | None:
    stmt = select(ApiClient).where(
        ApiClient.id == client_record_id, ApiClient.partner_id == partner_id
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def clients_of_partner(session: AsyncSession, *, partner_id: uuid.UUID) -> list[ApiClient]:
    stmt = (
        select(ApiClient).where(ApiClient.partner_id == partner_id).order_by(ApiClient.created_at)
    )
    return list((await session.execute(stmt)).scalars())
