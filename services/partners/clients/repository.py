"""All SQL about partner systems' API clients."""

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.partners.clients.models import ApiClient


async def get_client(session: AsyncSession, client_id: str) -> ApiClient | None:
    stmt = select(ApiClient).where(ApiClient.client_id == client_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_client_of_partner(
    session: AsyncSession, *, partner_id: uuid.UUID, client_record_id: uuid.UUID
) -> ApiClient | None:
    stmt = select(ApiClient).where(
        ApiClient.id == client_record_id, ApiClient.partner_id == partner_id
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def clients_of_partner(session: AsyncSession, *, partner_id: uuid.UUID) -> list[ApiClient]:
    stmt = (
        select(ApiClient).where(ApiClient.partner_id == partner_id).order_by(ApiClient.created_at)
    )
    return list((await session.execute(stmt)).scalars())
