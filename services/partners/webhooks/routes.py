"""HTTP routes of webhook endpoints and their delivery logs."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from services.common.auth import StaffOrPartnerDep
from services.common.db import SessionDep
from services.common.lists import ListQuery, list_query
from services.common.service_app import problem_responses
from services.partners.webhooks import service
from services.partners.webhooks.schemas import (
    SecretRotation,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEndpointCreate,
    WebhookEndpointUpdate,
    WebhookEndpointWithSecret,
)

router = APIRouter(tags=["webhooks"])

EndpointQuery = Annotated[
    ListQuery,
    Depends(
        list_query(
            "webhooks",
            sortable=["created_at", "url"],
            filterable=["funder_id", "partner_id"],
            default_sort=("created_at", "DESC"),
        )
    ),
]
DeliveryQuery = Annotated[
    ListQuery,
    Depends(
        list_query(
            "webhook_deliveries",
            sortable=["created_at", "last_attempt_at"],
            filterable=["status", "event_type", "event_id", "endpoint_id"],
            default_sort=("created_at", "DESC"),
        )
    ),
]


def _allow_private(request: Request) -> bool:
    return bool(request.app.state.settings.webhooks_allow_private_addresses)


def _out(endpoint: object) -> WebhookEndpoint:
    return WebhookEndpoint.model_validate(endpoint)


def _with_secret(endpoint: object) -> WebhookEndpointWithSecret:
    return WebhookEndpointWithSecret.model_validate(
        {**_out(endpoint).model_dump(exclude={"enabled"}), "secret": endpoint.secret}  # type: ignore[attr-defined]
    )


@router.post(
    "/webhooks",
    status_code=201,
    response_model=WebhookEndpointWithSecret,
    responses=problem_responses(409),
)
async def create_webhook(
    body: WebhookEndpointCreate,
    session: SessionDep,
    caller: StaffOrPartnerDep,
    request: Request,
    response: Response,
) -> WebhookEndpointWithSecret:
    """Register an HTTPS endpoint of your own system for events (funder staff or partners).

    Deliveries follow the Standard Webhooks specification: each is a POST of
    ``{"type", "timestamp", "data"}`` with ``webhook-id`` (the event's id, the same
    on every retry), ``webhook-timestamp`` and ``webhook-signature`` headers; verify
    them with the Standard Webhooks library and the ``secret`` answered here (shown
    only now). A funder's staff may subscribe to ``update.received``,
    ``update.replied``, ``thread.message``, ``grant.approved``, ``instalment.paid``
    and ``round.opened`` of their funder; a partner to all but ``update.received``,
    of its own organisation only. URLs that resolve to loopback, private,
    link-local or other non-public addresses are refused. Example::

        {"url": "https://crm.example.org/trellis", "event_types": ["update.replied"]}
    """
    endpoint = await service.create_endpoint(
        session=session, caller=caller, data=body, allow_private=_allow_private(request)
    )
    response.headers["Location"] = f"/api/v1/webhooks/{endpoint.id}"
    return _with_secret(endpoint)


@router.get("/webhooks", response_model=list[WebhookEndpoint])
async def list_webhooks(
    session: SessionDep, caller: StaffOrPartnerDep, query: EndpointQuery, response: Response
) -> list[WebhookEndpoint]:
    """Your funder's (staff) or your organisation's (partner) webhook endpoints.

    Filters: ``funder_id``, ``partner_id``, ``id``.
    """
    page = await service.list_endpoints(session=session, caller=caller, query=query)
    page.apply(response, "webhooks")
    return [_out(e) for e in page.items]


@router.get("/webhooks/{webhook_id}", response_model=WebhookEndpoint)
async def get_webhook(
    webhook_id: uuid.UUID, session: SessionDep, caller: StaffOrPartnerDep
) -> WebhookEndpoint:
    """One of your webhook endpoints (without its secret)."""
    endpoint = await service.find_endpoint(session=session, caller=caller, endpoint_id=webhook_id)
    return _out(endpoint)


@router.put(
    "/webhooks/{webhook_id}", response_model=WebhookEndpoint, responses=problem_responses(409)
)
async def update_webhook(
    webhook_id: uuid.UUID,
    body: WebhookEndpointUpdate,
    session: SessionDep,
    caller: StaffOrPartnerDep,
    request: Request,
) -> WebhookEndpoint:
    """Change an endpoint's URL, events or description; ``{"enabled": true}`` enables one that
    was disabled after failures, and what waited meanwhile is sent."""
    endpoint = await service.update_endpoint(
        session=session,
        caller=caller,
        endpoint_id=webhook_id,
        data=body,
        allow_private=_allow_private(request),
    )
    return _out(endpoint)


@router.delete("/webhooks/{webhook_id}", response_model=WebhookEndpoint)
async def delete_webhook(
    webhook_id: uuid.UUID, session: SessionDep, caller: StaffOrPartnerDep
) -> WebhookEndpoint:
    """Remove an endpoint and its delivery log."""
    endpoint = await service.delete_endpoint(session=session, caller=caller, endpoint_id=webhook_id)
    return _out(endpoint)


@router.post("/webhooks/{webhook_id}/rotate-secret", response_model=WebhookEndpointWithSecret)
async def rotate_webhook_secret(
    webhook_id: uuid.UUID,
    body: SecretRotation,
    session: SessionDep,
    caller: StaffOrPartnerDep,
    request: Request,
) -> WebhookEndpointWithSecret:
    """Make a new signing secret. The previous one stays valid for ``overlap_seconds``
    (default 24 hours): meanwhile every delivery is signed with both, so a receiver can
    switch at its own pace."""
    overlap = body.overlap_seconds
    if overlap is None:
        overlap = request.app.state.settings.webhooks_secret_overlap
    endpoint = await service.rotate_secret(
        session=session, caller=caller, endpoint_id=webhook_id, overlap_seconds=overlap
    )
    return _with_secret(endpoint)


@router.get("/webhooks/{webhook_id}/deliveries", response_model=list[WebhookDelivery])
async def list_webhook_deliveries(
    webhook_id: uuid.UUID,
    session: SessionDep,
    caller: StaffOrPartnerDep,
    query: DeliveryQuery,
    response: Response,
) -> list[WebhookDelivery]:
    """The delivery log of one endpoint: status, attempts, last answer and when.

    Filters: ``status`` (``pending``, ``delivered``, ``failed``), ``event_type``,
    ``event_id``, ``endpoint_id``, ``id``.
    """
    page = await service.list_deliveries(
        session=session, caller=caller, endpoint_id=webhook_id, query=query
    )
    page.apply(response, "webhook_deliveries")
    return [WebhookDelivery.model_validate(d) for d in page.items]


@router.get("/webhooks/{webhook_id}/deliveries/{delivery_id}", response_model=WebhookDelivery)
async def get_webhook_delivery(
    webhook_id: uuid.UUID, delivery_id: uuid.UUID, session: SessionDep, caller: StaffOrPartnerDep
) -> WebhookDelivery:
    """One delivery of one of your endpoints."""
    delivery = await service.get_delivery(
        session=session, caller=caller, endpoint_id=webhook_id, delivery_id=delivery_id
    )
    return WebhookDelivery.model_validate(delivery)


@router.post(
    "/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver",
    response_model=WebhookDelivery,
)
async def redeliver_webhook(
    webhook_id: uuid.UUID, delivery_id: uuid.UUID, session: SessionDep, caller: StaffOrPartnerDep
) -> WebhookDelivery:
    """Send a delivery again, with the same ``webhook-id`` (receivers that dedupe see it once)."""
    delivery = await service.redeliver(
        session=session, caller=caller, endpoint_id=webhook_id, delivery_id=delivery_id
    )
    return WebhookDelivery.model_validate(delivery)
