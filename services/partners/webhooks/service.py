"""The rules of webhooks: who registers what, which events reach whom, with what in them.

A funder's staff register endpoints for their funder, a partner's people (or its
systems) for their organisation. An event reaches an endpoint only when it is
about that side: a funder's endpoints get its own grants, updates sent to it,
its threads and rounds; a partner's endpoints get only what concerns that
partner. Each side's payload carries only fields that side may read, and no
event tells who answered a round or when.
"""

import base64
import secrets
import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.common import audit
from services.common.auth import Caller
from services.common.db import utcnow
from services.common.errors import Conflict, NotFound
from services.common.events import Event, EventHandler
from services.common.lists import ListQuery, Page
from services.partners.webhooks import netguard, repository
from services.partners.webhooks.models import DELIVERY_PENDING, WebhookDelivery, WebhookEndpoint
from services.partners.webhooks.schemas import (
    WebhookEndpointCreate,
    WebhookEndpointUpdate,
)

# What each side may receive, and which fields of the event it may read.
FUNDER_FIELDS: dict[str, tuple[str, ...]] = {
    "update.received": ("update_id", "funder_id", "partner_id", "received_on"),
    "update.replied": (
        "update_id", "funder_id", "partner_id", "received_at", "first_reply_at", "reply_seconds",
    ),
    "thread.message": (
        "thread_id", "message_id", "funder_id", "partner_id", "author_role", "body", "created_at",
    ),
    "grant.approved": (
        "grant_id", "funder_id", "partner_id", "pool_id", "title", "amount_awarded",
        "currency", "approved_on", "grant_360_id",
    ),
    "instalment.paid": (
        "instalment_id", "grant_id", "funder_id", "partner_id", "amount", "currency",
        "due_date", "paid_on",
    ),
    "round.opened": ("round_id", "funder_id", "title", "opens_on", "closes_on"),
}  # fmt: skip
PARTNER_FIELDS: dict[str, tuple[str, ...]] = {
    "update.replied": FUNDER_FIELDS["update.replied"],
    "thread.message": FUNDER_FIELDS["thread.message"],
    "grant.approved": (
        "grant_id", "funder_id", "partner_id", "title", "amount_awarded", "currency",
        "approved_on", "grant_360_id",
    ),
    "instalment.paid": FUNDER_FIELDS["instalment.paid"],
    "round.opened": ("round_id", "funder_id", "title", "closes_on"),
}  # fmt: skip


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def _side(caller: Caller) -> tuple[uuid.UUID | None, uuid.UUID | None]:
    if caller.staff_funder_id is not None:
        return caller.staff_funder_id, None
    assert caller.own_partner_id is not None
    return None, caller.own_partner_id


def _check_types(caller: Caller, event_types: list[str]) -> None:
    if caller.staff_funder_id is None:
        unseen = [t for t in event_types if t not in PARTNER_FIELDS]
        if unseen:
            raise Conflict(
                f"A partner's endpoint cannot subscribe to {unseen[0]}; partners receive "
                + ", ".join(sorted(PARTNER_FIELDS))
                + "."
            )


async def _registrant_email(session: AsyncSession, caller: Caller) -> str | None:
    """Whom to tell if the endpoint is disabled: the person who registered it (``person:<id>``
    tokens), or the subject itself when it is an email address (developer tokens)."""
    sub = caller.sub or ""
    if sub.startswith("person:"):
        try:
            return await repository.person_email(session, uuid.UUID(sub.removeprefix("person:")))
        except ValueError:
            return None
    return sub if "@" in sub and ":" not in sub else None


async def create_endpoint(
    *, session: AsyncSession, caller: Caller, data: WebhookEndpointCreate, allow_private: bool
) -> WebhookEndpoint:
    _check_types(caller, list(data.event_types))
    await netguard.check_registration(data.url, allow_private=allow_private)
    funder_id, partner_id = _side(caller)
    now = utcnow()
    endpoint = WebhookEndpoint(
        funder_id=funder_id,
        partner_id=partner_id,
        url=data.url,
        description=data.description,
        event_types=sorted(set(data.event_types)),
        secret=new_secret(),
        registered_by=caller.actor,
        registered_by_email=await _registrant_email(session, caller),
        created_at=now,
        updated_at=now,
        consecutive_failures=0,
    )
    session.add(endpoint)
    await session.flush()
    audit.record(
        session,
        caller=caller,
        action="create",
        entity_type="webhook_endpoint",
        entity_id=endpoint.id,
        changes={"url": data.url, "event_types": endpoint.event_types},
    )
    return endpoint


async def find_endpoint(
    *, session: AsyncSession, caller: Caller, endpoint_id: uuid.UUID, lock: bool = False
) -> WebhookEndpoint:
    endpoint = await repository.endpoint_for_update(session, endpoint_id, lock=lock)
    funder_id, partner_id = _side(caller)
    if endpoint is None or (
        (funder_id is not None and endpoint.funder_id != funder_id)
        or (partner_id is not None and endpoint.partner_id != partner_id)
    ):
        raise NotFound("There is no webhook endpoint with this id.")
    return endpoint


async def list_endpoints(*, session: AsyncSession, caller: Caller, query: ListQuery) -> Page:
    funder_id, partner_id = _side(caller)
    return await repository.list_endpoints(
        session, query, funder_id=funder_id, partner_id=partner_id
    )


async def update_endpoint(
    *,
    session: AsyncSession,
    caller: Caller,
    endpoint_id: uuid.UUID,
    data: WebhookEndpointUpdate,
    allow_private: bool,
) -> WebhookEndpoint:
    endpoint = await find_endpoint(
        session=session, caller=caller, endpoint_id=endpoint_id, lock=True
    )
    changes = data.model_dump(exclude_unset=True)
    if data.url is not None:
        await netguard.check_registration(data.url, allow_private=allow_private)
        endpoint.url = data.url
    if data.event_types is not None:
        _check_types(caller, list(data.event_types))
        endpoint.event_types = sorted(set(data.event_types))
    if "description" in changes:
        endpoint.description = data.description
    if data.enabled is True and endpoint.disabled_at is not None:
        endpoint.disabled_at = None
        endpoint.disabled_reason = None
        endpoint.consecutive_failures = 0
    elif data.enabled is False and endpoint.disabled_at is None:
        endpoint.disabled_at = utcnow()
        endpoint.disabled_reason = f"Disabled by {caller.actor}."
    endpoint.updated_at = utcnow()
    await session.flush()
    audit.record(
        session,
        caller=caller,
        action="update",
        entity_type="webhook_endpoint",
        entity_id=endpoint.id,
        changes={k: v for k, v in changes.items() if k != "description"},
    )
    return endpoint


async def delete_endpoint(
    *, session: AsyncSession, caller: Caller, endpoint_id: uuid.UUID
) -> WebhookEndpoint:
    endpoint = await find_endpoint(session=session, caller=caller, endpoint_id=endpoint_id)
    await repository.delete_deliveries(session, endpoint.id)
    await session.delete(endpoint)
    await session.flush()
    audit.record(
        session,
        caller=caller,
        action="delete",
        entity_type="webhook_endpoint",
        entity_id=endpoint.id,
        changes={"url": endpoint.url},
    )
    return endpoint


async def rotate_secret(
    *, session: AsyncSession, caller: Caller, endpoint_id: uuid.UUID, overlap_seconds: int
) -> WebhookEndpoint:
    """A new secret; the one it replaces still signs for ``overlap_seconds``."""
    endpoint = await find_endpoint(
        session=session, caller=caller, endpoint_id=endpoint_id, lock=True
    )
    now = utcnow()
    endpoint.previous_secret = endpoint.secret if overlap_seconds > 0 else None
    endpoint.previous_secret_expires_at = (
        now + timedelta(seconds=overlap_seconds) if overlap_seconds > 0 else None
    )
    endpoint.secret = new_secret()
    endpoint.updated_at = now
    await session.flush()
    audit.record(
        session,
        caller=caller,
        action="rotate_secret",
        entity_type="webhook_endpoint",
        entity_id=endpoint.id,
        changes={"overlap_seconds": overlap_seconds},
    )
    return endpoint


async def list_deliveries(
    *, session: AsyncSession, caller: Caller, endpoint_id: uuid.UUID, query: ListQuery
) -> Page:
    await find_endpoint(session=session, caller=caller, endpoint_id=endpoint_id)
    return await repository.list_deliveries(session, query, endpoint_id=endpoint_id)


async def get_delivery(
    *, session: AsyncSession, caller: Caller, endpoint_id: uuid.UUID, delivery_id: uuid.UUID
) -> WebhookDelivery:
    """One delivery of one of the caller's endpoints (404 otherwise)."""
    await find_endpoint(session=session, caller=caller, endpoint_id=endpoint_id)
    delivery = await repository.get_delivery(
        session, endpoint_id=endpoint_id, delivery_id=delivery_id
    )
    if delivery is None:
        raise NotFound("There is no delivery with this id for this endpoint.")
    return delivery


async def redeliver(
    *, session: AsyncSession, caller: Caller, endpoint_id: uuid.UUID, delivery_id: uuid.UUID
) -> WebhookDelivery:
    """Send a delivery again soon, with the same ``webhook-id``, whatever its status."""
    delivery = await get_delivery(
        session=session, caller=caller, endpoint_id=endpoint_id, delivery_id=delivery_id
    )
    now = utcnow()
    delivery.status = DELIVERY_PENDING
    delivery.attempts = 0
    delivery.next_attempt_at = now
    delivery.delivered_at = None
    await session.flush()
    audit.record(
        session,
        caller=caller,
        action="redeliver",
        entity_type="webhook_delivery",
        entity_id=delivery.id,
        changes={"endpoint_id": endpoint_id},
    )
    return delivery


# Events become deliveries ---------------------------------------------------------------------


def _ids(*values: Any) -> list[uuid.UUID]:
    out: list[uuid.UUID] = []
    for value in values:
        for item in value if isinstance(value, list) else [value]:
            try:
                out.append(uuid.UUID(str(item)))
            except ValueError:
                continue
    return out


async def fan_out(
    session: AsyncSession,
    *,
    event_id: uuid.UUID,
    event_type: str,
    occurred_at: str,
    data: dict[str, Any],
) -> int:
    """Queue one delivery per subscribed endpoint, in the caller's transaction."""
    if event_type not in FUNDER_FIELDS:
        return 0
    funder_ids = _ids(data.get("funder_id"), data.get("funder_ids") or [])
    partner_ids: list[uuid.UUID] = []
    if event_type in PARTNER_FIELDS:
        partner_ids = _ids(data.get("partner_id"), data.get("partner_ids") or [])
    endpoints = await repository.subscribed(
        session, event_type, funder_ids=funder_ids, partner_ids=partner_ids
    )
    now = utcnow()
    for endpoint in endpoints:
        fields = FUNDER_FIELDS if endpoint.funder_id is not None else PARTNER_FIELDS
        payload = {
            "type": event_type,
            "timestamp": occurred_at,
            "data": {k: data[k] for k in fields[event_type] if k in data},
        }
        if await repository.delivery_exists(session, endpoint_id=endpoint.id, event_id=event_id):
            continue
        session.add(
            WebhookDelivery(
                endpoint_id=endpoint.id,
                event_id=event_id,
                event_type=event_type,
                payload=payload,
                status=DELIVERY_PENDING,
                attempts=0,
                created_at=now,
                next_attempt_at=now,
            )
        )
    await session.flush()
    return len(endpoints)


async def on_event(*, session: AsyncSession, event: Event) -> None:
    """Another service's event (the kit's inbox has already made it once per id)."""
    await fan_out(
        session,
        event_id=event.id,
        event_type=event.type,
        occurred_at=event.occurred_at.isoformat(),
        data=event.data,
    )


def with_webhooks(handlers: dict[str, EventHandler]) -> dict[str, EventHandler]:
    """``handlers`` with the webhook fan-out added for every event type webhooks carry."""
    combined = dict(handlers)
    for event_type in FUNDER_FIELDS:
        first = handlers.get(event_type)
        if first is None:
            combined[event_type] = on_event
        else:
            combined[event_type] = _chain(first)
    return combined


def _chain(first: EventHandler) -> EventHandler:
    async def both(*, session: AsyncSession, event: Event) -> None:
        await first(session=session, event=event)
        await on_event(session=session, event=event)

    return both
