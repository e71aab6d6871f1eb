"""All SQL of a funder's feedback settings (k and the public scorecard)."""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from services.feedback.models import DEFAULT_K, FeedbackSettings


async def settings_of(session: AsyncSession, funder_id: uuid.UUID) -> FeedbackSettings | None:
    return await session.get(FeedbackSettings, funder_id)


async def k_of(session: AsyncSession, funder_id: uuid.UUID) -> int:
    """The funder's anonymity threshold (5 unless it set another, never below 3)."""
    found = await settings_of(session, funder_id)
    return found.k_threshold if found is not None else DEFAULT_K
