"""The feedback service: partners hold the funder to account against its commitments."""

import httpx
from fastapi import FastAPI

from services.common.service_app import create_service_app
from services.feedback.anonymous_paths import UncorrelatedAnonymousRequests
from services.feedback.config import Settings
from services.feedback.measures.service import EVENT_HANDLERS as MEASURE_EVENTS
from services.feedback.rounds.audience import on_grant_completed
from services.feedback.routes import router

EVENT_HANDLERS = {**MEASURE_EVENTS, "grant.completed": on_grant_completed}


def create_app(
    settings: Settings | None = None,
    *,
    transports: dict[str, httpx.AsyncBaseTransport] | None = None,
) -> FastAPI:
    settings = settings or Settings()
    app = create_service_app(
        settings,
        title="Trellis feedback",
        description="Partners rate the funder against its published commitments; the funder answers.",
        routers=[router],
        event_handlers=EVENT_HANDLERS,
        transports=transports,
    )
    # Outermost: runs before the kit's request-id and tracing middlewares.
    app.add_middleware(UncorrelatedAnonymousRequests)
    return app
