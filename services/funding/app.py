"""The funding service: core grants, payments, pooled funds and 360Giving open data."""

import httpx
from fastapi import FastAPI

from services.common.service_app import create_service_app
from services.funding.config import Settings
from services.funding.routes import router


def create_app(
    settings: Settings | None = None,
    *,
    transports: dict[str, httpx.AsyncBaseTransport] | None = None,
) -> FastAPI:
    settings = settings or Settings()
    return create_service_app(
        settings,
        title="Trellis funding",
        description="Multi-year unrestricted core grants with no KPIs, and pooled listening funds.",
        routers=[router],
        transports=transports,
    )
