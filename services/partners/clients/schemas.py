"""Request and response bodies for partner systems' API clients and their tokens."""

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from services.common.schemas import InputModel, Record


class ApiClientCreate(InputModel):
    name: str = Field(
        min_length=1, max_length=200, description="What the system is, e.g. 'Our CRM'"
    )


class ApiClient(Record):
    client_id: str
    partner_id: uuid.UUID
    name: str
    created_by: str
    created_at: datetime
    revoked_at: datetime | None
    confirmed_at: datetime | None = Field(
        description="When the organisation's own people registered or kept this client. "
        "Empty for a client registered before organisations owned their clients: it gets "
        "no token until a person of the organisation confirms it."
    )


class ApiClientWithSecret(ApiClient):
    client_secret: str = Field(description="Shown once. Keep it in the partner system's secrets.")


class TokenResponse(BaseModel):
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int
    scope: str


class OAuthError(BaseModel):
    """An RFC 6749 error answer (``application/json``, section 5.2)."""

    error: str = Field(description="invalid_request, invalid_client, invalid_grant, ...")
    error_description: str = Field(description="What went wrong, in words")
