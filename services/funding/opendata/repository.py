"""All SQL of open data: funder settings and the keyset reads the 360Giving export streams."""

import uuid
from datetime import date
from typing import Any

from sqlalchemy import exists, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from services.funding.grants.models import Grant, GrantFundingOrganisation
from services.funding.opendata.models import FunderSetting
from services.funding.pools.models import Pool, PoolMember

EXPORTED_STATUSES = ("approved", "active", "completed")
EXPORT_COLUMNS = (
    Grant.id,
    Grant.list_date,
    Grant.grant_360_id,
    Grant.title,
    Grant.description,
    Grant.currency,
    Grant.amount_awarded,
    Grant.approved_on,
    Grant.planned_start_date,
    Grant.planned_end_date,
    Grant.partner_id,
    Grant.updated_at,
    Grant.funder_id,
    Grant.pool_id,
)


async def get_settings(
    session: AsyncSession, funder_id: uuid.UUID, *, for_update: bool = False
) -> FunderSetting | None:
    stmt = select(FunderSetting).where(FunderSetting.funder_id == funder_id)
    if for_update:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_settings_by_slug(session: AsyncSession, slug: str) -> FunderSetting | None:
    stmt = select(FunderSetting).where(FunderSetting.funder_slug == slug)
    return (await session.execute(stmt)).scalar_one_or_none()


def _pools_of(funder_id: uuid.UUID) -> Any:
    return select(PoolMember.pool_id).where(PoolMember.funder_id == funder_id)


def _funds(funder_id: uuid.UUID) -> Any:
    """The grant names ``funder_id`` as a funding organisation."""
    org = aliased(GrantFundingOrganisation)
    return exists().where(org.grant_id == Grant.id, org.funder_id == funder_id)


async def export_batch(
    session: AsyncSession,
    *,
    funder_id: uuid.UUID,
    after: tuple[date, uuid.UUID] | None,
    limit: int,
    pooled: bool = True,
) -> list[Any]:
    """The next ``limit`` awarded grants of a funder in award order, after ``after``: its own
    (pooled grants it hosts included) merged with the pooled grants it funds as a member
    (``pooled=False`` when it funds none: one query then)."""
    stmt = (
        select(*EXPORT_COLUMNS)
        .where(
            Grant.funder_id == funder_id,
            Grant.status.in_(EXPORTED_STATUSES),
            Grant.grant_360_id.is_not(None),
        )
        .order_by(Grant.list_date, Grant.id)
        .limit(limit)
    )
    if after is not None:
        stmt = stmt.where(tuple_(Grant.list_date, Grant.id) > after)
    # Plain rows on the session's connection: no ORM loading for a read of columns.
    connection = await session.connection()
    rows = list((await connection.execute(stmt)).all())
    if not pooled:
        return rows
    others = (
        select(*EXPORT_COLUMNS)
        .where(
            Grant.pool_id.in_(_pools_of(funder_id)),
            Grant.funder_id != funder_id,
            _funds(funder_id),
            Grant.status.in_(EXPORTED_STATUSES),
            Grant.grant_360_id.is_not(None),
        )
        .order_by(Grant.list_date, Grant.id)
        .limit(limit)
    )
    if after is not None:
        others = others.where(tuple_(Grant.list_date, Grant.id) > after)
    rows += (await connection.execute(others)).all()
    return sorted(rows, key=lambda r: (r.list_date, r.id))[:limit]


async def pooled_shape(session: AsyncSession, funder_id: uuid.UUID) -> int:
    """The most funding organisations of any pooled grant the funder funds (0 if none)."""
    counts = (
        select(func.count().label("n"))
        .select_from(GrantFundingOrganisation)
        .join(Grant, Grant.id == GrantFundingOrganisation.grant_id)
        .where(
            Grant.pool_id.in_(_pools_of(funder_id)),
            Grant.status.in_(EXPORTED_STATUSES),
            _funds(funder_id),
        )
        .group_by(GrantFundingOrganisation.grant_id)
        .subquery()
    )
    return int((await session.execute(select(func.max(counts.c.n)))).scalar() or 0)


async def pool_names(session: AsyncSession, pool_ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    if not pool_ids:
        return {}
    stmt = select(Pool.id, Pool.name).where(Pool.id.in_(pool_ids))
    return {pool_id: name for pool_id, name in (await session.execute(stmt)).all()}


async def funders_of_grants(
    session: AsyncSession, grant_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[tuple[uuid.UUID, int | None]]]:
    """The funding organisations of each grant, in order, with their shares (pooled grants)."""
    stmt = (
        select(
            GrantFundingOrganisation.grant_id,
            GrantFundingOrganisation.funder_id,
            GrantFundingOrganisation.share_amount,
        )
        .where(GrantFundingOrganisation.grant_id.in_(grant_ids))
        .order_by(GrantFundingOrganisation.grant_id, GrantFundingOrganisation.position)
    )
    result: dict[uuid.UUID, list[tuple[uuid.UUID, int | None]]] = {}
    for grant_id, funder_id, share in (await session.execute(stmt)).all():
        result.setdefault(grant_id, []).append((funder_id, share))
    return result
