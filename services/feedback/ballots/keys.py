"""A round's ballot key: made when the round opens, its private half erased when it closes."""

import asyncio
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from services.feedback.ballots import repository
from trellis_ballot import rsabssa


async def create_key(*, session: AsyncSession, round_id: uuid.UUID) -> None:
    """Make the round's ballot key (when it opens); generation runs off the event loop."""
    private = await asyncio.to_thread(rsabssa.generate_key)
    public = private.public_key()
    repository.add_key(
        session,
        round_id=round_id,
        key_id=rsabssa.key_id(public),
        public_key=rsabssa.public_pem(public),
        private_key=rsabssa.private_pem(private),
    )


async def erase_key(*, session: AsyncSession, round_id: uuid.UUID) -> None:
    """Forget the private half when the round closes: no ballot can be signed after."""
    await repository.erase_private_key(session, round_id)
