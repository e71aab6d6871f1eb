"""Prometheus metrics: ``GET /metrics`` on every service and on the gateway.

Families (every one labelled with ``service``):

- ``trellis_http_requests_total{method,route,status}``: requests answered, by the
  route *template* (``/api/v1/partners/{partner_id}``, never the raw path, so the
  label set stays small; unmatched paths count as ``route="unmatched"``).
- ``trellis_http_request_duration_seconds{method,route,status}``: latency histogram.
- ``trellis_outbox_backlog``: event deliveries still waiting (data services only),
  ``trellis_outbox_dead_letters`` (refused by their subscriber, parked until redelivered),
  ``trellis_outbox_oldest_pending_seconds`` (age of the oldest waiting delivery),
  ``trellis_outbox_degraded`` (1 when ``/readyz`` says degraded: alert on it),
  ``trellis_outbox_deliveries_total`` and ``trellis_outbox_delivery_failures_total``
  (attempts made by this process).
- ``trellis_db_pool_size``, ``trellis_db_pool_checked_out``, ``trellis_db_pool_overflow``:
  the database connection pool of this process; ``trellis_database_up``.
- ``trellis_rate_limit_unchecked_requests_total`` (gateway): requests let through without
  their rate limits being checked, because the limits' store failed or was too slow.

Each app has its own registry (several apps can share one process, as in the
tests); values that need the database are read when ``/metrics`` is scraped.
"""

import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest
from prometheus_client.registry import Collector
from starlette.responses import Response
from starlette.types import Scope

from services.common.outbox import OutboxStatus

logger = logging.getLogger("trellis.metrics")

METRICS_PATH = "/metrics"
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
UNMATCHED = "unmatched"

Refresher = Callable[[], Awaitable[None]]


class Metrics:
    """One app's registry and its HTTP request families."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.registry = CollectorRegistry(auto_describe=True)
        labels = ["service", "method", "route", "status"]
        self.requests = Counter(
            "trellis_http_requests",
            "HTTP requests answered, by route template and status.",
            labels,
            registry=self.registry,
        )
        self.latency = Histogram(
            "trellis_http_request_duration_seconds",
            "Time to answer an HTTP request, by route template and status.",
            labels,
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.refreshers: list[Refresher] = []
        self._children: dict[tuple[str, str, str], tuple[Any, Any]] = {}

    def observe(self, method: str, route: str, status: str, seconds: float) -> None:
        """Count one answered request and its latency (label children are cached: hot path)."""
        key = (method, route, status)
        children = self._children.get(key)
        if children is None:
            labels = (self.service, method, route, status)
            children = (self.requests.labels(*labels), self.latency.labels(*labels))
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def register(self, collector: Collector, refresh: Refresher | None = None) -> None:
        """Add a collector; ``refresh`` runs (awaited) before each scrape."""
        self.registry.register(collector)
        if refresh is not None:
            self.refreshers.append(refresh)

    async def render(self) -> bytes:
        """The registry in Prometheus text format, after refreshing scrape-time values."""
        for refresh in self.refreshers:
            await refresh()
        return generate_latest(self.registry)


def route_template(scope: Scope) -> str | None:
    """The full path template of the route that answered (``/api/v1/partners/{partner_id}``).

    FastAPI keeps the effective route (with the include prefix) in its scope
    entry; older versions copy included routes with their full path.
    """
    fastapi_scope = scope.get("fastapi")
    context = (
        fastapi_scope.get("effective_route_context") if isinstance(fastapi_scope, dict) else None
    )
    path = getattr(context, "path_format", None)
    if path:
        return path
    route = scope.get("route")
    return getattr(route, "path_format", None) or getattr(route, "path", None)


def install_metrics(
    app: FastAPI,
    service: str,
    *,
    collectors: Sequence[tuple[Collector, Refresher | None]] = (),
) -> Metrics:
    """Count every request of ``app`` and serve ``GET /metrics``.

    Call it once, when the app is built, and give the ``Metrics`` it returns to the
    app's ``EdgeMiddleware`` (``services.common.edge``), which counts the requests. The
    gateway does ``install_metrics(app, "gateway")``; the data services get it from
    ``create_service_app`` together with the outbox and pool collectors.
    """
    metrics = Metrics(service)
    for collector, refresh in collectors:
        metrics.register(collector, refresh)
    app.state.metrics = metrics

    async def metrics_endpoint(request: Request) -> Response:
        """Prometheus metrics of this process (text exposition format)."""
        body = await request.app.state.metrics.render()
        return Response(body, media_type=CONTENT_TYPE_PLAIN_0_0_4)

    app.add_api_route(METRICS_PATH, metrics_endpoint, methods=["GET"], include_in_schema=False)
    return metrics


@dataclass
class _OutboxSnapshot:
    up: bool = False
    status: OutboxStatus | None = None


class ServiceCollector(Collector):
    """Outbox and database-pool figures of a data service, read at scrape time.

    It reads ``app.state.db`` and ``app.state.dispatcher``, which the service's
    lifespan creates; before startup it reports nothing.
    """

    def __init__(self, app: FastAPI, service: str) -> None:
        self.app = app
        self.service = service
        self.snapshot = _OutboxSnapshot()

    async def refresh(self) -> None:
        """Count waiting and dead deliveries with one query (the one ``/readyz`` makes)."""
        db = getattr(self.app.state, "db", None)
        dispatcher = getattr(self.app.state, "dispatcher", None)
        if db is None or dispatcher is None:
            self.snapshot = _OutboxSnapshot()
            return
        try:
            async with db.sessionmaker() as session:
                status = await dispatcher.status(session)
        except Exception:
            logger.warning("metrics: the database did not answer the outbox query", exc_info=True)
            self.snapshot = _OutboxSnapshot(up=False)
            return
        self.snapshot = _OutboxSnapshot(True, status)

    def _gauge(self, name: str, doc: str, value: float) -> GaugeMetricFamily:
        family = GaugeMetricFamily(name, doc, labels=["service"])
        family.add_metric([self.service], value)
        return family

    def _counter(self, name: str, doc: str, value: float) -> CounterMetricFamily:
        family = CounterMetricFamily(name, doc, labels=["service"])
        family.add_metric([self.service], value)
        return family

    def describe(self) -> Iterable[Metric]:
        return []

    def collect(self) -> Iterable[Metric]:
        db = getattr(self.app.state, "db", None)
        dispatcher = getattr(self.app.state, "dispatcher", None)
        if db is None or dispatcher is None:
            return
        snap = self.snapshot
        yield self._gauge(
            "trellis_database_up",
            "1 when the service's database answered the last scrape.",
            1 if snap.up else 0,
        )
        if snap.up and snap.status is not None:
            status = snap.status
            yield self._gauge(
                "trellis_outbox_backlog",
                "Event deliveries waiting to be made (including ones being retried).",
                status.waiting,
            )
            yield self._gauge(
                "trellis_outbox_dead_letters",
                "Event deliveries their subscriber refused, parked until redelivered.",
                status.dead,
            )
            yield self._gauge(
                "trellis_outbox_oldest_pending_seconds",
                "Age of the oldest event delivery still waiting (0 when none waits).",
                status.oldest_seconds,
            )
            yield self._gauge(
                "trellis_outbox_degraded",
                "1 when /readyz says degraded: a refused event, or a backlog older than "
                "OUTBOX_BACKLOG_ALERT_AFTER.",
                1 if status.degraded else 0,
            )
        yield self._counter(
            "trellis_outbox_deliveries",
            "Event deliveries this process made successfully.",
            getattr(dispatcher, "deliveries", 0),
        )
        yield self._counter(
            "trellis_outbox_delivery_failures",
            "Event delivery attempts by this process that failed (they are retried).",
            getattr(dispatcher, "failures", 0),
        )
        pool = db.engine.sync_engine.pool
        for name, doc, method in (
            ("trellis_db_pool_size", "Connections the pool keeps open at most.", "size"),
            ("trellis_db_pool_checked_out", "Connections in use now.", "checkedout"),
            ("trellis_db_pool_overflow", "Connections opened beyond the pool size.", "overflow"),
        ):
            reader = getattr(pool, method, None)
            if callable(reader):
                yield self._gauge(name, doc, max(0, int(reader())))


def service_collectors(app: FastAPI, service: str) -> list[tuple[Collector, Refresher | None]]:
    """The collectors ``create_service_app`` registers for a data service."""
    collector = ServiceCollector(app, service)
    return [(collector, collector.refresh)]
