"""All SQL of webhooks."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.lists import ListQuery, Page, fetch_page, parse_uuid_list
from services.partners.people.models import Person
from services.partners.relationships.models import Relationship
from services.partners.webhooks.models import (
    DELIVERY_PENDING,
    WebhookDelivery,
    WebhookEndpoint,
)


async def list_endpoints(
    session: AsyncSession,
    query: ListQuery,
    *,
    funder_id: uuid.UUID | None,
    partner_id: uuid.UUID | None,
) -> Page:
    stmt = select(WebhookEndpoint)
    if funder_id is not None:
        stmt = stmt.where(WebhookEndpoint.funder_id == funder_id)
    else:
        stmt = stmt.where(WebhookEndpoint.partner_id == partner_id)
    filters = query.filters
    if "id" in filters:
        stmt = stmt.where(WebhookEndpoint.id.in_(parse_uuid_list("id", filters["id"])))
    if "funder_id" in filters:
        ids = parse_uuid_list("funder_id", filters["funder_id"])
        stmt = stmt.where(WebhookEndpoint.funder_id.in_(ids))
    if "partner_id" in filters:
        ids = parse_uuid_list("partner_id", filters["partner_id"])
        stmt = stmt.where(WebhookEndpoint.partner_id.in_(ids))
    return await fetch_page(
        session,
        stmt,
        query,
        sort_columns={"created_at": WebhookEndpoint.created_at, "url": WebhookEndpoint.url},
        id_column=WebhookEndpoint.id,
    )


async def get_delivery(
    session: AsyncSession, *, endpoint_id: uuid.UUID, delivery_id: uuid.UUID
) -> WebhookDelivery | None:
    stmt = select(WebhookDelivery).where(
        WebhookDelivery.id == delivery_id, WebhookDelivery.endpoint_id == endpoint_id
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def list_deliveries(
    session: AsyncSession, query: ListQuery, *, endpoint_id: uuid.UUID
) -> Page:
    stmt = select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id)
    filters = query.filters
    if "id" in filters:
        stmt = stmt.where(WebhookDelivery.id.in_(parse_uuid_list("id", filters["id"])))
    if "event_id" in filters:
        ids = parse_uuid_list("event_id", filters["event_id"])
        stmt = stmt.where(WebhookDelivery.event_id.in_(ids))
    if "endpoint_id" in filters:
        ids = parse_uuid_list("endpoint_id", filters["endpoint_id"])
        stmt = stmt.where(WebhookDelivery.endpoint_id.in_(ids))
    if "status" in query.filters:
        stmt = stmt.where(WebhookDelivery.status == str(query.filters["status"]))
    if "event_type" in query.filters:
        stmt = stmt.where(WebhookDelivery.event_type == str(query.filters["event_type"]))
    return await fetch_page(
        session,
        stmt,
        query,
        sort_columns={
            "created_at": WebhookDelivery.created_at,
            "last_attempt_at": WebhookDelivery.last_attempt_at,
        },
        id_column=WebhookDelivery.id,
    )


async def subscribed(
    session: AsyncSession,
    event_type: str,
    *,
    funder_ids: list[uuid.UUID],
    partner_ids: list[uuid.UUID],
) -> list[WebhookEndpoint]:
    """Enabled endpoints of these funders or partners (the caller filters by event type)."""
    conditions = []
    if funder_ids:
        conditions.append(WebhookEndpoint.funder_id.in_(funder_ids))
    if partner_ids:
        conditions.append(WebhookEndpoint.partner_id.in_(partner_ids))
    if not conditions:
        return []
    stmt = select(WebhookEndpoint).where(WebhookEndpoint.disabled_at.is_(None), or_(*conditions))
    rows = (await session.execute(stmt)).scalars().all()
    return [row for row in rows if event_type in row.event_types]


async def partners_of_funder(session: AsyncSession, funder_id: uuid.UUID) -> list[uuid.UUID]:
    stmt = select(Relationship.partner_id).where(Relationship.funder_id == funder_id)
    return list((await session.execute(stmt)).scalars())


async def delivery_exists(
    session: AsyncSession, *, endpoint_id: uuid.UUID, event_id: uuid.UUID
) -> bool:
    stmt = select(WebhookDelivery.id).where(
        WebhookDelivery.endpoint_id == endpoint_id, WebhookDelivery.event_id == event_id
    )
    return (await session.execute(stmt)).first() is not None


async def claim_due(
    session: AsyncSession, *, now: datetime, lease_until: datetime, limit: int, skip_locked: bool
) -> list[tuple[WebhookDelivery, WebhookEndpoint]]:
    # Deliveries of a disabled endpoint wait: they go once it is enabled again.
    enabled = select(WebhookEndpoint.id).where(WebhookEndpoint.disabled_at.is_(None))
    stmt = (
        select(WebhookDelivery)
        .where(
            WebhookDelivery.status == DELIVERY_PENDING,
            WebhookDelivery.next_attempt_at <= now,
            WebhookDelivery.endpoint_id.in_(enabled),
        )
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.created_at)
        .limit(limit)
    )
    if skip_locked:
        stmt = stmt.with_for_update(skip_locked=True)
    deliveries = list((await session.execute(stmt)).scalars())
    if not deliveries:
        return []
    for delivery in deliveries:
        delivery.next_attempt_at = lease_until
    ids = {d.endpoint_id for d in deliveries}
    endpoints = {
        e.id: e
        for e in (
            await session.execute(select(WebhookEndpoint).where(WebhookEndpoint.id.in_(ids)))
        ).scalars()
    }
    return [(d, endpoints[d.endpoint_id]) for d in deliveries]


async def set_delivery(
    session: AsyncSession, delivery_id: uuid.UUID, values: dict[str, Any]
) -> None:
    await session.execute(
        update(WebhookDelivery).where(WebhookDelivery.id == delivery_id).values(**values)
    )


async def endpoint_for_update(
    session: AsyncSession, endpoint_id: uuid.UUID, *, lock: bool
) -> WebhookEndpoint | None:
    stmt = select(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id)
    if lock:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def person_email(session: AsyncSession, person_id: uuid.UUID) -> str | None:
    stmt = select(Person.email).where(Person.id == person_id, Person.disabled_at.is_(None))
    return (await session.execute(stmt)).scalar_one_or_none()


async def delete_deliveries(session: AsyncSession, endpoint_id: uuid.UUID) -> None:
    await session.execute(delete(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id))
