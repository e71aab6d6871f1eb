"""Revoking grants: call ``revoke`` in the same transaction as the change that revokes.

Every service and the gateway learn of it within the poll interval
(``services.common.revocation``); this service reads its own table.
"""

from datetime import datetime

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Caller
from services.common.db import Database, after_commit, utcnow
from services.common.revocation import RevocationList, RevocationSource
from services.partners.revocations import repository
from services.partners.revocations.models import Revocation


async def revoke(
    *,
    session: AsyncSession,
    key: str,
    reason: str,
    caller: Caller | None = None,
    local: RevocationList | None = None,
) -> Revocation:
    """Refuse from now on every token issued under ``key`` until now.

    ``key`` is made with ``services.common.revocation``'s ``client_key``, ``sid_key``,
    ``mid_key`` or ``sub_key``. Flushes; the caller's transaction commits it.
    ``local`` (this replica's ``RevocationList``) learns of it right after the commit,
    so this replica refuses the token from the very next request rather than after its
    next refresh; the other replicas learn of it at their next poll.
    """
    revocation = Revocation(
        key=key,
        revoked_at=utcnow(),
        revoked_by=caller.actor if caller is not None else "trellis",
        reason=reason,
    )
    session.add(revocation)
    await session.flush()
    if local is not None:
        after_commit(session, lambda: local.add([(key, revocation.revoked_at)]))
    return revocation


async def revoked_since(*, session: AsyncSession, since: datetime) -> list[tuple[str, datetime]]:
    return await repository.revoked_since(session, since)


def database_source(app: FastAPI) -> RevocationSource:
    """Partners' own revocation list comes straight from its table."""

    async def fetch(since: datetime) -> tuple[list[tuple[str, datetime]], datetime]:
        db: Database = app.state.db
        async with db.sessionmaker() as session:
            as_of = utcnow()
            rows = await repository.revoked_since(session, since)
        return rows, as_of

    return fetch
