"""Tables of the embedded OpenID Connect provider: codes, sign-in sessions, refresh tokens.

A sign-in session is one refresh-token family: its id is the ``sid`` claim of
every token issued from it. Refresh tokens rotate; presenting one that was
already rotated revokes the whole family (it was stolen or replayed).
Codes and refresh tokens are stored only as SHA-256 hashes.
"""

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from services.common.db import IdMixin, UTCDateTime
from services.partners.db import Base


class SignInSession(IdMixin, Base):
    """One sign-in by one person at one client, acting under one membership."""

    __tablename__ = "signin_sessions"

    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("people.id"), index=True)
    membership_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("memberships.id"), index=True)
    client_id: Mapped[str] = mapped_column(String(100))
    scope: Mapped[str] = mapped_column(String(500))
    auth_time: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # logout, refresh_token_reuse, code_reuse, membership_removed, person_disabled,
    # password_reset: where the lead's shared revocation mechanism takes over.
    revoked_reason: Mapped[str | None] = mapped_column(String(40))


class AuthorizationCode(IdMixin, Base):
    """A one-time authorization code (RFC 6749 section 4.1) bound to its PKCE challenge."""

    __tablename__ = "authorization_codes"

    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    client_id: Mapped[str] = mapped_column(String(100))
    redirect_uri: Mapped[str] = mapped_column(Text)
    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("people.id"))
    membership_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("memberships.id"))
    scope: Mapped[str] = mapped_column(String(500))
    nonce: Mapped[str | None] = mapped_column(String(500))
    code_challenge: Mapped[str] = mapped_column(String(128))
    auth_time: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The session the code was exchanged for: revoked if the code is presented again.
    session_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("signin_sessions.id"))


class RefreshToken(IdMixin, Base):
    """One refresh token of a sign-in session; ``rotated_at`` once exchanged for the next."""

    __tablename__ = "refresh_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("signin_sessions.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
