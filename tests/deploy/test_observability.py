"""``/metrics`` in Prometheus format, and OpenTelemetry traces (off unless configured)."""

import asyncio
import json
import logging
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from aiohttp import web
from asgi_lifespan import LifespanManager
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from prometheus_client.parser import text_string_to_metric_families

from services.common.tracing import traces_url
from services.gateway.app import create_app as create_gateway
from services.gateway.config import Settings as GatewaySettings
from tests.support import running_stack

CLOSED_PORT_URL = "http://127.0.0.1:9"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def samples(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    """Every sample of a Prometheus text document, by sample name."""
    found: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(sample.name, []).append((sample.labels, sample.value))
    return found


def value(found: dict, name: str, **labels: str) -> float:
    matches = [
        v for lab, v in found.get(name, []) if all(lab.get(k) == x for k, x in labels.items())
    ]
    assert matches, f"no sample {name} with {labels}; have {sorted(found)}"
    return sum(matches)


async def test_metrics_serve_request_outbox_and_pool_families(backend: str, tmp_path: Path) -> None:
    async with running_stack(
        backend, tmp_path, services=("partners",), event_subscribers=[CLOSED_PORT_URL]
    ) as stack:
        funder = await stack.new_funder()
        await stack.new_partner(funder["id"])
        missing = await stack.partners.get(
            f"/api/v1/partners/{uuid.uuid4()}", headers=stack.tokens.staff(funder["id"])
        )
        assert missing.status_code == 404
        assert (await stack.partners.get("/no/such/path")).status_code == 404

        response = await stack.partners.get("/metrics")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
        found = samples(response.text)

        common = {"service": "partners"}
        assert value(found, "trellis_http_requests_total", **common, method="POST",
                     route="/api/v1/funders", status="201") == 1  # fmt: skip
        # Route templates, never raw paths: the id is not a label value.
        assert value(found, "trellis_http_requests_total", **common, method="GET",
                     route="/api/v1/partners/{partner_id}", status="404") == 1  # fmt: skip
        assert value(found, "trellis_http_requests_total", route="unmatched", status="404") == 1
        assert not any(
            str(funder["id"]) in str(labels) for labels, _ in found["trellis_http_requests_total"]
        )
        assert value(found, "trellis_http_request_duration_seconds_count", **common,
                     route="/api/v1/partners", method="POST", status="201") == 1  # fmt: skip
        assert "trellis_http_request_duration_seconds_bucket" in found

        # partner.created + relationship.changed wait for their one subscriber.
        backlog = value(found, "trellis_outbox_backlog", **common)
        assert backlog >= 2
        assert value(found, "trellis_outbox_delivery_failures_total", **common) == 0
        assert value(found, "trellis_database_up", **common) == 1
        assert value(found, "trellis_db_pool_size", **common) >= 0
        assert "trellis_db_pool_checked_out" in found

        # The subscriber is down: every attempt fails, the backlog stays and ages.
        await asyncio.sleep(0.05)
        await stack.apps["partners"].state.dispatcher.deliver_due()
        found = samples((await stack.partners.get("/metrics")).text)
        assert value(found, "trellis_outbox_delivery_failures_total", **common) == backlog
        assert value(found, "trellis_outbox_deliveries_total", **common) == 0
        assert value(found, "trellis_outbox_backlog", **common) == backlog
        assert value(found, "trellis_outbox_oldest_pending_seconds", **common) > 0
        assert value(found, "trellis_outbox_dead_letters", **common) == 0


async def test_metrics_count_deliveries_when_the_subscriber_answers(tmp_path: Path) -> None:
    async with running_stack(
        "sqlite",
        tmp_path,
        services=("partners", "funding"),
        event_subscribers=["http://funding.test"],
    ) as stack:
        funder = await stack.new_funder()
        await stack.new_partner(funder["id"])
        await stack.deliver_events()
        found = samples((await stack.partners.get("/metrics")).text)
        assert value(found, "trellis_outbox_backlog", service="partners") == 0
        assert value(found, "trellis_outbox_deliveries_total", service="partners") >= 2
        assert value(found, "trellis_outbox_oldest_pending_seconds", service="partners") == 0


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """The apps reconfigure the root logger; put it back for the other tests."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


async def test_tracing_is_off_by_default(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], restore_logging: None
) -> None:
    async with running_stack("sqlite", tmp_path, services=("partners",), log_level="INFO") as stack:
        app = stack.apps["partners"]
        assert app.state.tracer_provider is None
        assert OpenTelemetryMiddleware not in [m.cls for m in app.user_middleware]
        response = await stack.partners.get("/healthz", headers={"X-Request-ID": "req-off-1"})
        assert response.status_code == 200
    lines = [
        json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")
    ]
    access = [line for line in lines if line.get("request_id") == "req-off-1"]
    assert access and access[0]["trace_id"] is None


@pytest.fixture
async def otlp_collector() -> AsyncIterator[tuple[str, list[ExportTraceServiceRequest]]]:
    """A real OTLP/HTTP receiver on a local port, keeping every export it gets."""
    received: list[ExportTraceServiceRequest] = []

    async def traces(request: web.Request) -> web.Response:
        assert request.content_type == "application/x-protobuf"
        message = ExportTraceServiceRequest()
        message.ParseFromString(await request.read())
        received.append(message)
        return web.Response(status=200, content_type="application/x-protobuf", body=b"")

    app = web.Application()
    app.router.add_post("/v1/traces", traces)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        yield f"http://127.0.0.1:{port}", received
    finally:
        await runner.cleanup()


async def test_traces_cross_services_and_reach_the_collector(
    tmp_path: Path,
    otlp_collector: tuple[str, list[ExportTraceServiceRequest]],
    capsys: pytest.CaptureFixture[str],
    restore_logging: None,
) -> None:
    """Partners delivers an event to funding over a real socket: one trace, two services."""
    endpoint, received = otlp_collector
    memory = InMemorySpanExporter()
    port = free_port()
    # Both stacks share tmp_path, so the same signing keys: funding accepts partners' token.
    async with running_stack(
        "sqlite", tmp_path, services=("funding",), otlp_endpoint=endpoint, log_level="INFO"
    ) as funding_stack:
        funding_app = funding_stack.apps["funding"]
        server = uvicorn.Server(
            uvicorn.Config(
                funding_app, host="127.0.0.1", port=port, lifespan="off", log_config=None
            )
        )
        serving = asyncio.create_task(server.serve())
        for _ in range(500):
            if server.started:
                break
            await asyncio.sleep(0.01)
        assert server.started
        try:
            async with running_stack(
                "sqlite",
                tmp_path,
                services=("partners",),
                event_subscribers=[f"http://127.0.0.1:{port}"],
                otlp_endpoint=endpoint,
                log_level="INFO",
            ) as stack:
                for app in (funding_app, stack.apps["partners"]):
                    assert app.state.tracer_provider is not None
                    app.state.tracer_provider.add_span_processor(SimpleSpanProcessor(memory))
                response = await stack.partners.post(
                    "/api/v1/funders",
                    headers={**stack.tokens.admin(), "X-Request-ID": "req-traced-1"},
                    json={"name": "The Traced Trust", "slug": f"traced-{uuid.uuid4().hex[:6]}",
                          "prefix_360giving": "360G-traced", "org_id": "GB-CHC-1000001"},
                )  # fmt: skip
                assert response.status_code == 201, response.text
                await stack.new_partner(response.json()["id"])
                assert await stack.apps["partners"].state.dispatcher.deliver_due() >= 2
                backlog = samples((await stack.partners.get("/metrics")).text)
                assert value(backlog, "trellis_outbox_backlog", service="partners") == 0
        finally:
            server.should_exit = True
            await serving
        spans = memory.get_finished_spans()

    server = [s for s in spans if s.kind == SpanKind.SERVER]
    create = next(s for s in server if s.name == "POST /api/v1/funders")
    assert create.resource.attributes["service.name"] == "trellis-partners"
    assert create.attributes["http.route"] == "/api/v1/funders"
    assert create.attributes["trellis.request_id"] == "req-traced-1"
    assert not [s for s in server if s.name.endswith(("/healthz", "/metrics"))]

    # Each delivery: partners' client span is the remote parent of funding's server span
    # (the W3C traceparent header crossed the socket).
    clients = {s.context.span_id: s for s in spans if s.kind == SpanKind.CLIENT}
    consumed = [s for s in server if s.name == "POST /internal/events"]
    assert len(consumed) >= 2
    for span in consumed:
        assert span.resource.attributes["service.name"] == "trellis-funding"
        assert span.parent is not None and span.parent.is_remote
        parent = clients[span.parent.span_id]
        assert parent.resource.attributes["service.name"] == "trellis-partners"
        assert parent.context.trace_id == span.context.trace_id

    # The JSON access log line of the request carries its trace id next to its request id.
    lines = [
        json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")
    ]
    access = [line for line in lines if line.get("request_id") == "req-traced-1"]
    assert access and access[0]["trace_id"] == format(create.context.trace_id, "032x")

    # The real exporter sent the spans to the collector over OTLP/HTTP at shutdown.
    exported = {
        attr.value.string_value
        for message in received
        for resource_spans in message.resource_spans
        for attr in resource_spans.resource.attributes
        if attr.key == "service.name"
    }
    assert {"trellis-partners", "trellis-funding"} <= exported


def test_traces_url_accepts_a_base_or_a_full_url() -> None:
    assert traces_url("http://otel:4318") == "http://otel:4318/v1/traces"
    assert traces_url("http://otel:4318/") == "http://otel:4318/v1/traces"
    assert traces_url("http://otel:4318/v1/traces") == "http://otel:4318/v1/traces"


async def test_gateway_metrics_label_proxied_requests_by_resource(tmp_path: Path) -> None:
    settings = GatewaySettings(
        data_dir=tmp_path,
        partners_url=CLOSED_PORT_URL,
        funding_url=CLOSED_PORT_URL,
        feedback_url=CLOSED_PORT_URL,
        log_level="WARNING",
        metrics_token="scrape-secret",
        metrics_port=0,
    )
    app = create_gateway(settings)
    async with (
        LifespanManager(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as client,
    ):
        down = await client.get(f"/api/v1/grants/{uuid.uuid4()}")
        assert down.status_code == 503
        assert (await client.get("/api/v1/no-such-thing")).status_code == 404
        assert (await client.get("/healthz")).status_code == 200
        # On the public port /metrics is as good as absent without the metrics token...
        for headers in ({}, {"Authorization": "Bearer wrong"}):
            refused = await client.get("/metrics", headers=headers)
            assert refused.status_code == 404
            assert refused.headers["content-type"] == "application/problem+json"
        response = await client.get("/metrics", headers={"Authorization": "Bearer scrape-secret"})
        # ...and open on the internal metrics port, where Prometheus scrapes it.
        async with httpx.AsyncClient() as internal:
            scraped = await internal.get(app.state.metrics_url)
        assert scraped.status_code == 200
        assert "trellis_http_requests_total" in scraped.text
    assert response.status_code == 200
    found = samples(response.text)
    common = {"service": "gateway", "method": "GET"}
    assert (
        value(found, "trellis_http_requests_total", **common, route="/api/v1/grants", status="503")
        == 1
    )
    assert (
        value(found, "trellis_http_requests_total", **common, route="unmatched", status="404") == 1
    )
    assert (
        value(found, "trellis_http_requests_total", **common, route="/healthz", status="200") == 1
    )
    assert "trellis_http_request_duration_seconds_bucket" in found
    assert app.state.tracer_provider is None
