"""All SQL of open data: funder settings and the keyset reads the 360Giving export streams."""

import uuid
from datetime import date
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from services.funding.grants.models import Grant, GrantFundingOrganisation
from services.funding.opendata.models import FunderSetting

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


async def export_batch(
    session: AsyncSession,
    *,
    funder_id: uuid.UUID,
    after: tuple[date, uuid.UUID] | None,
    limit: int,
) -> list[Any]:
    """The next ``limit`` awarded grants of a funder in award order, after ``after``."""
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
    return list((await session.execute(stmt)).all())


async def funders_of_grants(
    session: AsyncSession, grant_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[uuid.UUID]]:
    """The funding organisations of each grant, in order."""
    stmt = (
        select(GrantFundingOrganisation.grant_id, GrantFundingOrganisation.funder_id)
        .where(GrantFundingOrganisation.grant_id.in_(grant_ids))
        .order_by(GrantFundingOrganisation.grant_id, GrantFundingOrganisation.position)
    )
    result: dict[uuid.UUID, list[uuid.UUID]] = {}
    for grant_id, funder_id in (await session.execute(stmt)).all():
        result.setdefault(grant_id, []).append(funder_id)
    return result
