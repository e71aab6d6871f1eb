"""All SQL of gatherings."""

import uuid
from collections import defaultdict
from typing import Any

from sqlalchemy import ColumnElement, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.lists import ListQuery, Page, fetch_page, filter_values, where_ids
from services.partners.access import date_bound
from services.partners.gatherings.models import GATHERING_KINDS, Gathering, Invitee

SORTS: dict[str, ColumnElement[Any]] = {
    "held_at": Gathering.held_at,
    "created_at": Gathering.created_at,
    "title": Gathering.title,
}


async def get(session: AsyncSession, gathering_id: uuid.UUID) -> Gathering | None:
    return await session.get(Gathering, gathering_id)


async def invitees_of(
    session: AsyncSession, gathering_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[Invitee]]:
    if not gathering_ids:
        return {}
    stmt = (
        select(Invitee).where(Invitee.gathering_id.in_(gathering_ids)).order_by(Invitee.partner_id)
    )
    found: dict[uuid.UUID, list[Invitee]] = defaultdict(list)
    for invitee in (await session.execute(stmt)).scalars():
        found[invitee.gathering_id].append(invitee)
    return found


async def remove_invitees(session: AsyncSession, ids: list[uuid.UUID]) -> None:
    if ids:
        await session.execute(delete(Invitee).where(Invitee.id.in_(ids)))


async def list_gatherings(
    session: AsyncSession,
    query: ListQuery,
    *,
    funder_id: uuid.UUID | None = None,
    invited_partner_id: uuid.UUID | None = None,
) -> Page:
    """One funder's gatherings (staff), or those one partner was invited to."""
    stmt = select(Gathering)
    if funder_id is not None:
        stmt = stmt.where(Gathering.funder_id == funder_id)
    if invited_partner_id is not None:
        invited = select(Invitee.gathering_id).where(Invitee.partner_id == invited_partner_id)
        stmt = stmt.where(Gathering.id.in_(invited))
    f = query.filters
    stmt = where_ids(stmt, f, {"id": Gathering.id, "funder_id": Gathering.funder_id})
    if "partner_id" in f:
        ids = where_ids(select(Invitee.gathering_id), f, {"partner_id": Invitee.partner_id})
        if invited_partner_id is not None:
            # A partner filters by itself only: who else was invited is not its to learn.
            ids = ids.where(Invitee.partner_id == invited_partner_id)
        stmt = stmt.where(Gathering.id.in_(ids))
    if "kind" in f:
        stmt = stmt.where(Gathering.kind.in_(filter_values("kind", f["kind"], GATHERING_KINDS)))
    if "held_at_gte" in f:
        stmt = stmt.where(
            Gathering.held_at >= date_bound("held_at_gte", f["held_at_gte"], upper=False)
        )
    if "held_at_lte" in f:
        stmt = stmt.where(
            Gathering.held_at <= date_bound("held_at_lte", f["held_at_lte"], upper=True)
        )
    return await fetch_page(session, stmt, query, sort_columns=SORTS, id_column=Gathering.id)
