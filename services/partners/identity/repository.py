"""All SQL of the embedded OpenID Connect provider: codes, sign-in sessions, refresh tokens."""

import uuid
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import select

from services.partners.identity.models import AuthorizationCode, RefreshToken, SignInSession


async def get_code_by_hash(session: AsyncSession, code_hash: str) -> AuthorizationCode | None:
    stmt = select(AuthorizationCode).where(AuthorizationCode.code_hash == code_hash)
    return (await session.execute(stmt)).scalar_one_or_none()


async def use_code(session: AsyncSession, code_id: uuid.UUID, now: datetime) -> bool:
    """Mark a code used, once: False if it was used already (a replay)."""
    result = await session.execute(
        update(AuthorizationCode)
        .where(AuthorizationCode.id == code_id, AuthorizationCode.used_at.is_(None))
        .values(used_at=now)
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


async def get_signin_session(session: AsyncSession, session_id: uuid.UUID) -> SignInSession | None:
    return await session.get(SignInSession, session_id)


async def get_refresh_by_hash(session: AsyncSession, token_hash: str) -> RefreshToken | None:
    stmt = select(RefreshToken).where(RefreshToken.token_hash == token_hash)
    return (await session.execute(stmt)).scalar_one_or_none()


async def rotate_refresh(session: AsyncSession, token_id: uuid.UUID, now: datetime) -> bool:
    """Mark a refresh token rotated, once: False if it was rotated already (a reuse)."""
    result = await session.execute(
        update(RefreshToken)
        .where(RefreshToken.id == token_id, RefreshToken.rotated_at.is_(None))
        .values(rotated_at=now)
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


async def revoke_sessions(
    session: AsyncSession,
    *,
    now: datetime,
    reason: str,
    session_id: uuid.UUID | None = None,
    person_id: uuid.UUID | None = None,
    membership_id: uuid.UUID | None = None,
) -> list[uuid.UUID]:
    """Revoke the live sign-in sessions that match; the ids of those revoked."""
    stmt = select(SignInSession.id).where(SignInSession.revoked_at.is_(None))
    if session_id is not None:
        stmt = stmt.where(SignInSession.id == session_id)
    if person_id is not None:
        stmt = stmt.where(SignInSession.person_id == person_id)
    if membership_id is not None:
        stmt = stmt.where(SignInSession.membership_id == membership_id)
    ids = list((await session.execute(stmt)).scalars())
    if ids:
        await session.execute(
            update(SignInSession)
            .where(SignInSession.id.in_(ids), SignInSession.revoked_at.is_(None))
            .values(revoked_at=now, revoked_reason=reason)
        )
    return ids
