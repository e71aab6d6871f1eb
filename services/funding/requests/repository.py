"""All SQL of grant requests."""

import uuid
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.lists import ListQuery, Page, fetch_page, filter_values, where_ids
from services.funding.requests.models import REQUEST_KINDS, REQUEST_STATUSES, GrantRequest

SORTS: dict[str, ColumnElement[Any]] = {
    "requested_at": GrantRequest.requested_at,
    "decided_at": GrantRequest.decided_at,
    "created_at": GrantRequest.created_at,
}


async def get(
    session: AsyncSession, request_id: uuid.UUID, *, for_update: bool = False
) -> GrantRequest | None:
    stmt = select(GrantRequest).where(GrantRequest.id == request_id)
    if for_update:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return (await session.execute(stmt)).scalar_one_or_none()


async def list_requests(
    session: AsyncSession,
    query: ListQuery,
    *,
    funder_id: uuid.UUID | None = None,
    partner_id: uuid.UUID | None = None,
) -> Page:
    """One funder's requests (staff), or one partner's own."""
    stmt = select(GrantRequest)
    if funder_id is not None:
        stmt = stmt.where(GrantRequest.funder_id == funder_id)
    if partner_id is not None:
        stmt = stmt.where(GrantRequest.partner_id == partner_id)
    f = query.filters
    stmt = where_ids(
        stmt,
        f,
        {
            "id": GrantRequest.id,
            "grant_id": GrantRequest.grant_id,
            "funder_id": GrantRequest.funder_id,
            "partner_id": GrantRequest.partner_id,
            "variation_id": GrantRequest.variation_id,
        },
    )
    if "kind" in f:
        stmt = stmt.where(GrantRequest.kind.in_(filter_values("kind", f["kind"], REQUEST_KINDS)))
    if "status" in f:
        stmt = stmt.where(
            GrantRequest.status.in_(filter_values("status", f["status"], REQUEST_STATUSES))
        )
    return await fetch_page(session, stmt, query, sort_columns=SORTS, id_column=GrantRequest.id)
