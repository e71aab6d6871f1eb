"""All SQL of threads."""

import uuid
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.lists import ListQuery, Page, fetch_page, parse_uuid_list
from services.feedback.models import Thread, ThreadMessage

SORTS: dict[str, ColumnElement[Any]] = {
    "last_message_at": Thread.last_message_at,
    "created_at": Thread.created_at,
    "subject": Thread.subject,
}


async def get(session: AsyncSession, thread_id: uuid.UUID) -> Thread | None:
    return await session.get(Thread, thread_id)


async def list_page(
    session: AsyncSession,
    query: ListQuery,
    *,
    funder_id: uuid.UUID | None = None,
    partner_id: uuid.UUID | None = None,
) -> Page:
    stmt = select(Thread)
    if funder_id is not None:
        stmt = stmt.where(Thread.funder_id == funder_id)
    if partner_id is not None:
        stmt = stmt.where(Thread.partner_id == partner_id)
    f = query.filters
    if "id" in f:
        stmt = stmt.where(Thread.id.in_(parse_uuid_list("id", f["id"])))
    if "partner_id" in f:
        stmt = stmt.where(Thread.partner_id.in_(parse_uuid_list("partner_id", f["partner_id"])))
    if "funder_id" in f:
        stmt = stmt.where(Thread.funder_id.in_(parse_uuid_list("funder_id", f["funder_id"])))
    return await fetch_page(session, stmt, query, sort_columns=SORTS, id_column=Thread.id)


async def messages(session: AsyncSession, thread_id: uuid.UUID) -> list[ThreadMessage]:
    stmt = (
        select(ThreadMessage)
        .where(ThreadMessage.thread_id == thread_id)
        .order_by(ThreadMessage.created_at, ThreadMessage.id)
    )
    return list((await session.execute(stmt)).scalars())
