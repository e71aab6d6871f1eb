"""The rules of the embedded OpenID Connect provider. Keyword-only functions; they flush.

Authorization code flow with PKCE (S256 only): a person signs in, chooses a
membership when they hold several, and the client gets a one-time code bound
to the PKCE challenge. Exchanging it starts a sign-in session (``sid``) with a
short RFC 9068 access token acting under one membership (``mid``), an id_token
and a refresh token. Refresh tokens rotate; presenting a rotated one again
revokes the whole session, as does presenting a used code again.
"""

import base64
import hashlib
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from sqlalchemy.ext.asyncio import AsyncSession

from services.common import audit
from services.common.auth import ALGORITHMS, Caller, KeyStore, TokenIssuer, hash_secret
from services.common.db import utcnow
from services.common.revocation import sid_key
from services.partners.config import OidcClient
from services.partners.identity import repository
from services.partners.identity.models import AuthorizationCode, RefreshToken, SignInSession
from services.partners.identity.oauth import AuthRequest, OAuthError
from services.partners.people import repository as people_repository
from services.partners.people.models import Membership, Person
from services.partners.revocations.service import revoke

TICKET_TYPE = "trellis-signin+jwt"
TICKET_AUDIENCE = "trellis-signin"
TICKET_TTL = 600


@dataclass(frozen=True, slots=True)
class Lifetimes:
    access_token: int
    id_token: int
    session: int
    code: int


def _invalid_grant(description: str) -> OAuthError:
    return OAuthError("invalid_grant", description)


def _system(person_id: uuid.UUID) -> Caller:
    return Caller(sub=f"person:{person_id}")


def person_sub(person_id: uuid.UUID) -> str:
    return f"person:{person_id}"


def person_id_of(sub: str) -> uuid.UUID | None:
    prefix, _, rest = sub.partition(":")
    if prefix != "person":
        return None
    try:
        return uuid.UUID(rest)
    except ValueError:
        return None


# the chooser's ticket: who signed in, for which request, carried between two pages


def make_ticket(
    keys: KeyStore, *, person: Person, auth_time: int, request: AuthRequest, issuer: str
) -> str:
    now = int(time.time())
    claims = {
        "iss": issuer,
        "aud": TICKET_AUDIENCE,
        "sub": str(person.id),
        "iat": now,
        "exp": now + TICKET_TTL,
        "auth_time": auth_time,
        "req": request.as_claims(),
    }
    key = keys.signing_key()
    return jwt.encode({"alg": "RS256", "typ": TICKET_TYPE, "kid": key.kid}, claims, key)


def read_ticket(keys: KeyStore, ticket: str, *, issuer: str) -> tuple[uuid.UUID, int, AuthRequest]:
    """The person, sign-in time and request a chooser ticket holds; ValueError if not good."""
    try:
        decoded = jwt.decode(ticket, keys.keys, algorithms=ALGORITHMS)
        jwt.JWTClaimsRegistry(
            iss={"essential": True, "value": issuer},
            aud={"essential": True, "value": TICKET_AUDIENCE},
            exp={"essential": True},
        ).validate(decoded.claims)
        if decoded.header.get("typ") != TICKET_TYPE:
            raise ValueError("not a sign-in ticket")
        claims = decoded.claims
        return uuid.UUID(claims["sub"]), int(claims["auth_time"]), AuthRequest(**claims["req"])
    except (JoseError, KeyError, TypeError) as exc:
        raise ValueError("the sign-in ticket is not valid") from exc


# codes


async def issue_code(
    *,
    session: AsyncSession,
    request: AuthRequest,
    person: Person,
    membership: Membership,
    auth_time: datetime,
    ttl: int,
) -> str:
    """A one-time code for the client, bound to the PKCE challenge; only its hash is kept."""
    code = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(
        AuthorizationCode(
            code_hash=hash_secret(code),
            client_id=request.client_id,
            redirect_uri=request.redirect_uri,
            person_id=person.id,
            membership_id=membership.id,
            scope=request.scope,
            nonce=request.nonce,
            code_challenge=request.code_challenge,
            auth_time=auth_time,
            created_at=now,
            expires_at=now + timedelta(seconds=ttl),
        )
    )
    await session.flush()
    return code


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


async def _active(
    session: AsyncSession, person_id: uuid.UUID, membership_id: uuid.UUID
) -> tuple[Person, Membership] | None:
    person = await people_repository.get_person(session, person_id)
    membership = await people_repository.get_membership(session, membership_id)
    if (
        person is None
        or person.disabled_at is not None
        or membership is None
        or membership.removed_at is not None
        or membership.person_id != person.id
    ):
        return None
    return person, membership


async def exchange_code(
    *,
    session: AsyncSession,
    client: OidcClient,
    code: str | None,
    redirect_uri: str | None,
    code_verifier: str | None,
    issuer: TokenIssuer,
    lifetimes: Lifetimes,
) -> dict[str, Any]:
    """The authorization_code grant (RFC 6749 4.1.3 with RFC 7636's verifier)."""
    if not code:
        raise OAuthError("invalid_request", "Send the code the authorization endpoint gave you.")
    if not code_verifier:
        raise OAuthError("invalid_request", "PKCE is required: send the code_verifier.")
    found = await repository.get_code_by_hash(session, hash_secret(code))
    if found is None or found.client_id != client.client_id:
        raise _invalid_grant("The code is not valid.")
    now = utcnow()
    if found.used_at is not None:
        # A replayed code: whatever it was exchanged for is revoked (RFC 6749 4.1.2).
        if found.session_id is not None:
            await repository.revoke_sessions(
                session, now=now, reason="code_reuse", session_id=found.session_id
            )
        raise _invalid_grant("The code was already used.")
    if found.expires_at <= now:
        raise _invalid_grant("The code has expired; sign in again.")
    if redirect_uri != found.redirect_uri:
        raise _invalid_grant("redirect_uri is not the one of the authorization request.")
    if not secrets.compare_digest(s256(code_verifier), found.code_challenge):
        raise _invalid_grant("The code_verifier does not match the code_challenge.")
    active = await _active(session, found.person_id, found.membership_id)
    if active is None:
        raise _invalid_grant("This account or membership is no longer active.")
    if not await repository.use_code(session, found.id, now):
        raise _invalid_grant("The code was already used.")
    person, membership = active
    signin = SignInSession(
        id=uuid.uuid4(),
        person_id=person.id,
        membership_id=membership.id,
        client_id=client.client_id,
        scope=found.scope,
        auth_time=found.auth_time,
        created_at=now,
        expires_at=now + timedelta(seconds=lifetimes.session),
    )
    session.add(signin)
    await session.flush()
    found.session_id = signin.id
    audit.record(
        session,
        caller=_system(person.id),
        action="sign_in",
        entity_type="signin_session",
        entity_id=signin.id,
        changes={"client_id": client.client_id, "membership_id": membership.id},
    )
    return await _token_response(
        session,
        issuer=issuer,
        lifetimes=lifetimes,
        signin=signin,
        person=person,
        membership=membership,
        nonce=found.nonce,
    )


async def refresh(
    *,
    session: AsyncSession,
    client: OidcClient,
    refresh_token: str | None,
    scope: str | None,
    issuer: TokenIssuer,
    lifetimes: Lifetimes,
) -> dict[str, Any]:
    """The refresh_token grant (RFC 6749 section 6) with rotation and reuse detection."""
    if not refresh_token:
        raise OAuthError("invalid_request", "Send the refresh_token.")
    found = await repository.get_refresh_by_hash(session, hash_secret(refresh_token))
    if found is None:
        raise _invalid_grant("The refresh token is not valid.")
    signin = await repository.get_signin_session(session, found.session_id)
    assert signin is not None
    if signin.client_id != client.client_id:
        raise _invalid_grant("The refresh token is not valid.")
    now = utcnow()
    if signin.revoked_at is not None:
        raise _invalid_grant("This sign-in has ended; sign in again.")
    if found.rotated_at is not None:
        # Revocation point: a rotated refresh token came back, so someone holds a copy.
        await repository.revoke_sessions(
            session, now=now, reason="refresh_token_reuse", session_id=signin.id
        )
        await revoke(session=session, key=sid_key(str(signin.id)), reason="refresh_token_reuse")
        audit.record(
            session,
            caller=_system(signin.person_id),
            action="revoke",
            entity_type="signin_session",
            entity_id=signin.id,
            changes={"reason": "refresh_token_reuse"},
        )
        raise _invalid_grant(
            "This refresh token was already used, so the sign-in is ended for safety; "
            "sign in again."
        )
    if signin.expires_at <= now:
        raise _invalid_grant("This sign-in has expired; sign in again.")
    if scope is not None and not set(scope.split()) <= set(signin.scope.split()):
        raise OAuthError("invalid_scope", "A refresh cannot widen the scope of the sign-in.")
    active = await _active(session, signin.person_id, signin.membership_id)
    if active is None:
        await repository.revoke_sessions(
            session, now=now, reason="membership_removed", session_id=signin.id
        )
        raise _invalid_grant("This account or membership is no longer active.")
    if not await repository.rotate_refresh(session, found.id, now):
        await repository.revoke_sessions(
            session, now=now, reason="refresh_token_reuse", session_id=signin.id
        )
        await revoke(session=session, key=sid_key(str(signin.id)), reason="refresh_token_reuse")
        raise _invalid_grant("This refresh token was already used; sign in again.")
    person, membership = active
    return await _token_response(
        session,
        issuer=issuer,
        lifetimes=lifetimes,
        signin=signin,
        person=person,
        membership=membership,
        nonce=None,
    )


def _at_hash(access_token: str) -> str:
    digest = hashlib.sha256(access_token.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode("ascii")


def mint_id_token(
    issuer: TokenIssuer,
    *,
    signin: SignInSession,
    person: Person,
    membership: Membership,
    nonce: str | None,
    access_token: str,
    ttl: int,
) -> str:
    now = int(time.time())
    scopes = signin.scope.split()
    claims: dict[str, Any] = {
        "iss": issuer.issuer,
        "sub": person_sub(person.id),
        "aud": signin.client_id,
        "azp": signin.client_id,
        "iat": now,
        "exp": now + ttl,
        "auth_time": int(signin.auth_time.timestamp()),
        "sid": str(signin.id),
        "mid": str(membership.id),
        "at_hash": _at_hash(access_token),
    }
    if nonce:
        claims["nonce"] = nonce
    if "profile" in scopes:
        claims["name"] = person.name
    if "email" in scopes:
        claims["email"] = person.email
        claims["email_verified"] = person.email_verified_at is not None
    key = issuer.keys.signing_key()
    return jwt.encode({"alg": "RS256", "typ": "JWT", "kid": key.kid}, claims, key)


def mint_access_token(
    issuer: TokenIssuer,
    *,
    person: Person,
    membership: Membership,
    client_id: str,
    sid: uuid.UUID,
    scope: str,
    ttl: int,
) -> str:
    staff = membership.role == "funder_staff"
    extra: dict[str, Any] = {}
    if staff and membership.decision_limit is not None:
        extra["decision_limit"] = {
            "amount": membership.decision_limit,
            "currency": membership.decision_limit_currency,
        }
    return issuer.mint(
        sub=person_sub(person.id),
        # A funder's staff member's capabilities (finance, trustee, staff_admin) are roles.
        roles=[membership.role, *(sorted(membership.capabilities or []) if staff else [])],
        extra=extra,
        client_id=client_id,
        funder_id=membership.funder_id,
        partner_id=membership.partner_id,
        name=person.name,
        scope=scope,
        ttl=ttl,
        sid=str(sid),
        mid=membership.id,
    )


async def _token_response(
    session: AsyncSession,
    *,
    issuer: TokenIssuer,
    lifetimes: Lifetimes,
    signin: SignInSession,
    person: Person,
    membership: Membership,
    nonce: str | None,
) -> dict[str, Any]:
    raw_refresh = secrets.token_urlsafe(48)
    session.add(
        RefreshToken(token_hash=hash_secret(raw_refresh), session_id=signin.id, created_at=utcnow())
    )
    await session.flush()
    scope = f"{signin.scope} {membership.role}".strip()
    access = mint_access_token(
        issuer,
        person=person,
        membership=membership,
        client_id=signin.client_id,
        sid=signin.id,
        scope=scope,
        ttl=lifetimes.access_token,
    )
    body: dict[str, Any] = {
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": lifetimes.access_token,
        "refresh_token": raw_refresh,
        "scope": signin.scope,
    }
    if "openid" in signin.scope.split():
        body["id_token"] = mint_id_token(
            issuer,
            signin=signin,
            person=person,
            membership=membership,
            nonce=nonce,
            access_token=access,
            ttl=lifetimes.id_token,
        )
    return body


# sign-out and userinfo


def read_id_token_hint(keys: KeyStore, token: str, *, issuer: str) -> dict[str, Any]:
    """The claims of an id_token this provider issued; expired ones are fine (OIDC RP logout)."""
    try:
        decoded = jwt.decode(token, keys.keys, algorithms=ALGORITHMS)
    except (JoseError, ValueError) as exc:
        raise ValueError("id_token_hint is not an id_token of this provider") from exc
    if decoded.claims.get("iss") != issuer or decoded.header.get("typ") not in (None, "JWT"):
        raise ValueError("id_token_hint is not an id_token of this provider")
    return decoded.claims


async def end_session(*, session: AsyncSession, sid: str, person_sub_claim: str) -> bool:
    """RP-initiated logout: end the sign-in session named by the id_token's ``sid``."""
    try:
        session_id = uuid.UUID(sid)
    except ValueError:
        return False
    signin = await repository.get_signin_session(session, session_id)
    if signin is None or person_sub(signin.person_id) != person_sub_claim:
        return False
    # Revocation point: sign-out.
    revoked = await repository.revoke_sessions(
        session, now=utcnow(), reason="logout", session_id=signin.id
    )
    await revoke(session=session, key=sid_key(str(signin.id)), reason="logout")
    if revoked:
        audit.record(
            session,
            caller=_system(signin.person_id),
            action="sign_out",
            entity_type="signin_session",
            entity_id=signin.id,
        )
    return True


async def userinfo(*, session: AsyncSession, caller: Caller) -> dict[str, Any]:
    """OIDC userinfo for a person's access token: who they are and what they act as."""
    person_id = person_id_of(caller.sub or "")
    person = await people_repository.get_person(session, person_id) if person_id else None
    if person is None or person.disabled_at is not None:
        raise OAuthError(
            "invalid_token",
            "This access token is not a person's.",
            401,
            {"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    memberships = await people_repository.active_memberships(session, person.id)
    labels = await people_repository.membership_labels(session, memberships)
    return {
        "sub": person_sub(person.id),
        "name": person.name,
        "email": person.email,
        "email_verified": person.email_verified_at is not None,
        "mid": caller.claims.get("mid"),
        "roles": sorted(caller.roles),
        "funder_id": str(caller.funder_id) if caller.funder_id else None,
        "partner_id": str(caller.partner_id) if caller.partner_id else None,
        "memberships": [
            {
                "id": str(m.id),
                "role": m.role,
                "funder_id": str(m.funder_id) if m.funder_id else None,
                "partner_id": str(m.partner_id) if m.partner_id else None,
                "label": labels[m.id],
            }
            for m in memberships
        ],
    }


async def start_external_session(
    *,
    session: AsyncSession,
    person: Person,
    membership: Membership,
    client_id: str,
    issuer: TokenIssuer,
    lifetimes: Lifetimes,
) -> dict[str, Any]:
    """A sign-in session for a person an external identity provider vouched for."""
    now = utcnow()
    signin = SignInSession(
        id=uuid.uuid4(),
        person_id=person.id,
        membership_id=membership.id,
        client_id=client_id,
        scope="openid profile email",
        auth_time=now,
        created_at=now,
        expires_at=now + timedelta(seconds=lifetimes.session),
    )
    session.add(signin)
    await session.flush()
    return await _token_response(
        session,
        issuer=issuer,
        lifetimes=lifetimes,
        signin=signin,
        person=person,
        membership=membership,
        nonce=None,
    )
