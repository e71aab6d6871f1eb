"""All SQL of the timeline."""

import uuid
from typing import Any

from sqlalchemy import and_, delete, exists, false, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.db import insert_or_ignore
from services.common.lists import ListQuery, Page, fetch_page, filter_values, parse_uuid_list
from services.partners.access import date_bound
from services.partners.timeline.models import ENTRY_KINDS, GrantFunder, TimelineEntry

GRANT_KINDS = ("grant.approved", "grant.varied", "instalment.paid", "grant.withdrawn")
SORTS = {"occurred_at": TimelineEntry.occurred_at}


async def delete_entries(session: AsyncSession, *, kind: str, source_ids: list[uuid.UUID]) -> None:
    if source_ids:
        await session.execute(
            delete(TimelineEntry).where(
                TimelineEntry.kind == kind, TimelineEntry.source_id.in_(source_ids)
            )
        )


async def add_grant_funders(
    session: AsyncSession, *, grant_id: uuid.UUID, funder_ids: set[uuid.UUID]
) -> None:
    """Remember who funds a grant; events about one grant may be handled at the same time."""
    for funder_id in sorted(funder_ids):
        await session.execute(
            insert_or_ignore(session, GrantFunder).values(grant_id=grant_id, funder_id=funder_id)
        )


async def claim_entry(
    session: AsyncSession, *, kind: str, source_id: uuid.UUID, values: dict[str, Any]
) -> TimelineEntry:
    """The entry of one record, made from ``values`` if new, locked for this transaction."""
    await session.execute(
        insert_or_ignore(session, TimelineEntry).values(
            id=uuid.uuid4(), kind=kind, source_id=source_id, **values
        )
    )
    stmt = (
        select(TimelineEntry)
        .where(TimelineEntry.kind == kind, TimelineEntry.source_id == source_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return (await session.execute(stmt)).scalar_one()


async def entries_of_partner(
    session: AsyncSession,
    query: ListQuery,
    *,
    partner_id: uuid.UUID,
    funder_id: uuid.UUID | None,
    shared: bool = False,
) -> Page:
    """A partner's timeline: everything it may see (``funder_id`` None), or what one funder may
    (entries of no funder, the partner's own documents, only when the partner ``shared``)."""
    stmt = select(TimelineEntry).where(TimelineEntry.partner_id == partner_id)
    if funder_id is None:
        stmt = stmt.where(TimelineEntry.visible_to_partner.is_(True))
    else:
        funds_grant = exists().where(
            GrantFunder.grant_id == TimelineEntry.grant_id, GrantFunder.funder_id == funder_id
        )
        stmt = stmt.where(
            or_(
                and_(
                    TimelineEntry.kind.not_in(GRANT_KINDS),
                    or_(
                        TimelineEntry.funder_id == funder_id,
                        and_(TimelineEntry.funder_id.is_(None), true() if shared else false()),
                    ),
                ),
                and_(TimelineEntry.kind.in_(GRANT_KINDS), funds_grant),
            )
        )
    stmt = _filters(stmt, query.filters)
    return await fetch_page(
        session,
        stmt,
        query,
        sort_columns=SORTS,
        id_column=TimelineEntry.id,
        # A funder's view tests which grants it funds, kept in their own table.
        versioned="timeline_entries"
        if funder_id is None
        else ("timeline_entries", "timeline_grant_funders"),
    )


def _filters(stmt: Any, filters: dict[str, Any]) -> Any:
    if "id" in filters:
        stmt = stmt.where(TimelineEntry.id.in_(parse_uuid_list("id", filters["id"])))
    if "kind" in filters:
        stmt = stmt.where(
            TimelineEntry.kind.in_(filter_values("kind", filters["kind"], ENTRY_KINDS))
        )
    if "funder_id" in filters:
        stmt = stmt.where(
            TimelineEntry.funder_id.in_(parse_uuid_list("funder_id", filters["funder_id"]))
        )
    if "partner_id" in filters:
        stmt = stmt.where(
            TimelineEntry.partner_id.in_(parse_uuid_list("partner_id", filters["partner_id"]))
        )
    if "grant_id" in filters:
        stmt = stmt.where(
            TimelineEntry.grant_id.in_(parse_uuid_list("grant_id", filters["grant_id"]))
        )
    if "occurred_at_gte" in filters:
        bound = date_bound("occurred_at_gte", filters["occurred_at_gte"], upper=False)
        stmt = stmt.where(TimelineEntry.occurred_at >= bound)
    if "occurred_at_lte" in filters:
        bound = date_bound("occurred_at_lte", filters["occurred_at_lte"], upper=True)
        stmt = stmt.where(TimelineEntry.occurred_at <= bound)
    return stmt
