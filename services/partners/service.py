"""The rules of the partners service. Keyword-only functions; they flush, never commit."""

import secrets
import uuid
from datetime import date
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.common import audit, outbox
from services.common.auth import Caller, TokenIssuer, hash_secret, new_client_secret
from services.common.concurrency import check_if_match
from services.common.db import utcnow
from services.common.errors import Conflict, Forbidden, NotFound, Unauthorized
from services.common.lists import ListQuery, Page
from services.partners import repository
from services.partners.models import ApiClient, Funder, Partner, Relationship
from services.partners.schemas import (
    DESCRIPTIVE_FIELDS,
    FunderCreate,
    FunderUpdate,
    PartnerCreate,
    PartnerUpdate,
    RelationshipUpdate,
)


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    return {
        k: (str(v) if v is not None and not isinstance(v, bool | int | str) else v)
        for k, v in values.items()
    }


# Funders ------------------------------------------------------------------------------------


async def create_funder(*, session: AsyncSession, caller: Caller, data: FunderCreate) -> Funder:
    if await repository.get_funder_by_slug(session, data.slug):
        raise Conflict(f"A funder with the slug '{data.slug}' exists already; choose another slug.")
    funder = Funder(**data.model_dump(), version=1)
    session.add(funder)
    await session.flush()
    audit.record(
        session,
        caller=caller,
        action="create",
        entity_type="funder",
        entity_id=funder.id,
        changes=data.model_dump(),
    )
    return funder


async def get_funder(*, session: AsyncSession, caller: Caller, funder_id: uuid.UUID) -> Funder:
    funder = await repository.get_funder(session, funder_id)
    visible = caller.has("platform_admin") or caller.funder_id == funder_id
    if funder is None or not visible:
        raise NotFound("There is no funder with this id.")
    return funder


async def list_funders(*, session: AsyncSession, caller: Caller, query: ListQuery) -> Page:
    only = None if caller.has("platform_admin") else caller.funder_id
    if only is None and not caller.has("platform_admin"):
        raise Forbidden("Only platform admins and funder staff list funders.")
    return await repository.list_funders(session, query, only=only)


async def update_funder(
    *,
    session: AsyncSession,
    caller: Caller,
    funder_id: uuid.UUID,
    data: FunderUpdate,
    if_match: str | None,
) -> Funder:
    funder = await get_funder(session=session, caller=caller, funder_id=funder_id)
    check_if_match(if_match, funder)
    changes = data.changes()
    for field, value in changes.items():
        setattr(funder, field, value)
    await session.flush()
    audit.record(
        session,
        caller=caller,
        action="update",
        entity_type="funder",
        entity_id=funder.id,
        changes=changes,
    )
    return funder


# Partners -----------------------------------------------------------------------------------


async def _visible_partner(
    session: AsyncSession, caller: Caller, partner_id: uuid.UUID
) -> tuple[Partner, Relationship | None]:
    """The partner if the caller may see it, with the caller's funder's relationship."""
    partner = await repository.get_partner(session, partner_id)
    if partner is not None:
        if caller.has("partner") and caller.partner_id == partner_id:
            return partner, None
        if caller.has("funder_staff") and caller.funder_id is not None:
            relationship = await repository.get_relationship(
                session, funder_id=caller.funder_id, partner_id=partner_id
            )
            if relationship is not None:
                return partner, relationship
    raise NotFound("There is no partner with this id.")


async def create_partner(
    *, session: AsyncSession, caller: Caller, data: PartnerCreate
) -> tuple[Partner, Relationship]:
    """Record a partner and the caller's funder's relationship with it.

    An organisation already known to the deployment (same org-id) is linked, not
    duplicated; nothing about other funders' relationships is revealed.
    """
    assert caller.funder_id is not None
    fields = data.model_dump(exclude={"status", "since", "steward"})
    if fields.get("website") is not None:
        fields["website"] = str(fields["website"])
    partner = await repository.get_partner_by_org_id(session, data.org_id) if data.org_id else None
    created = partner is None
    if partner is None:
        partner = Partner(**fields, version=1)
        session.add(partner)
        await session.flush()
        audit.record(
            session,
            caller=caller,
            action="create",
            entity_type="partner",
            entity_id=partner.id,
            changes=_jsonable(fields),
        )
    elif await repository.get_relationship(
        session, funder_id=caller.funder_id, partner_id=partner.id
    ):
        raise Conflict(
            f"Your funder already has a relationship with the partner {data.org_id}; "
            "update that partner instead.",
            extra={"partner_id": str(partner.id)},
        )
    relationship = Relationship(
        funder_id=caller.funder_id,
        partner_id=partner.id,
        status=data.status,
        since=data.since or date.today(),
        steward=data.steward,
        version=1,
    )
    session.add(relationship)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict("This partner was just added by someone else; reload the list.") from exc
    audit.record(
        session,
        caller=caller,
        action="create",
        entity_type="relationship",
        entity_id=relationship.id,
        changes={"status": data.status, "partner_id": str(partner.id)},
    )
    if created:
        outbox.emit(
            session,
            "partner.created",
            {
                "partner_id": str(partner.id),
                "name": partner.name,
                "org_id": partner.org_id,
                "funder_id": str(caller.funder_id),
            },
        )
    _emit_relationship_changed(session, relationship, previous_status=None)
    return partner, relationship


def _emit_relationship_changed(
    session: AsyncSession, relationship: Relationship, *, previous_status: str | None
) -> None:
    outbox.emit(
        session,
        "relationship.changed",
        {
            "relationship_id": str(relationship.id),
            "funder_id": str(relationship.funder_id),
            "partner_id": str(relationship.partner_id),
            "status": relationship.status,
            "previous_status": previous_status,
            "since": relationship.since.isoformat(),
        },
    )


async def get_partner(
    *, session: AsyncSession, caller: Caller, partner_id: uuid.UUID
) -> tuple[Partner, Relationship | None]:
    return await _visible_partner(session, caller, partner_id)


async def list_partners(*, session: AsyncSession, caller: Caller, query: ListQuery) -> Page:
    """Staff see the partners their funder has a relationship with; a partner sees itself."""
    if caller.has("funder_staff") and caller.funder_id is not None:
        return await repository.list_partners_of_funder(session, query, funder_id=caller.funder_id)
    assert caller.partner_id is not None
    return await repository.list_own_partner(session, query, partner_id=caller.partner_id)


async def update_partner(
    *,
    session: AsyncSession,
    caller: Caller,
    partner_id: uuid.UUID,
    data: PartnerUpdate,
    if_match: str | None,
) -> tuple[Partner, Relationship | None]:
    partner, relationship = await _visible_partner(session, caller, partner_id)
    check_if_match(if_match, partner)
    changes = data.changes()
    if "website" in changes and changes["website"] is not None:
        changes["website"] = str(changes["website"])
    if not caller.has("funder_staff"):
        kept = sorted(
            f
            for f, v in changes.items()
            if f not in DESCRIPTIVE_FIELDS and v != getattr(partner, f)
        )
        if kept:
            raise Forbidden(
                f"A partner updates its name, website, region and description; "
                f"{', '.join(kept)} {'is' if len(kept) == 1 else 'are'} kept by the funder's staff.",
                errors={field: ["is kept by the funder's staff"] for field in kept},
            )
        changes = {f: v for f, v in changes.items() if f in DESCRIPTIVE_FIELDS}
    if changes.get("org_id") and changes["org_id"] != partner.org_id:
        other = await repository.get_partner_by_org_id(session, changes["org_id"])
        if other is not None:
            raise Conflict(f"Another partner record already has the org-id {changes['org_id']}.")
    for field, value in changes.items():
        setattr(partner, field, value)
    await session.flush()
    audit.record(
        session,
        caller=caller,
        action="update",
        entity_type="partner",
        entity_id=partner.id,
        changes=_jsonable(changes),
    )
    return partner, relationship


# Relationships ------------------------------------------------------------------------------


async def get_relationship(
    *, session: AsyncSession, caller: Caller, relationship_id: uuid.UUID
) -> Relationship:
    assert caller.funder_id is not None
    relationship = await repository.get_relationship_by_id(
        session, relationship_id=relationship_id, funder_id=caller.funder_id
    )
    if relationship is None:
        raise NotFound("There is no relationship with this id.")
    return relationship


async def list_relationships(*, session: AsyncSession, caller: Caller, query: ListQuery) -> Page:
    assert caller.funder_id is not None
    return await repository.list_relationships(session, query, funder_id=caller.funder_id)


async def update_relationship(
    *,
    session: AsyncSession,
    caller: Caller,
    relationship_id: uuid.UUID,
    data: RelationshipUpdate,
    if_match: str | None,
) -> Relationship:
    relationship = await get_relationship(
        session=session, caller=caller, relationship_id=relationship_id
    )
    check_if_match(if_match, relationship)
    previous = relationship.status
    changes = {k: v for k, v in data.changes().items() if v is not None}
    for field, value in changes.items():
        setattr(relationship, field, value)
    await session.flush()
    audit.record(
        session,
        caller=caller,
        action="update",
        entity_type="relationship",
        entity_id=relationship.id,
        changes=_jsonable(changes),
    )
    if relationship.status != previous or "since" in changes:
        _emit_relationship_changed(session, relationship, previous_status=previous)
    return relationship


# API clients and tokens ---------------------------------------------------------------------


async def create_client(
    *, session: AsyncSession, caller: Caller, partner_id: uuid.UUID, name: str
) -> tuple[ApiClient, str]:
    """Register a partner system; its secret is returned once and stored only as a hash."""
    await _visible_partner(session, caller, partner_id)
    secret = new_client_secret()
    client = ApiClient(
        client_id="tpc_" + secrets.token_hex(12),
        secret_hash=hash_secret(secret),
        partner_id=partner_id,
        name=name,
        created_by=caller.actor,
        created_at=utcnow(),
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
    await _visible_partner(session, caller, partner_id)
    return await repository.clients_of_partner(session, partner_id=partner_id)


async def revoke_client(
    *, session: AsyncSession, caller: Caller, partner_id: uuid.UUID, client_record_id: uuid.UUID
) -> ApiClient:
    await _visible_partner(session, caller, partner_id)
    client = await repository.get_client_of_partner(
        session, partner_id=partner_id, client_record_id=client_record_id
    )
    if client is None:
        raise NotFound("There is no API client with this id.")
    if client.revoked_at is None:
        client.revoked_at = utcnow()
        await session.flush()
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
    scope = "partner"
    token = issuer.mint(
        sub=f"client:{client.client_id}",
        roles=["partner"],
        client_id=client.client_id,
        partner_id=client.partner_id,
        name=client.name,
        scope=scope,
        ttl=ttl,
    )
    return token, scope


# For other services ------------------------------------------------------------------------


async def partner_summaries(
    *,
    session: AsyncSession,
    funder_id: uuid.UUID,
    statuses: list[str] | None,
    partner_ids: list[uuid.UUID] | None,
) -> list[Relationship]:
    return await repository.relationships_of_funder(
        session, funder_id=funder_id, statuses=statuses, partner_ids=partner_ids
    )


async def find_funder(*, session: AsyncSession, funder_id: uuid.UUID) -> Funder:
    funder = await repository.get_funder(session, funder_id)
    if funder is None:
        raise NotFound("There is no funder with this id.")
    return funder


async def find_funder_by_slug(*, session: AsyncSession, slug: str) -> Funder:
    funder = await repository.get_funder_by_slug(session, slug)
    if funder is None:
        raise NotFound(f"There is no funder with the slug '{slug}'.")
    return funder


async def funders_of_partner(*, session: AsyncSession, partner_id: uuid.UUID) -> list[Funder]:
    return await repository.funders_of_partner(session, partner_id=partner_id)
