"""All SQL about revocations."""

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.partners.revocations.models import Revocation


async def revoked_since(session: AsyncSession, since: datetime) -> list[tuple[str, datetime]]:
    stmt = (
        select(Revocation.key, Revocation.revoked_at)
        .where(Revocation.revoked_at > since)
        .order_by(Revocation.revoked_at)
    )
    return [(key, revoked_at) for key, revoked_at in (await session.execute(stmt)).all()]
