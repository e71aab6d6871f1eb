"""The OpenTelemetry SDK, the OTLP exporter and the instrumentations: tracing's heavy half.

``services/common/tracing.py`` loads this module by name, and only when an OTLP endpoint
is configured: the exporter pulls in protobuf, and importing it all took 0.2-0.4 s of
every process's start even with tracing off.
"""

import httpx
from fastapi import FastAPI
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from starlette.types import ASGIApp

#: Paths whose requests make no span.
NOT_TRACED = "/healthz$,/readyz$,/metrics$"


def exporting_provider(service: str, traces_url: str) -> TracerProvider:
    """A provider naming spans ``trellis-<service>`` and exporting them to ``traces_url``."""
    provider = TracerProvider(
        resource=Resource.create(
            {"service.name": f"trellis-{service}", "service.namespace": "trellis"}
        )
    )
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=traces_url)))
    return provider


def add_server_spans(app: FastAPI, provider: TracerProvider) -> None:
    """Give ``app``'s requests server spans (not the health checks nor metrics)."""
    app.add_middleware(
        OpenTelemetryMiddleware,
        tracer_provider=provider,
        excluded_urls=NOT_TRACED,
        exclude_spans=["receive", "send"],
    )


def server_spans(app: ASGIApp, provider: TracerProvider) -> ASGIApp:
    """``app`` with a server span for each request, as ``add_server_spans`` gives them."""
    return OpenTelemetryMiddleware(
        app, tracer_provider=provider, excluded_urls=NOT_TRACED, exclude_spans=["receive", "send"]
    )


def client_spans(client: httpx.AsyncClient, provider: TracerProvider) -> None:
    """Give ``client``'s calls client spans and the ``traceparent`` header."""
    HTTPXClientInstrumentor.instrument_client(client, tracer_provider=provider)
