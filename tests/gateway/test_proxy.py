"""What passes through the gateway: request ids, headers, tokens, and bodies as streams."""

import asyncio
import hashlib
import os
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from services.common.auth import KeyStore, TokenIssuer
from services.gateway.app import create_app
from tests.gateway.conftest import (
    Echo,
    EchoStack,
    Keys,
    Served,
    gateway_settings,
)
from tests.gateway.served import closed_port_url
from tests.support import AUDIENCE, ISSUER


def _header(seen: dict, name: str) -> list[str]:
    return [v for k, v in seen["headers"] if k == name]


async def test_request_id_is_passed_to_the_upstream_and_back(echo_stack: EchoStack) -> None:
    async with httpx.AsyncClient(base_url=echo_stack.url) as client:
        response = await client.get("/api/v1/grants", headers={"X-Request-ID": "trace-42.a"})
        assert _header(response.json(), "x-request-id") == ["trace-42.a"]
        assert response.headers["x-request-id"] == "trace-42.a"

        response = await client.get("/api/v1/grants")
        made = response.headers["x-request-id"]
        assert made and made != "made-up-by-upstream"
        assert _header(response.json(), "x-request-id") == [made]


async def test_hop_by_hop_headers_are_stripped_and_the_rest_pass(
    echo_stack: EchoStack, keys: Keys
) -> None:
    token = keys.tokens.staff(uuid.uuid4())
    async with httpx.AsyncClient(base_url=echo_stack.url) as client:
        response = await client.get(
            "/api/v1/partners",
            headers={
                **token,
                "Connection": "keep-alive, X-Drop-Me",
                "X-Drop-Me": "1",
                "TE": "trailers",
                "Proxy-Authorization": "Basic c2VjcmV0",
                "Range": "partners=0-24",
                "If-Match": '"v1"',
            },
        )
    seen = response.json()
    names = {k for k, _ in seen["headers"]}
    assert not names & {"x-drop-me", "te", "proxy-authorization"}
    assert _header(seen, "authorization") == [token["Authorization"]]
    assert _header(seen, "range") == ["partners=0-24"]
    assert _header(seen, "if-match") == ['"v1"']
    assert _header(seen, "x-forwarded-for") == ["127.0.0.1"]
    assert "x-secret-hop" not in response.headers
    assert response.headers["etag"] == '"v7"'
    assert response.headers["content-range"] == "things 0-0/1"
    assert response.headers["x-next-cursor"] == "abc"
    assert response.headers["set-cookie"] == "a=b; Path=/"


async def _problem(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert "service" not in body or body["status"] == status
    return body


async def test_bad_tokens_get_a_401_from_the_gateway(echo_stack: EchoStack, keys: Keys) -> None:
    staff = uuid.uuid4()
    other_keys = KeyStore(keys.data_dir / "other" / "keys.json")
    other_keys.ensure()
    bad = {
        "garbage": "not-a-jwt",
        "expired": keys.tokens.issuer.mint(
            sub="s", roles=["funder_staff"], client_id="c", funder_id=staff, ttl=-120
        ),
        "wrong audience": TokenIssuer(
            keys.tokens.issuer.keys, issuer=ISSUER, audience="other"
        ).mint(sub="s", roles=["funder_staff"], client_id="c", funder_id=staff),
        "wrong issuer": TokenIssuer(
            keys.tokens.issuer.keys, issuer="https://evil.example", audience=AUDIENCE
        ).mint(sub="s", roles=["funder_staff"], client_id="c", funder_id=staff),
        "foreign signature": TokenIssuer(other_keys, issuer=ISSUER, audience=AUDIENCE).mint(
            sub="s", roles=["funder_staff"], client_id="c", funder_id=staff
        ),
    }
    async with httpx.AsyncClient(base_url=echo_stack.url) as client:
        for why, token in bad.items():
            response = await client.get(
                "/api/v1/grants", headers={"Authorization": f"Bearer {token}"}
            )
            body = await _problem(response, 401)
            assert "access token" in body["detail"], why
            assert response.headers["www-authenticate"].startswith("Bearer")
            assert response.headers["x-request-id"]
        response = await client.get("/api/v1/grants", headers={"Authorization": "Token abc"})
        body = await _problem(response, 401)
        assert "Bearer" in body["detail"]


async def test_good_tokens_and_no_token_pass_through(echo_stack: EchoStack, keys: Keys) -> None:
    async with httpx.AsyncClient(base_url=echo_stack.url) as client:
        token = keys.tokens.staff(uuid.uuid4())
        for _ in range(2):  # the second answer comes from the verifier's cache
            response = await client.get("/api/v1/grants", headers=token)
            assert response.status_code == 200
            assert _header(response.json(), "authorization") == [token["Authorization"]]
        response = await client.get("/api/v1/public/funding/acme/grants")
        assert response.status_code == 200
        assert _header(response.json(), "authorization") == []


async def test_client_credentials_reach_the_token_endpoint(echo_stack: EchoStack) -> None:
    async with httpx.AsyncClient(base_url=echo_stack.url) as client:
        response = await client.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=("partner-app", "s3cret"),
        )
    seen = response.json()
    assert seen["service"] == "partners"
    assert _header(seen, "authorization")[0].startswith("Basic ")
    assert seen["body_length"] == len(b"grant_type=client_credentials")


async def test_responses_stream_before_the_upstream_has_finished(echo_stack: EchoStack) -> None:
    echo = echo_stack.echoes["funding"]
    echo.release.clear()
    async with (
        httpx.AsyncClient(base_url=echo_stack.url, timeout=10) as client,
        client.stream("GET", "/api/v1/exports/360giving/stream?chunks=3&size=65536") as response,
    ):
        assert response.status_code == 200
        chunks = response.aiter_raw()
        first = await asyncio.wait_for(anext(chunks), 5)
        # The upstream is still holding the rest: the gateway passed the first piece on.
        assert first and set(first) == {ord("A")}
        echo.release.set()
        rest = b"".join([c async for c in chunks])
    assert len(first) + len(rest) == 3 * 65536


async def test_an_abandoned_download_stops_the_upstream(echo_stack: EchoStack) -> None:
    echo = echo_stack.echoes["funding"]
    echo.release.clear()
    echo.abandoned.clear()
    async with (
        httpx.AsyncClient(base_url=echo_stack.url, timeout=10) as client,
        client.stream("GET", "/api/v1/exports/big/stream?chunks=100&size=65536") as response,
    ):
        await asyncio.wait_for(anext(response.aiter_raw()), 5)
    # The caller has gone; the gateway drops its upstream connection too.
    await asyncio.sleep(0.3)
    echo.release.set()
    gone = await asyncio.get_running_loop().run_in_executor(None, echo.abandoned.wait, 5)
    assert gone, "the upstream was kept streaming to nobody"


async def test_large_bodies_stream_both_ways(echo_stack: EchoStack) -> None:
    echo = echo_stack.echoes["funding"]
    echo.release.set()
    async with httpx.AsyncClient(base_url=echo_stack.url, timeout=30) as client:
        async with client.stream("GET", "/api/v1/exports/x/stream?chunks=320&size=65536") as r:
            total = 0
            async for chunk in r.aiter_raw():
                total += len(chunk)
        assert total == 320 * 65536

        # Just under the body limit (TRELLIS_MAX_BODY_BYTES, 1 MiB): streamed, not refused.
        payload = os.urandom(1024 * 1024 - 1)
        response = await client.post("/api/v1/documents/upload", content=payload)
        seen = response.json()
        assert seen["body_length"] == len(payload)
        assert seen["body_sha256"] == hashlib.sha256(payload).hexdigest()


async def test_request_bodies_stream_to_the_upstream(echo_stack: EchoStack) -> None:
    echo = echo_stack.echoes["partners"]
    echo.first_chunk_seen.clear()

    async def body() -> AsyncIterator[bytes]:
        yield b"x" * 1000
        # Only go on once the upstream has the first piece: a buffering gateway would hang here.
        seen = await asyncio.get_running_loop().run_in_executor(None, echo.first_chunk_seen.wait, 5)
        assert seen, "the upstream never got the first piece of the body"
        yield b"y" * 1000

    async with httpx.AsyncClient(base_url=echo_stack.url, timeout=10) as client:
        response = await client.post("/api/v1/documents/upload", content=body())
    assert response.json()["body_length"] == 2000


async def test_traced_requests_carry_the_gateways_span_upstream(
    keys: Keys, tmp_path_factory: pytest.TempPathFactory
) -> None:
    echo = Served(Echo("partners"), lifespan="off").start()
    settings = gateway_settings(
        keys,
        {"partners": echo.url, "funding": echo.url, "feedback": echo.url},
        otlp_endpoint=closed_port_url(),
    )
    app = create_app(settings)
    memory = InMemorySpanExporter()
    app.state.tracer_provider.add_span_processor(SimpleSpanProcessor(memory))
    served = Served(app).start()
    try:
        async with httpx.AsyncClient(base_url=served.url) as client:
            response = await client.get("/api/v1/partners")
    finally:
        served.stop()
        echo.stop()
    traceparent = _header(response.json(), "traceparent")
    assert len(traceparent) == 1
    trace_id = traceparent[0].split("-")[1]
    spans = [s for s in memory.get_finished_spans() if s.kind.name == "SERVER"]
    assert trace_id in {format(s.context.trace_id, "032x") for s in spans}


async def test_answers_vary_by_origin_and_carry_the_rate_limits(echo_stack: EchoStack) -> None:
    """What the layers in front of the proxy add (CORS's ``Vary: Origin``, the rate-limit
    headers) is on every answer: forwarded ones and the gateway's own problems alike."""
    origin = "https://admin.example.org"
    async with httpx.AsyncClient(base_url=echo_stack.url) as client:
        plain = await client.get("/api/v1/grants")
        browser = await client.get("/api/v1/grants", headers={"Origin": origin})
        missing = await client.get("/api/v1/no-such-things")
    assert plain.status_code == 200
    assert plain.headers["vary"] == "Origin"
    assert "access-control-allow-origin" not in plain.headers
    assert browser.headers["access-control-allow-origin"] == origin
    assert "Origin" in browser.headers["vary"]
    assert missing.status_code == 404
    assert missing.headers["vary"] == "Origin"
    for answer in (plain, browser, missing):
        assert answer.headers["ratelimit"].startswith('"reads-source";r=')
        assert answer.headers["ratelimit-policy"].startswith('"reads-source";q=')
        assert len(answer.headers.get_list("ratelimit")) == 1
