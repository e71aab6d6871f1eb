"""The gateway's own answers: CORS, health, readiness, and 503s for upstreams that fail."""

import time
from collections.abc import Iterator

import httpx
import pytest

from services.gateway.app import create_app
from tests.gateway.conftest import (
    Echo,
    EchoStack,
    Keys,
    Served,
    Services,
    gateway_settings,
)
from tests.gateway.served import closed_port_url

ORIGIN = "https://admin.example.org"


async def test_cors_preflight_allows_the_headers_a_front_end_sends(echo_stack: EchoStack) -> None:
    async with httpx.AsyncClient(base_url=echo_stack.url) as client:
        response = await client.options(
            "/api/v1/grants",
            headers={
                "Origin": ORIGIN,
                "Access-Control-Request-Method": "PUT",
                "Access-Control-Request-Headers": (
                    "range, authorization, content-type, idempotency-key, if-match, x-request-id"
                ),
            },
        )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == ORIGIN
    allowed = {
        h.strip().lower() for h in response.headers["access-control-allow-headers"].split(",")
    }
    assert {"range", "authorization", "content-type", "idempotency-key", "if-match"} <= allowed
    assert "x-request-id" in allowed
    assert "PUT" in response.headers["access-control-allow-methods"]


async def test_cors_refuses_other_origins_with_a_problem(echo_stack: EchoStack) -> None:
    async with httpx.AsyncClient(base_url=echo_stack.url) as client:
        response = await client.options(
            "/api/v1/grants",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
        )
        assert response.status_code == 400
        assert response.headers["content-type"] == "application/problem+json"
        assert "TRELLIS_GATEWAY_CORS_ORIGINS" in response.json()["detail"]

        response = await client.get("/api/v1/grants", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in response.headers


async def test_cors_exposes_the_headers_react_admin_reads(echo_stack: EchoStack) -> None:
    async with httpx.AsyncClient(base_url=echo_stack.url) as client:
        response = await client.get("/api/v1/grants", headers={"Origin": ORIGIN})
    assert response.headers["access-control-allow-origin"] == ORIGIN
    exposed = {
        h.strip().lower() for h in response.headers["access-control-expose-headers"].split(",")
    }
    assert {"content-range", "etag", "location", "x-request-id", "x-next-cursor"} <= exposed
    assert response.headers["content-range"] == "things 0-0/1"


async def test_health_and_readiness_with_every_service_up(gateway: str) -> None:
    async with httpx.AsyncClient(base_url=gateway) as client:
        assert (await client.get("/healthz")).json() == {"status": "ok"}
        response = await client.get("/readyz")
    assert response.status_code == 200, response.text
    assert response.json() == {
        "status": "ready",
        "upstreams": {"partners": "ready", "funding": "ready", "feedback": "ready"},
    }


async def test_a_real_call_through_the_gateway(gateway: str, keys: Keys) -> None:
    async with httpx.AsyncClient(base_url=gateway) as client:
        response = await client.post(
            "/api/v1/funders",
            headers=keys.tokens.admin(),
            json={
                "name": "The Gateway Trust",
                "slug": "gateway-trust",
                "prefix_360giving": "360G-gateway",
                "org_id": "GB-CHC-1000001",
            },
        )
        assert response.status_code == 201, response.text
        funder = response.json()
        staff = keys.tokens.staff(funder["id"])
        response = await client.post(
            "/api/v1/partners", headers=staff, json={"name": "Riverside Arts", "status": "active"}
        )
        assert response.status_code == 201, response.text
        assert response.headers["location"].startswith("/api/v1/partners/")
        response = await client.get("/api/v1/partners", headers={**staff, "Origin": ORIGIN})
        assert response.status_code == 200
        assert [p["name"] for p in response.json()] == ["Riverside Arts"]
        assert response.headers["content-range"] == "partners 0-0/1"
        assert "content-range" in response.headers["access-control-expose-headers"].lower()
        response = await client.get("/api/v1/partners")
        assert response.status_code == 401  # the service decides what the public may see
        response = await client.get("/.well-known/openid-configuration")
        assert response.json()["token_endpoint"].endswith("/oauth/token")


@pytest.fixture
def gateway_without_funding(keys: Keys, services: Services) -> Iterator[str]:
    urls = {**services.urls, "funding": closed_port_url()}
    served = Served(create_app(gateway_settings(keys, urls, connect_timeout=1.0))).start()
    yield served.url
    served.stop()


async def test_a_dead_upstream_is_a_503_naming_it(gateway_without_funding: str) -> None:
    async with httpx.AsyncClient(base_url=gateway_without_funding, timeout=10) as client:
        for method in ("GET", "POST"):
            started = time.monotonic()
            response = await client.request(method, "/api/v1/grants", json={"title": "x"})
            assert time.monotonic() - started < 2
            assert response.status_code == 503
            assert response.headers["content-type"] == "application/problem+json"
            body = response.json()
            assert body["detail"].startswith("The funding service is unavailable")
            assert body["service"] == "funding"
            assert response.headers["x-request-id"]
        # the others still answer
        response = await client.get("/.well-known/openid-configuration")
        assert response.status_code == 200


async def test_readyz_names_the_upstream_that_is_down(gateway_without_funding: str) -> None:
    async with httpx.AsyncClient(base_url=gateway_without_funding, timeout=10) as client:
        response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert "funding" in body["detail"]
    assert "partners" not in body["detail"]
    assert body["down"] == ["funding"]
    assert body["upstreams"]["funding"] == "unreachable"
    assert body["upstreams"]["partners"] == "ready"


@pytest.fixture
def gateway_with_slow_feedback(keys: Keys, services: Services) -> Iterator[str]:
    slow = Served(Echo("feedback", delay=3.0), lifespan="off").start()
    urls = {**services.urls, "feedback": slow.url}
    served = Served(create_app(gateway_settings(keys, urls, upstream_timeout=0.5))).start()
    yield served.url
    served.stop()
    slow.stop()


async def test_a_slow_upstream_is_a_503_within_the_timeout(gateway_with_slow_feedback: str) -> None:
    async with httpx.AsyncClient(base_url=gateway_with_slow_feedback, timeout=10) as client:
        started = time.monotonic()
        response = await client.get("/api/v1/commitments")
        elapsed = time.monotonic() - started
    assert response.status_code == 503
    assert 0.4 < elapsed < 2
    body = response.json()
    assert body["detail"] == (
        "The feedback service is unavailable: it did not answer within 0.5 seconds. "
        "Try again shortly."
    )


async def test_readyz_passes_on_a_degraded_service_and_stays_ready(keys) -> None:
    """A service whose events are held up still serves: the gateway says so, with a 200."""

    async def degraded(scope, receive, send) -> None:
        if scope["type"] != "http":
            return
        body = b'{"status": "degraded", "outbox": {"waiting": 3, "dead": 1}}'
        if scope["path"] != "/readyz":
            body = b'{"status": "ready"}'
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})

    async def ready(scope, receive, send) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b'{"status": "ready"}'})

    up, down = Served(ready, lifespan="off").start(), Served(degraded, lifespan="off").start()
    urls = {"partners": up.url, "funding": down.url, "feedback": up.url}
    gateway = Served(create_app(gateway_settings(keys, urls))).start()
    try:
        async with httpx.AsyncClient(base_url=gateway.url) as client:
            response = await client.get("/readyz")
    finally:
        for server in (gateway, up, down):
            server.stop()
    assert response.status_code == 200
    assert response.json() == {
        "status": "degraded",
        "upstreams": {"partners": "ready", "funding": "degraded", "feedback": "ready"},
    }
