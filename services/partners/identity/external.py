"""People signed in by an external OpenID Connect provider get Trellis memberships.

The rule (RFC 8693 token exchange at ``/oauth/token``): a client sends the id_token
the external provider gave it (``subject_token``, ``subject_token_type`` =
``urn:ietf:params:oauth:token-type:id_token``). Trellis checks it against that
provider's keys, issuer and audience (``TRELLIS_PARTNERS_EXTERNAL_IDPS``), then:

1. a person already linked to this provider's ``(iss, sub)`` is that person;
2. otherwise, if the provider says ``email_verified`` and a Trellis person has
   that email *and Trellis verified it too* (the person accepted an invitation
   sent to it, or reset a password through it), the provider's ``(iss, sub)`` is
   linked to that person, once and for good (an email change at the provider
   later moves nothing);
3. otherwise there is no Trellis person: ask to be invited.

The person then acts under one of their memberships (``membership_id`` when they
hold several), with the same short access tokens and rotating refresh tokens as
people who sign in with a Trellis password.
"""

import base64
import json
import time
from dataclasses import dataclass
from typing import Any

import httpx
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy.ext.asyncio import AsyncSession

from services.common import audit
from services.common.auth import ALGORITHMS, Caller
from services.common.db import utcnow
from services.partners.config import ExternalIdp
from services.partners.identity.oauth import OAuthError
from services.partners.people import repository as people_repository
from services.partners.people.models import ExternalIdentity, Membership, Person

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ID_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:id_token"
JWKS_REFRESH = 30.0


def _unverified_issuer(token: str) -> str | None:
    try:
        payload = token.split(".")[1]
        return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["iss"]
    except (IndexError, ValueError, KeyError, TypeError):
        return None


@dataclass
class _Keys:
    keys: KeySet
    fetched_at: float


class ExternalProviders:
    """Verifies external providers' id_tokens, keeping each provider's JWKS for a while."""

    def __init__(self, providers: list[ExternalIdp], http: httpx.AsyncClient) -> None:
        self.providers = {p.issuer: p for p in providers}
        self.http = http
        self._keys: dict[str, _Keys] = {}

    async def _jwks(self, idp: ExternalIdp, *, force: bool = False) -> KeySet:
        cached = self._keys.get(idp.issuer)
        now = time.monotonic()
        if cached is not None and not (force and now - cached.fetched_at > JWKS_REFRESH):
            return cached.keys
        try:
            response = await self.http.get(idp.jwks_uri)
            response.raise_for_status()
            keys = KeySet.import_key_set(response.json())
        except (httpx.HTTPError, ValueError, JoseError) as exc:
            if cached is not None:
                return cached.keys
            raise OAuthError(
                "invalid_grant", "The identity provider's keys could not be fetched; try again."
            ) from exc
        self._keys[idp.issuer] = _Keys(keys, now)
        return keys

    async def verify(self, token: str) -> tuple[ExternalIdp, dict[str, Any]]:
        idp = self.providers.get(_unverified_issuer(token) or "")
        if idp is None:
            raise OAuthError("invalid_grant", "The id_token is not from a provider Trellis trusts.")
        keys = await self._jwks(idp)
        try:
            try:
                decoded = jwt.decode(token, keys, algorithms=ALGORITHMS)
            except JoseError:
                decoded = jwt.decode(
                    token, await self._jwks(idp, force=True), algorithms=ALGORITHMS
                )
            jwt.JWTClaimsRegistry(
                leeway=30,
                iss={"essential": True, "value": idp.issuer},
                aud={"essential": True, "value": idp.audience},
                sub={"essential": True},
                exp={"essential": True},
                iat={"essential": True},
            ).validate(decoded.claims)
        except (JoseError, ValueError) as exc:
            raise OAuthError("invalid_grant", "The id_token is not valid.") from exc
        return idp, decoded.claims


async def resolve_person(
    *, session: AsyncSession, idp: ExternalIdp, claims: dict[str, Any]
) -> Person:
    """The Trellis person an external provider's verified id_token speaks for (the rule above)."""
    subject = str(claims["sub"])
    linked = await people_repository.get_external_identity(
        session, issuer=idp.issuer, subject=subject
    )
    if linked is not None:
        person = await people_repository.get_person(session, linked.person_id)
    else:
        email = claims.get("email")
        if not email or claims.get("email_verified") is not True:
            raise OAuthError(
                "invalid_grant",
                "The provider did not vouch for a verified email, so Trellis cannot find "
                "your account. Ask your provider's administrator to share a verified email.",
            )
        person = await people_repository.get_person_by_email(session, str(email))
        if (
            person is None
            or person.email_verified_at is None
            or await people_repository.has_identity_at(
                session, person_id=person.id, issuer=idp.issuer
            )
        ):
            raise OAuthError(
                "invalid_grant",
                "There is no Trellis account for this email yet. Ask a colleague or your "
                "funder to invite you, accept the invitation, then sign in again.",
            )
        session.add(
            ExternalIdentity(
                person_id=person.id,
                issuer=idp.issuer,
                subject=subject,
                email=str(email),
                created_at=utcnow(),
            )
        )
        await session.flush()
        audit.record(
            session,
            caller=Caller(sub=f"person:{person.id}"),
            action="link_identity",
            entity_type="person",
            entity_id=person.id,
            changes={"issuer": idp.issuer, "subject": subject},
        )
    if person is None or person.disabled_at is not None:
        raise OAuthError("invalid_grant", "This account is disabled.")
    return person


async def choose_membership(
    *, session: AsyncSession, person: Person, membership_id: str | None
) -> Membership:
    memberships = await people_repository.active_memberships(session, person.id)
    if not memberships:
        raise OAuthError("invalid_grant", "This account has no membership yet; ask to be invited.")
    if membership_id:
        for membership in memberships:
            if str(membership.id) == membership_id:
                return membership
        raise OAuthError("invalid_request", "membership_id is not one of this person's.")
    if len(memberships) > 1:
        labels = await people_repository.membership_labels(session, memberships)
        choices = "; ".join(f"{m.id} ({labels[m.id]})" for m in memberships)
        raise OAuthError(
            "invalid_request",
            f"This person holds several memberships; send membership_id, one of: {choices}.",
        )
    return memberships[0]
