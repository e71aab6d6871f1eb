"""All SQL of reflective updates and their replies."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.lists import ListQuery, Page, fetch_page, parse_uuid_list
from services.partners.access import check_boolean_filter, date_bound
from services.partners.learning.repository import tagged
from services.partners.updates.models import Reply, Update

SORTS: dict[str, ColumnElement[Any]] = {
    "sent_at": Update.sent_at,
    "last_activity_at": Update.last_activity_at,
    "first_reply_at": Update.first_reply_at,
}
REPLY_SORTS: dict[str, ColumnElement[Any]] = {"created_at": Reply.created_at}


async def get(session: AsyncSession, update_id: uuid.UUID) -> Update | None:
    return await session.get(Update, update_id)


async def copies_of(session: AsyncSession, submission_ids: set[uuid.UUID]) -> list[Update]:
    if not submission_ids:
        return []
    stmt = (
        select(Update)
        .where(Update.submission_id.in_(submission_ids))
        .order_by(Update.sent_at, Update.id)
    )
    return list((await session.execute(stmt)).scalars())


async def of_partner(session: AsyncSession, partner_id: uuid.UUID) -> list[Update]:
    stmt = select(Update).where(Update.partner_id == partner_id)
    return list((await session.execute(stmt)).scalars())


async def replies_of_partner(session: AsyncSession, partner_id: uuid.UUID) -> list[Reply]:
    stmt = (
        select(Reply)
        .join(Update, Update.id == Reply.update_id)
        .where(Update.partner_id == partner_id)
    )
    return list((await session.execute(stmt)).scalars())


async def list_updates(
    session: AsyncSession,
    query: ListQuery,
    *,
    funder_id: uuid.UUID | None = None,
    partner_id: uuid.UUID | None = None,
    tag_keys: list[str] | None = None,
) -> Page:
    stmt = select(Update)
    if funder_id is not None:
        stmt = stmt.where(Update.funder_id == funder_id)
    if partner_id is not None:
        stmt = stmt.where(Update.partner_id == partner_id)
    filters = query.filters
    if "id" in filters:
        stmt = stmt.where(Update.id.in_(parse_uuid_list("id", filters["id"])))
    if "partner_id" in filters:
        stmt = stmt.where(
            Update.partner_id.in_(parse_uuid_list("partner_id", filters["partner_id"]))
        )
    if "funder_id" in filters:
        stmt = stmt.where(Update.funder_id.in_(parse_uuid_list("funder_id", filters["funder_id"])))
    if "replied" in filters:
        replied = check_boolean_filter("replied", filters["replied"])
        column = Update.first_reply_at
        stmt = stmt.where(column.is_not(None) if replied else column.is_(None))
    if "sent_at_gte" in filters:
        stmt = stmt.where(
            Update.sent_at >= date_bound("sent_at_gte", filters["sent_at_gte"], upper=False)
        )
    if "sent_at_lte" in filters:
        stmt = stmt.where(
            Update.sent_at <= date_bound("sent_at_lte", filters["sent_at_lte"], upper=True)
        )
    if tag_keys is not None and funder_id is not None:
        stmt = stmt.where(tagged(funder_id, tag_keys, "update", Update.id))
    return await fetch_page(
        session,
        stmt,
        query,
        sort_columns=SORTS,
        id_column=Update.id,
        # Tags live in their own table: a tagged list reads without anchors.
        versioned="updates" if tag_keys is None or funder_id is None else None,
    )


async def list_replies(session: AsyncSession, query: ListQuery, *, update_id: uuid.UUID) -> Page:
    stmt = select(Reply).where(Reply.update_id == update_id)
    if "id" in query.filters:
        stmt = stmt.where(Reply.id.in_(parse_uuid_list("id", query.filters["id"])))
    if "author_side" in query.filters:
        stmt = stmt.where(Reply.author_side == str(query.filters["author_side"]))
    if "update_id" in query.filters:
        stmt = stmt.where(
            Reply.update_id.in_(parse_uuid_list("update_id", query.filters["update_id"]))
        )
    return await fetch_page(
        session,
        stmt,
        query,
        sort_columns=REPLY_SORTS,
        id_column=Reply.id,
        versioned="update_replies",
    )


async def note_activity(session: AsyncSession, *, update_id: uuid.UUID, at: datetime) -> None:
    """Count one more message in the thread (in SQL, so concurrent replies all count)."""
    await session.execute(
        update(Update)
        .where(Update.id == update_id)
        .values(reply_count=Update.reply_count + 1, last_activity_at=at)
        .execution_options(synchronize_session=False)
    )


async def mark_first_reply(
    session: AsyncSession, *, update_id: uuid.UUID, at: datetime, seconds: int
) -> bool:
    """Record the funder's first reply; False if another reply got there first."""
    result = await session.execute(
        update(Update)
        .where(Update.id == update_id, Update.first_reply_at.is_(None))
        .values(first_reply_at=at, reply_seconds=seconds)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1  # type: ignore[attr-defined]
