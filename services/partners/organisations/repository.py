"""All SQL about partner organisations."""

import uuid
from typing import Any

from sqlalchemy import ColumnElement, Select, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import contains_eager

from services.common.errors import BadRequest
from services.common.lists import ListQuery, Page, fetch_page, filter_values, parse_uuid_list
from services.partners.organisations.models import Partner
from services.partners.relationships.models import (
    RELATIONSHIP_STATUSES,
    SHARING_ACCEPTED,
    SHARING_STATES,
    Relationship,
)

#: The region as a funder may see it: only once the organisation shares with that funder.
SHARED_REGION = case((Relationship.sharing == SHARING_ACCEPTED, Partner.region), else_=None)

PARTNER_SORTS: dict[str, ColumnElement[Any]] = {
    "name": Partner.name,
    "created_at": Partner.created_at,
    "updated_at": Partner.updated_at,
    "region": SHARED_REGION,
    "status": Relationship.status,
    "since": Relationship.since,
    "sharing": Relationship.sharing,
}
OWN_SORTS: dict[str, ColumnElement[Any]] = {
    "name": Partner.name,
    "created_at": Partner.created_at,
    "updated_at": Partner.updated_at,
    "region": Partner.region,
}


async def get_partner(session: AsyncSession, partner_id: uuid.UUID) -> Partner | None:
    return await session.get(Partner, partner_id)


async def get_partner_by_org_id(session: AsyncSession, org_id: str) -> Partner | None:
    stmt = select(Partner).where(Partner.org_id == org_id)
    return (await session.execute(stmt)).scalar_one_or_none()


def _partner_filters(
    stmt: Select[Any], filters: dict[str, Any], *, own: bool = False
) -> Select[Any]:
    """Filters of the partners list; ``own``: the organisation's own list (no relationship)."""
    if "id" in filters:
        stmt = stmt.where(Partner.id.in_(parse_uuid_list("id", filters["id"])))
    if "status" in filters:
        stmt = stmt.where(
            Relationship.status.in_(
                filter_values("status", filters["status"], RELATIONSHIP_STATUSES)
            )
        )
    if "region" in filters:
        region = Partner.region if own else SHARED_REGION
        stmt = stmt.where(region == str(filters["region"]))
    if "sharing" in filters:
        stmt = stmt.where(
            Relationship.sharing.in_(filter_values("sharing", filters["sharing"], SHARING_STATES))
        )
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
    if field in {"status", "since", "sharing"}:
        return getattr(row, field)
    if field == "region" and row.sharing != SHARING_ACCEPTED:
        return None
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
    """A partner's own record, as a list of one. The relationship's fields (``status``,
    ``since``, ``steward``) belong to each funder: filtering or sorting by them is a 400."""
    own_fields = {"status", "since", "steward", "sharing"}
    refused = sorted(own_fields & set(query.filters))
    if refused:
        raise BadRequest(
            f"A partner's own list cannot be filtered by {', '.join(map(repr, refused))}: "
            "that is each funder's relationship with you. Filter by id, region, org_id or q.",
            slug="bad-list-parameter",
            errors={"filter": [f"unknown filter {name!r}" for name in refused]},
        )
    if query.sort in own_fields:
        raise BadRequest(
            f"A partner's own list cannot be sorted by '{query.sort}': that is each funder's "
            "relationship with you. Sort by id, name, region, created_at or updated_at.",
            slug="bad-list-parameter",
            errors={"sort": [f"'{query.sort}' is not sortable"]},
        )
    stmt = _partner_filters(
        select(Partner).where(Partner.id == partner_id), query.filters, own=True
    )
    sorts = {k: v for k, v in PARTNER_SORTS.items() if k not in own_fields}
    return await fetch_page(session, stmt, query, sort_columns=sorts, id_column=Partner.id)
