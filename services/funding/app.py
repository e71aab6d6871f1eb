"""The funding service: core grants, payments, pooled funds and 360Giving open data."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from services.common.service_app import create_service_app
from services.funding.config import Settings
from services.funding.grants.overdue import OverdueChecker
from services.funding.pools.routes import internal as pools_internal_router
from services.funding.routes import routers


def create_app(
    settings: Settings | None = None,
    *,
    transports: dict[str, httpx.AsyncBaseTransport] | None = None,
) -> FastAPI:
    """The funding app. Its lifespan also runs the periodic overdue check
    (``app.state.overdue_checker``; ``await run_once()`` runs it on demand)."""
    settings = settings or Settings()
    app = create_service_app(
        settings,
        title="Trellis funding",
        description="Multi-year unrestricted core grants with no KPIs, and pooled listening funds.",
        routers=routers,
        extra_routers=[pools_internal_router],
        transports=transports,
    )
    kit_lifespan = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with kit_lifespan(app):
            checker = OverdueChecker(
                app.state.db,
                app.state.outbox,
                interval=settings.overdue_check_interval,
                due_soon_days=settings.due_soon_days,
            )
            app.state.overdue_checker = checker
            if settings.overdue_check_autostart:
                checker.start()
            try:
                yield
            finally:
                await checker.stop()

    app.router.lifespan_context = lifespan
    return app
