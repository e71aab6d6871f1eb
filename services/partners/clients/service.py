"""The rules about partner systems' API clients and the client-credentials grant.

Keyword-only functions; they flush, never commit.
"""

import secrets
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from services.common import audit
from services.common.auth import Caller, TokenIssuer, hash_secret, new_client_secret
from services.common.db import utcnow
from services.common.errors import Forbidden, NotFound, Problem, Unauthorized
from services.common.revocation import RevocationList, client_key
from services.partners.clients import repository
from services.partners.clients.models import ApiClient
from services.partners.organisations.service import own_partner
from services.partners.revocations.service import revoke

NOT_FOUND = "There is no API client with this id."


class ClientNotConfirmed(Problem):
    """A client registered before organisations owned their clients, not yet kept by them."""

    status, slug = 400, "client-not-confirmed"


async def _owner(session: AsyncSession, caller: Caller, partner_id: uuid.UUID) -> None:
    """Only the organisation's own people manage its API clients (404 for anyone else)."""
    await own_partner(session, caller, partner_id)
    if caller.is_api_client:
        raise Forbidden(
            "An API client cannot manage API clients; a person of the organisation does.",
            slug="people-only",
        )


async def create_client(
    *, session: AsyncSession, caller: Caller, partner_id: uuid.UUID, name: str
) -> tuple[ApiClient, str]:
    """Register a partner system; its secret is returned once and stored only as a hash."""
    await _owner(session, caller, partner_id)
    secret = new_client_secret()
    now = utcnow()
    client = ApiClient(
        client_id="tpc_" + secrets.token_hex(12),
        secret_hash=hash_secret(secret),
        partner_id=partner_id,
        name=name,
        created_by=caller.actor,
        created_at=now,
        confirmed_at=now,
        confirmed_by=caller.actor,
    )
    session.add(client)
    await session.flush()
    audit.record(
        session,
        caller=caller,
        action="create",
        entity_type="api_client",
        entity_id=client.id,
        changes={"client_id": client.client_id, "name": name},
    )
    return client, secret


async def list_clients(
    *, session: AsyncSession, caller: Caller, partner_id: uuid.UUID
) -> list[ApiClient]:
    await _owner(session, caller, partner_id)
    return await repository.clients_of_partner(session, partner_id=partner_id)


async def _own_client(
    session: AsyncSession, caller: Caller, partner_id: uuid.UUID, client_record_id: uuid.UUID
) -> ApiClient:
    await _owner(session, caller, partner_id)
    client = await repository.get_client_of_partner(
        session, partner_id=partner_id, client_record_id=client_record_id
    )
    if client is None:
        raise NotFound(NOT_FOUND)
    return client


async def confirm_client(
    *, session: AsyncSession, caller: Caller, partner_id: uuid.UUID, client_record_id: uuid.UUID
) -> ApiClient:
    """The organisation keeps a client registered before it owned its clients."""
    client = await _own_client(session, caller, partner_id, client_record_id)
    if client.revoked_at is not None:
        raise Forbidden(
            "This client was revoked; register a new one instead.", slug="client-revoked"
        )
    if client.confirmed_at is None:
        client.confirmed_at = utcnow()
        client.confirmed_by = caller.actor
        await session.flush()
        audit.record(
            session,
            caller=caller,
            action="confirm",
            entity_type="api_client",
            entity_id=client.id,
            changes={"client_id": client.client_id},
        )
    return client


async def revoke_client(
    *,
    session: AsyncSession,
    caller: Caller,
    partner_id: uuid.UUID,
    client_record_id: uuid.UUID,
    local: RevocationList | None = None,
) -> ApiClient:
    """Revoke a client: no new tokens, and its tokens are refused everywhere within seconds."""
    client = await _own_client(session, caller, partner_id, client_record_id)
    if client.revoked_at is None:
        client.revoked_at = utcnow()
        await session.flush()
        await revoke(
            session=session,
            key=client_key(client.id),
            reason="api client revoked",
            caller=caller,
            local=local,
        )
        audit.record(
            session,
            caller=caller,
            action="revoke",
            entity_type="api_client",
            entity_id=client.id,
            changes={"client_id": client.client_id},
        )
    return client


async def issue_client_token(
    *, session: AsyncSession, issuer: TokenIssuer, client_id: str, client_secret: str, ttl: int
) -> tuple[str, str]:
    """The client-credentials grant (RFC 6749 section 4.4) for a registered partner system."""
    client = await repository.get_client(session, client_id)
    if (
        client is None
        or client.revoked_at is not None
        or not secrets.compare_digest(client.secret_hash, hash_secret(client_secret))
    ):
        raise Unauthorized("The client id or secret is not right, or the client was revoked.")
    if client.confirmed_at is None:
        raise ClientNotConfirmed(
            "This client was registered before organisations owned their API clients and "
            "no person of the organisation has kept it yet. Ask a person of your "
            "organisation to confirm it (POST /api/v1/partners/"
            f"{client.partner_id}/clients/{client.id}/confirm) or register a new one."
        )
    scope = "partner"
    token = issuer.mint(
        sub=f"client:{client.client_id}",
        sid=client_key(client.id),
        roles=["partner"],
        client_id=client.client_id,
        partner_id=client.partner_id,
        name=client.name,
        scope=scope,
        ttl=ttl,
    )
    return token, scope
