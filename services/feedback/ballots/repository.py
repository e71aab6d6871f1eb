"""All SQL of ballot keys."""

import uuid

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.feedback.models import BallotKey


async def key_of(session: AsyncSession, round_id: uuid.UUID) -> BallotKey | None:
    return await session.get(BallotKey, round_id)


def add_key(
    session: AsyncSession, *, round_id: uuid.UUID, key_id: str, public_key: str, private_key: str
) -> None:
    session.add(
        BallotKey(round_id=round_id, key_id=key_id, public_key=public_key, private_key=private_key)
    )


async def erase_private_key(session: AsyncSession, round_id: uuid.UUID) -> None:
    await session.execute(
        update(BallotKey).where(BallotKey.round_id == round_id).values(private_key=None)
    )


async def key_ids(session: AsyncSession, round_ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    if not round_ids:
        return {}
    stmt = select(BallotKey.round_id, BallotKey.key_id).where(BallotKey.round_id.in_(round_ids))
    return {r: k for r, k in (await session.execute(stmt)).all()}
