"""The partners service: funders, partner organisations and the relationships between them."""

import httpx
from fastapi import FastAPI

from services.common.service_app import create_service_app
from services.partners.config import Settings
from services.partners.identity import router as identity_router
from services.partners.routes import internal, router


def create_app(
    settings: Settings | None = None,
    *,
    transports: dict[str, httpx.AsyncBaseTransport] | None = None,
) -> FastAPI:
    settings = settings or Settings()
    return create_service_app(
        settings,
        title="Trellis partners",
        description="Funders, partner organisations and each funder's relationship with them.",
        routers=[router],
        extra_routers=[identity_router, internal],
        transports=transports,
    )
