"""The SQL imports need beyond the other domains': a partner by name among a funder's."""

import uuid

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.partners.organisations.models import Partner
from services.partners.relationships.models import Relationship


async def partner_of_funder_named(
    session: AsyncSession, *, funder_id: uuid.UUID, name: str
) -> Partner | None:
    """One of the funder's partners with exactly this name (letter case aside)."""
    stmt = (
        select(Partner)
        .join(Relationship, Relationship.partner_id == Partner.id)
        .where(Relationship.funder_id == funder_id, func.lower(Partner.name) == name.lower())
        .order_by(Partner.created_at)
        .limit(1)
    )
    return (await session.execute(stmt)).scalar_one_or_none()
