"""OpenTelemetry tracing across the gateway and the services: off unless configured.

Set ``TRELLIS_OTLP_ENDPOINT`` (an OTLP/HTTP collector, e.g.
``http://otel-collector:4318``) and each process exports its spans there as
``trellis-<service>``: one server span per request (named by route template),
one client span per call to another service or event delivery, with the W3C
``traceparent`` header carried across, so a request through the gateway is one
trace. Unset, nothing is installed and nothing is paid on the hot path.
The SDK's standard variables still apply (``OTEL_TRACES_SAMPLER``,
``OTEL_TRACES_SAMPLER_ARG`` for sampling, ``OTEL_EXPORTER_OTLP_HEADERS`` for auth).

JSON log lines carry ``trace_id`` next to ``request_id`` (see ``logs.py``).

This module needs only OpenTelemetry's API; the SDK, the exporter and the
instrumentations are in ``tracing_export.py``, loaded when an endpoint is set.
"""

import asyncio
import importlib
import logging
from types import ModuleType
from typing import TYPE_CHECKING

import httpx
from fastapi import FastAPI
from opentelemetry import propagate, trace
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.common.metrics import route_template
from services.common.requestid import current_request_id

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

logger = logging.getLogger("trellis.tracing")

TRACES_PATH = "/v1/traces"


def _export() -> ModuleType:
    """services/common/tracing_export.py, loaded by name when a process traces (see there)."""
    return importlib.import_module("services.common.tracing_export")


def traces_url(endpoint: str) -> str:
    """The OTLP/HTTP traces URL for a collector's base URL (or the full URL as given)."""
    endpoint = endpoint.rstrip("/")
    return endpoint if endpoint.endswith(TRACES_PATH) else endpoint + TRACES_PATH


def current_trace_id() -> str | None:
    """The trace id of the span being recorded now, as 32 hex digits, if any."""
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None


def trace_headers() -> dict[str, str]:
    """``traceparent`` (and ``tracestate``) for the current span; empty when not tracing.

    For code that forwards requests without the instrumented httpx client (the
    gateway's proxy): add these to the upstream request.
    """
    carrier: dict[str, str] = {}
    if trace.get_current_span().get_span_context().is_valid:
        propagate.inject(carrier)
    return carrier


class _RouteSpanMiddleware:
    """Names the server span by route template and adds the request id, once routed."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        span = trace.get_current_span()
        if scope["type"] != "http" or not span.is_recording():
            await self.app(scope, receive, send)
            return

        async def name_span(message: Message) -> None:
            # The server span ends with the response body: name it at the response start.
            if message["type"] == "http.response.start":
                route = route_template(scope)
                if route:
                    span.update_name(f"{scope['method']} {route}")
                    span.set_attribute("http.route", route)
                request_id = current_request_id()
                if request_id:
                    span.set_attribute("trellis.request_id", request_id)
            await send(message)

        await self.app(scope, receive, name_span)


def install_tracing(app: FastAPI, service: str, endpoint: str | None) -> "TracerProvider | None":
    """Trace ``app``'s requests to an OTLP/HTTP ``endpoint``; do nothing without one.

    Call it once while building the app, after the other middleware (the
    tracing middleware must be the outermost so every log line of a request
    sees its trace id). The provider is kept on ``app.state.tracer_provider``;
    tests may add their own span processor to it.
    """
    app.state.tracer_provider = None
    if not endpoint:
        return None
    export = _export()
    provider: TracerProvider = export.exporting_provider(service, traces_url(endpoint))
    app.state.tracer_provider = provider
    app.add_middleware(_RouteSpanMiddleware)
    export.add_server_spans(app, provider)
    logger.info("tracing on", extra={"otlp_endpoint": traces_url(endpoint)})
    return provider


def trace_asgi(app: ASGIApp, provider: "TracerProvider | None") -> ASGIApp:
    """``app`` with server spans from ``provider``; ``app`` itself when not tracing.

    For ASGI apps that bypass FastAPI's middleware stack (the gateway's proxy path).
    """
    if provider is None:
        return app
    return _export().server_spans(app, provider)


def instrument_client(app: FastAPI, client: httpx.AsyncClient) -> None:
    """Give ``client``'s calls client spans and ``traceparent`` when ``app`` is traced."""
    provider = getattr(app.state, "tracer_provider", None)
    if provider is not None:
        _export().client_spans(client, provider)


async def shutdown_tracing(app: FastAPI) -> None:
    """Flush and stop ``app``'s exporter (in a thread: the flush may block on the network)."""
    provider: TracerProvider | None = getattr(app.state, "tracer_provider", None)
    if provider is not None:
        await asyncio.to_thread(provider.shutdown)
