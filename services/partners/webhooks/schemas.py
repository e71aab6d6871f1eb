"""Shapes of webhook endpoints and deliveries."""

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field

from services.common.schemas import UpdateModel

EventType = Literal[
    "update.received",
    "update.replied",
    "thread.message",
    "grant.approved",
    "instalment.paid",
    "round.opened",
]


class WebhookEndpointCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=8, max_length=2000, examples=["https://crm.example.org/trellis"])
    event_types: list[EventType] = Field(min_length=1, max_length=20)
    description: str | None = Field(None, max_length=500)


class WebhookEndpointUpdate(UpdateModel):
    """What ``PUT /webhooks/{id}`` changes; the endpoint's own fields that react-admin sends
    back with it are ignored."""

    read_only = UpdateModel.read_only | {
        "funder_id",
        "partner_id",
        "registered_by",
        "disabled_at",
        "disabled_reason",
        "consecutive_failures",
        "previous_secret_expires_at",
        "secret",
    }
    nullable = frozenset({"description"})

    url: str | None = Field(None, min_length=8, max_length=2000)
    event_types: list[EventType] | None = Field(None, min_length=1, max_length=20)
    description: str | None = Field(None, max_length=500)
    enabled: bool | None = Field(
        None, description="Send ``true`` to enable an endpoint that was disabled after failures."
    )


class WebhookEndpoint(BaseModel):
    """An endpoint; its secret is shown only when registered or rotated."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    funder_id: uuid.UUID | None
    partner_id: uuid.UUID | None
    url: str
    description: str | None
    event_types: list[str]
    registered_by: str
    created_at: datetime
    updated_at: datetime
    disabled_at: datetime | None
    disabled_reason: str | None
    consecutive_failures: int
    previous_secret_expires_at: datetime | None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def enabled(self) -> bool:
        """False once disabled (after a run of failed deliveries, or by hand)."""
        return self.disabled_at is None


class WebhookEndpointWithSecret(WebhookEndpoint):
    secret: str = Field(
        description="The signing secret (``whsec_`` + base64), for the Standard Webhooks "
        "library's ``Webhook(secret).verify(body, headers)``. Shown only now."
    )


class SecretRotation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    overlap_seconds: int | None = Field(
        None,
        ge=0,
        le=7 * 24 * 3600,
        description="How long the previous secret stays valid (default: the operator's).",
    )


class WebhookDelivery(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    endpoint_id: uuid.UUID
    event_id: uuid.UUID
    event_type: str
    status: Literal["pending", "delivered", "failed"]
    attempts: int
    created_at: datetime
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    delivered_at: datetime | None
    payload: dict[str, Any]
