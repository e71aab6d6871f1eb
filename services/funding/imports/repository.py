"""The SQL a 360Giving import needs: which of the file's grants are here already."""

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.funding.grants.models import Grant


async def grants_by_360_id(session: AsyncSession, ids: list[str]) -> dict[str, Grant]:
    if not ids:
        return {}
    rows = await session.execute(select(Grant).where(Grant.grant_360_id.in_(ids)))
    return {grant.grant_360_id: grant for grant in rows.scalars() if grant.grant_360_id}
