"""All SQL of actions."""

import uuid
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.lists import (
    ListQuery,
    Page,
    fetch_page,
    filter_flag,
    filter_values,
    parse_uuid_list,
)
from services.feedback.models import ACTION_STATUSES, Action

SORTS: dict[str, ColumnElement[Any]] = {
    "created_at": Action.created_at,
    "updated_at": Action.updated_at,
    "due_on": Action.due_on,
    "status": Action.status,
    "title": Action.title,
}


async def get(session: AsyncSession, action_id: uuid.UUID) -> Action | None:
    return await session.get(Action, action_id)


async def list_page(
    session: AsyncSession,
    query: ListQuery,
    *,
    funder_ids: list[uuid.UUID],
    published_only: bool,
) -> Page:
    stmt = select(Action).where(Action.funder_id.in_(funder_ids))
    if published_only:
        stmt = stmt.where(Action.published.is_(True))
    f = query.filters
    if "id" in f:
        stmt = stmt.where(Action.id.in_(parse_uuid_list("id", f["id"])))
    if "round_id" in f:
        stmt = stmt.where(Action.round_id.in_(parse_uuid_list("round_id", f["round_id"])))
    if "commitment_id" in f:
        stmt = stmt.where(
            Action.commitment_id.in_(parse_uuid_list("commitment_id", f["commitment_id"]))
        )
    if "funder_id" in f:
        stmt = stmt.where(Action.funder_id.in_(parse_uuid_list("funder_id", f["funder_id"])))
    if "status" in f:
        stmt = stmt.where(Action.status.in_(filter_values("status", f["status"], ACTION_STATUSES)))
    if "published" in f:
        stmt = stmt.where(Action.published.is_(filter_flag("published", f["published"])))
    return await fetch_page(session, stmt, query, sort_columns=SORTS, id_column=Action.id)


async def published_of_funder(session: AsyncSession, funder_id: uuid.UUID) -> list[Action]:
    stmt = (
        select(Action)
        .where(Action.funder_id == funder_id, Action.published.is_(True))
        .order_by(Action.created_at, Action.id)
    )
    return list((await session.execute(stmt)).scalars())
