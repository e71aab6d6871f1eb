"""All SQL about funders."""

import uuid
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.lists import ListQuery, Page, fetch_page, parse_uuid_list
from services.partners.funders.models import Funder
from services.partners.relationships.models import Relationship

FUNDER_SORTS: dict[str, ColumnElement[Any]] = {
    "name": Funder.name,
    "slug": Funder.slug,
    "created_at": Funder.created_at,
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


async def funders_of_partner(session: AsyncSession, *, partner_id: uuid.UUID) -> list[Funder]:
    stmt = (
        select(Funder)
        .join(Relationship, Relationship.funder_id == Funder.id)
        .where(Relationship.partner_id == partner_id)
        .order_by(Funder.name)
    )
    return list((await session.execute(stmt)).scalars())
