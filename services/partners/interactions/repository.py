"""All SQL of interactions."""

import uuid
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.lists import ListQuery, Page, fetch_page, filter_values, parse_uuid_list
from services.partners.access import check_boolean_filter, date_bound
from services.partners.interactions.models import INTERACTION_KINDS, Interaction
from services.partners.learning.repository import tagged

SORTS: dict[str, ColumnElement[Any]] = {
    "occurred_at": Interaction.occurred_at,
    "created_at": Interaction.created_at,
    "updated_at": Interaction.updated_at,
    "kind": Interaction.kind,
}


async def get(session: AsyncSession, interaction_id: uuid.UUID) -> Interaction | None:
    return await session.get(Interaction, interaction_id)


async def of_partner(session: AsyncSession, partner_id: uuid.UUID) -> list[Interaction]:
    stmt = select(Interaction).where(Interaction.partner_id == partner_id)
    return list((await session.execute(stmt)).scalars())


async def list_interactions(
    session: AsyncSession,
    query: ListQuery,
    *,
    funder_id: uuid.UUID | None = None,
    partner_id: uuid.UUID | None = None,
    tag_keys: list[str] | None = None,
) -> Page:
    """One funder's interactions (staff), or the shared interactions of one partner."""
    stmt = select(Interaction)
    if funder_id is not None:
        stmt = stmt.where(Interaction.funder_id == funder_id)
    if partner_id is not None:
        stmt = stmt.where(Interaction.partner_id == partner_id, Interaction.private.is_(False))
    filters = query.filters
    if "id" in filters:
        stmt = stmt.where(Interaction.id.in_(parse_uuid_list("id", filters["id"])))
    if "partner_id" in filters:
        stmt = stmt.where(
            Interaction.partner_id.in_(parse_uuid_list("partner_id", filters["partner_id"]))
        )
    if "funder_id" in filters:
        stmt = stmt.where(
            Interaction.funder_id.in_(parse_uuid_list("funder_id", filters["funder_id"]))
        )
    if "kind" in filters:
        stmt = stmt.where(
            Interaction.kind.in_(filter_values("kind", filters["kind"], INTERACTION_KINDS))
        )
    if "private" in filters:
        stmt = stmt.where(
            Interaction.private.is_(check_boolean_filter("private", filters["private"]))
        )
    if "occurred_at_gte" in filters:
        bound = date_bound("occurred_at_gte", filters["occurred_at_gte"], upper=False)
        stmt = stmt.where(Interaction.occurred_at >= bound)
    if "occurred_at_lte" in filters:
        bound = date_bound("occurred_at_lte", filters["occurred_at_lte"], upper=True)
        stmt = stmt.where(Interaction.occurred_at <= bound)
    if tag_keys is not None and funder_id is not None:
        stmt = stmt.where(tagged(funder_id, tag_keys, "interaction", Interaction.id))
    return await fetch_page(session, stmt, query, sort_columns=SORTS, id_column=Interaction.id)
