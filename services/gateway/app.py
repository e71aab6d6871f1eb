"""The gateway app: proxy for the API, plus its own health, readiness and docs."""

import asyncio
import functools
import hmac
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import aiohttp
import httpx
import orjson
from fastapi import FastAPI, Request
from prometheus_client.exposition import start_wsgi_server
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.common.auth import TokenVerifier
from services.common.docs import install_docs
from services.common.edge import EdgeMiddleware
from services.common.errors import (
    BadRequest,
    NotFound,
    ServiceUnavailable,
    install_problem_handlers,
)
from services.common.http import ServiceClient, ServiceTokens
from services.common.logs import configure_logging
from services.common.metrics import METRICS_PATH, install_metrics
from services.common.openapi import install_contract, operation_id
from services.common.revocation import RevocationList, http_source
from services.common.tracing import install_tracing, shutdown_tracing, trace_asgi
from services.gateway import routing
from services.gateway.config import Settings
from services.gateway.headers import NOSNIFF, VARY_ORIGIN, vary_origin
from services.gateway.landing import install_front_page
from services.gateway.openapi import OpenAPICache
from services.gateway.proxy import Proxy, Upstream, problem_response
from services.gateway.ratelimit import OwnOperationsLimits, RateLimitMiddleware
from services.gateway.takeout.jobs import TakeoutStore
from services.gateway.takeout.routes import router as takeout_router
from services.gateway.views.routes import router as views_router

CORS_ALLOW_HEADERS = [
    "Accept",
    "Authorization",
    "Content-Type",
    "Idempotency-Key",
    "If-Match",
    "If-None-Match",
    "Range",
    "X-Request-ID",
]
CORS_EXPOSE_HEADERS = [
    "Content-Range",
    "ETag",
    "Location",
    "X-Request-ID",
    "X-Next-Cursor",
    "X-Total-Count-Estimated",
    "Idempotent-Replayed",
    "Retry-After",
    "RateLimit",
    "RateLimit-Policy",
]
CORS_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


class ProblemCORSMiddleware(CORSMiddleware):
    """Starlette's CORS handling, with refused preflights answered as problem+json.

    A request without ``Origin`` only has ``Origin`` added to its answer's ``Vary`` (so
    a cache keeps answers to browsers apart). That is done on the raw headers, without
    Starlette's header objects; with ``mark_vary`` (in front of the proxy, which adds it
    to the headers it builds anyway) by marking the scope instead of wrapping ``send``.
    """

    def __init__(self, app: ASGIApp, *, mark_vary: bool = False, **options: Any) -> None:
        super().__init__(app, **options)
        self.mark_vary = mark_vary

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or any(n == b"origin" for n, _ in scope["headers"]):
            await super().__call__(scope, receive, send)
            return
        if self.mark_vary:
            scope[VARY_ORIGIN] = True
            await self.app(scope, receive, send)
            return

        async def send_vary(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = vary_origin(message.get("headers") or [])
            await send(message)

        await self.app(scope, receive, send_vary)

    def preflight_response(self, request_headers: Any) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code != 400:
            return response
        refused = bytes(response.body).decode().removeprefix("Disallowed CORS ")
        headers = {
            k: v
            for k, v in response.headers.items()
            if k.lower().startswith("access-control-") or k.lower() == "vary"
        }
        problem = BadRequest(
            f"This cross-origin request is not allowed (its {refused}). Allowed origins are set "
            "with TRELLIS_GATEWAY_CORS_ORIGINS; allowed headers are "
            f"{', '.join(CORS_ALLOW_HEADERS)}.",
            slug="cors-refused",
            headers=headers,
        )
        return problem.to_response("preflight")


class GatewayApp(FastAPI):
    """FastAPI for the gateway's own pages; routed paths skip it entirely.

    A proxied request goes through ``hot_path`` only: the edge layer (request id, size
    limits, access log, metrics), CORS, rate limits and the proxy, all pure ASGI. FastAPI's per-request work (telemetry checks,
    exception middleware, routing) is kept for ``/healthz``, ``/readyz``,
    ``/openapi.json``, ``/docs``, ``/redoc`` and ``/``. Middleware for proxied requests belongs in
    ``hot_path`` (see ``create_app``), not in ``add_middleware``.
    """

    hot_path: ASGIApp
    metrics_token: bytes | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        path: str = scope["path"]
        if routing.is_routed(path):
            await self.hot_path(scope, receive, send)
            return
        if path == METRICS_PATH and not self._may_read_metrics(scope):
            problem = NotFound(f"There is no resource at {path}.")
            await problem_response(problem, path)(scope, receive, send)
            return

        async def send_nosniff(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), NOSNIFF]
            await send(message)

        await super().__call__(scope, receive, send_nosniff)

    def _may_read_metrics(self, scope: Scope) -> bool:
        """``/metrics`` on the public port opens only to the metrics token, when one is set.

        Prometheus reads it on the internal metrics port instead (``metrics_port``).
        """
        if self.metrics_token is None:
            return False
        for name, value in scope["headers"]:
            if name == b"authorization":
                return hmac.compare_digest(value, b"Bearer " + self.metrics_token)
        return False


def _verifier(
    settings: Settings, http: httpx.AsyncClient, revocations: RevocationList
) -> TokenVerifier:
    return TokenVerifier(
        issuer=settings.auth_issuer,
        audience=settings.auth_audience,
        keys_file=None if settings.auth_jwks_url else settings.signing_keys_file,
        jwks_url=settings.auth_jwks_url,
        http=http,
        revocations=revocations,
    )


def _revocations(settings: Settings, http: httpx.AsyncClient) -> RevocationList:
    """Revoked tokens, learnt from the partners service like every service does."""
    partners = ServiceClient(
        "partners", settings.service_url("partners"), http, ServiceTokens(settings, http)
    )
    return RevocationList(
        http_source(partners),
        poll_interval=settings.revocation_poll_interval,
        retention=settings.revocation_retention,
        max_staleness=settings.revocation_max_staleness,
    )


async def _readiness(upstream: Upstream, limit: float) -> str:
    """``ready``, ``degraded`` (it serves, but its events are held up), or why it is not."""
    try:
        async with upstream.session.get(
            upstream.base_url + "/readyz", timeout=aiohttp.ClientTimeout(total=limit)
        ) as response:
            body = await response.read()
            if response.status != 200:
                return f"not ready ({response.status})"
    except TimeoutError:
        return f"no answer within {limit:g} seconds"
    except aiohttp.ClientError:
        return "unreachable"
    try:
        status = orjson.loads(body).get("status")
    except (orjson.JSONDecodeError, AttributeError):
        status = None
    return "degraded" if status == "degraded" else "ready"


SERVING = frozenset({"ready", "degraded"})


def _route_label(scope: Scope) -> str | None:
    """The metrics label of a proxied request: its resource, never the raw path."""
    return _label_of(scope["path"])


@functools.lru_cache(maxsize=routing.REMEMBERED_PATHS)
def _label_of(path: str) -> str | None:
    if path.startswith(routing.API_PREFIX):
        first, _, tail = path[len(routing.API_PREFIX) :].partition("/")
        if first in routing.RESOURCES:
            return routing.API_PREFIX + first
        second = f"{first}/{tail.partition('/')[0]}"
        return routing.API_PREFIX + second if second in routing.RESOURCES else None
    return next((prefix for prefix in routing.PREFIXES if path.startswith(prefix)), None)


def create_app(settings: Settings | None = None) -> FastAPI:
    """The gateway. It talks to the services over HTTP only, at their configured URLs."""
    settings = settings or Settings()
    upstreams: dict[str, Upstream] = {}
    takeouts = TakeoutStore(
        settings.data_dir / "takeouts", keep=timedelta(hours=settings.takeout_keep_hours)
    )
    proxy = Proxy(upstreams, verifier=None)
    limits = RateLimitMiddleware(proxy, settings, lambda: proxy.verifier)
    openapi = OpenAPICache(
        upstreams,
        ttl=settings.openapi_cache_seconds,
        fetch_timeout=settings.upstream_timeout,
        own=lambda: app.openapi(),
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings.service_name, settings.log_level)
        http = httpx.AsyncClient(timeout=httpx.Timeout(settings.upstream_timeout))
        for name in routing.UPSTREAMS:
            upstreams[name] = Upstream.open(
                name,
                settings.service_url(name),
                connect_timeout=settings.connect_timeout,
                timeout=settings.upstream_timeout,
                max_connections=settings.max_connections,
                deadline=settings.request_deadline,
            )
        revocations = _revocations(settings, http)
        proxy.verifier = _verifier(settings, http, revocations)
        revocations.start()
        await limits.open()
        metrics_server = None
        if settings.metrics_port is not None:
            # A plain threaded server on its own port: Prometheus scrapes it inside the
            # network, and the public port never answers /metrics without the token.
            metrics_server, _ = start_wsgi_server(
                settings.metrics_port, settings.metrics_host, registry=metrics.registry
            )
            host, port = metrics_server.server_address[:2]
            app.state.metrics_url = f"http://{host}:{port}{METRICS_PATH}"
        app.state.settings = settings
        app.state.upstreams = upstreams
        app.state.verifier = proxy.verifier
        app.state.openapi = openapi
        app.state.takeouts = takeouts
        try:
            yield
        finally:
            await takeouts.close()
            await limits.close()
            await revocations.stop()
            for upstream in upstreams.values():
                await upstream.close()
            upstreams.clear()
            await http.aclose()
            if metrics_server is not None:
                metrics_server.shutdown()
                metrics_server.server_close()
            await shutdown_tracing(app)

    app = GatewayApp(
        title="Trellis gateway",
        version="1.0.0",
        lifespan=lifespan,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        generate_unique_id_function=operation_id,
    )
    install_problem_handlers(app)
    # The gateway's own operations (composite views, audit, takeout) are documented as
    # every service's are, and merged into /openapi.json as the service "gateway".
    install_contract(app)
    if settings.metrics_token:
        app.metrics_token = settings.metrics_token.encode()
    cors: dict[str, Any] = {
        "allow_origins": settings.cors_origins,
        "allow_methods": CORS_METHODS,
        "allow_headers": CORS_ALLOW_HEADERS,
        "expose_headers": CORS_EXPOSE_HEADERS,
        "max_age": 600,
    }
    metrics = install_metrics(app, settings.service_name)
    limits.count_in(metrics.registry, settings.service_name)
    app.add_middleware(OwnOperationsLimits, limits=limits)
    app.add_middleware(ProblemCORSMiddleware, **cors)
    app.add_middleware(EdgeMiddleware, metrics=metrics, max_body_bytes=None, deadlines=False)
    tracer_provider = install_tracing(app, settings.service_name, settings.otlp_endpoint)
    proxy.tracing = tracer_provider is not None
    # Two layers before the proxy: the edge (request id, size limits, access log, metrics;
    # the gateway sets deadlines rather than taking them) and CORS, which its refusals
    # pass through too; then the rate limits.
    app.hot_path = trace_asgi(
        EdgeMiddleware(
            ProblemCORSMiddleware(limits, mark_vary=True, **cors),
            metrics=metrics,
            max_body_bytes=settings.max_body_bytes,
            deadlines=False,
            route=_route_label,
            wrap_refusal=lambda refuse: ProblemCORSMiddleware(refuse, **cors),
        ),
        tracer_provider,
    )

    app.include_router(views_router)
    app.include_router(takeout_router)

    @app.get("/healthz", tags=["health"], summary="Is the gateway alive?")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"], summary="Do all the services behind the gateway answer?")
    async def readyz(request: Request) -> dict[str, Any]:
        names = list(upstreams)
        states = await asyncio.gather(
            *(_readiness(upstreams[n], settings.readiness_timeout) for n in names)
        )
        report = dict(zip(names, states, strict=True))
        down = [name for name, state in report.items() if state not in SERVING]
        if down:
            listed = ", ".join(f"{name} ({report[name]})" for name in down)
            raise ServiceUnavailable(
                f"Not ready: the {' and '.join(down)} service{'s are' if len(down) > 1 else ' is'} "
                f"not ready: {listed}.",
                extra={"upstreams": report, "down": down},
            )
        # A degraded service still serves (its outbox is held up): say so, stay in rotation.
        degraded = any(state == "degraded" for state in report.values())
        return {"status": "degraded" if degraded else "ready", "upstreams": report}

    @app.get("/openapi.json", include_in_schema=False)
    async def openapi_json() -> Response:
        return Response(await openapi.body(), media_type="application/json")

    install_docs(app, openapi_url="/openapi.json", title="Trellis API")
    install_front_page(app, settings.console_dir)
    return app
