"""``create_service_app``: what every data service is made of, wired once."""

import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager

import httpx
from fastapi import APIRouter, FastAPI

from services.common import audit
from services.common.auth import TokenVerifier
from services.common.db import Database
from services.common.docs import install_docs
from services.common.edge import EdgeMiddleware
from services.common.errors import install_problem_handlers
from services.common.events import EventHandler, events_router
from services.common.health import router as health_router
from services.common.hotreads import HotReads
from services.common.http import ServiceClient, ServiceTokens
from services.common.idempotency import release_keys_of_ended_processes
from services.common.logs import configure_logging
from services.common.metrics import install_metrics, service_collectors
from services.common.openapi import install_contract, operation_id, problem_responses
from services.common.outbox import Outbox, OutboxDispatcher
from services.common.outbox_routes import outbox_router
from services.common.revocation import RevocationList, RevocationSource, http_source
from services.common.settings import SERVICES, ServiceSettings
from services.common.tracing import install_tracing, instrument_client, shutdown_tracing

API_PREFIX = "/api/v1"

logger = logging.getLogger("trellis.service")


__all__ = ["API_PREFIX", "create_service_app", "problem_responses"]


def create_service_app(
    settings: ServiceSettings,
    *,
    title: str,
    description: str,
    routers: Sequence[APIRouter],
    event_handlers: dict[str, EventHandler] | None = None,
    transports: dict[str, httpx.AsyncBaseTransport] | None = None,
    extra_routers: Sequence[APIRouter] = (),
    revocation_source: Callable[[FastAPI], RevocationSource] | None = None,
) -> FastAPI:
    """A FastAPI app with the kit wired in: database, auth, errors, outbox, health, logs.

    ``transports`` maps base URLs to in-process transports (tests use it to call
    the real other apps without sockets). Other services are reachable as
    ``app.state.services[name]``. Revoked tokens are learnt from partners over HTTP,
    or from ``revocation_source(app)`` (partners reads its own table).
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings.service_name, settings.log_level)
        timeout = httpx.Timeout(
            settings.upstream_timeout, connect=min(2.0, settings.upstream_timeout)
        )
        http = httpx.AsyncClient(
            timeout=timeout,
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
            mounts=dict(transports or {}),
        )
        instrument_client(app, http)
        db = Database(settings.effective_database_url)
        tokens = ServiceTokens(settings, http)
        outbox = Outbox(source=settings.service_name, subscribers=settings.subscribers)
        dispatcher = OutboxDispatcher(
            db,
            outbox,
            http,
            tokens,
            poll_interval=settings.outbox_poll_interval,
            max_backoff=settings.outbox_max_backoff,
            probe_interval=settings.outbox_probe_interval,
            backlog_alert_after=settings.outbox_backlog_alert_after,
        )
        app.state.settings = settings
        app.state.db = db
        app.state.http = http
        app.state.outbox = outbox
        app.state.dispatcher = dispatcher
        app.state.services = {
            name: ServiceClient(
                name,
                settings.service_url(name),
                http,
                tokens,
                caller=settings.service_name,
                timeout=settings.upstream_timeout,
            )
            for name in SERVICES
            if name != settings.service_name
        }
        revocations = RevocationList(
            revocation_source(app)
            if revocation_source is not None
            else http_source(
                app.state.services.get("partners")
                or ServiceClient(
                    "partners",
                    settings.service_url("partners"),
                    http,
                    tokens,
                    caller=settings.service_name,
                    timeout=settings.upstream_timeout,
                )
            ),
            poll_interval=settings.revocation_poll_interval,
            retention=settings.revocation_retention,
            max_staleness=settings.revocation_max_staleness,
        )
        app.state.revocations = revocations
        app.state.verifier = TokenVerifier(
            issuer=settings.auth_issuer,
            audience=settings.auth_audience,
            keys_file=None if settings.auth_jwks_url else settings.signing_keys_file,
            jwks_url=settings.auth_jwks_url,
            http=http,
            revocations=revocations,
        )
        try:
            await release_keys_of_ended_processes(db)
        except Exception:  # the database may be down: /readyz says so; retries take keys over
            logger.warning("could not free idempotency keys of ended processes", exc_info=True)
        # Built once now rather than on the first request, which the gateway makes with a
        # short timeout when it merges every service's document.
        app.openapi()
        if settings.outbox_autostart:
            dispatcher.start()
        revocations.start()
        try:
            yield
        finally:
            await revocations.stop()
            await dispatcher.stop()
            await http.aclose()
            await db.dispose()
            await shutdown_tracing(app)

    app = FastAPI(
        title=title,
        description=description,
        version="1.0.0",
        lifespan=lifespan,
        generate_unique_id_function=operation_id,
        docs_url=None,
        redoc_url=None,
    )
    install_problem_handlers(app)
    metrics = install_metrics(
        app, settings.service_name, collectors=service_collectors(app, settings.service_name)
    )
    # One pure-ASGI layer: request id, deadline, size limits, access log, metrics.
    app.add_middleware(EdgeMiddleware, metrics=metrics, max_body_bytes=settings.max_body_bytes)
    install_tracing(app, settings.service_name, settings.otlp_endpoint)
    app.include_router(health_router)
    for router in routers:
        app.include_router(router, prefix=API_PREFIX)
    app.include_router(audit.router(settings.service_name), prefix=API_PREFIX)
    for router in extra_routers:
        app.include_router(router)
    app.include_router(events_router(event_handlers or {}))
    install_contract(app)
    install_docs(app)
    app.include_router(outbox_router())
    # In front of the router, inside the error handlers: ``@hot_read`` endpoints.
    app.router.middleware_stack = HotReads(app.router.middleware_stack)
    return app
