"""Deadlines end to end through the gateway, over real sockets.

The gateway gives each request a deadline that covers the whole answer, passes
the service a budget below it, and the service keeps nothing once its budget is
spent; a chain of calls names the service that was slow; a connection a failed
service closed is never reused for the next request.
"""

import asyncio
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from fastapi import APIRouter
from sqlalchemy import create_engine, func, select

from services.common.db import SessionDep, sync_url
from services.common.idempotency import IdempotencyDep
from services.common.migrate import upgrade
from services.common.models import AuditEntry, IdempotencyRecord
from services.common.service_app import create_service_app
from services.gateway.app import create_app
from tests.gateway.conftest import Keys, Served, gateway_settings
from tests.support import app_factory, create_database, drop_database, service_settings


class StandIn:
    """An upstream that drips, fails and closes, sleeps, or echoes the deadline it got."""

    def __init__(self) -> None:
        self.budgets: list[str | None] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        headers = dict(scope["headers"])
        budget = headers.get(b"x-request-timeout-ms")
        self.budgets.append(budget.decode() if budget else None)
        while (await receive()).get("more_body"):
            pass
        if path.endswith("/drip"):
            await send({"type": "http.response.start", "status": 200, "headers": []})
            for _ in range(60):  # a byte every half second, for half a minute
                await send({"type": "http.response.body", "body": b".", "more_body": True})
                await asyncio.sleep(0.5)
            await send({"type": "http.response.body", "body": b""})
            return
        if "/sleep" in path:
            await asyncio.sleep(30)
        status = 500 if path.endswith("/boom") else 200
        body = orjson.dumps({"path": path, "budget": self.budgets[-1]})
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json")]
                + ([(b"cache-control", b"public, max-age=60")] if "public" in path else []),
            }
        )
        await send({"type": "http.response.body", "body": body})
        if status == 500:
            # What a failing app does under uvicorn: the answer is sent, then the server
            # closes the connection it had just offered to keep alive.
            raise RuntimeError("the service failed after answering")


@pytest.fixture(scope="module")
def stand_in_gateway(keys: Keys) -> Iterator[tuple[str, StandIn]]:
    stand_in = StandIn()
    upstream = Served(stand_in, lifespan="off").start()
    urls = {"partners": upstream.url, "funding": upstream.url, "feedback": upstream.url}
    gateway = Served(
        create_app(gateway_settings(keys, urls, upstream_timeout=1.0, request_deadline=2.0))
    ).start()
    yield gateway.url, stand_in
    gateway.stop()
    upstream.stop()


async def test_a_dripping_upstream_is_cut_at_the_deadline(stand_in_gateway) -> None:
    url, _ = stand_in_gateway
    started = time.monotonic()
    received = b""
    with pytest.raises(httpx.RemoteProtocolError):
        async with (
            httpx.AsyncClient(base_url=url, timeout=40) as client,
            client.stream("GET", "/api/v1/exports/drip") as response,
        ):
            assert response.status_code == 200
            async for chunk in response.aiter_raw():
                received += chunk
    took = time.monotonic() - started
    # Without a deadline over the body it would drip for 30 s (each byte inside the 1 s
    # read timeout); the caller sees the answer broken off at the 2 s deadline instead.
    assert took < 3.5, took
    assert 1 <= len(received) <= 6


async def test_the_gateway_passes_on_a_budget_below_its_own(stand_in_gateway) -> None:
    url, _ = stand_in_gateway
    async with httpx.AsyncClient(base_url=url) as client:
        response = await client.get(
            "/api/v1/grants/x", headers={"X-Request-Timeout-Ms": "99999999"}
        )
    # min(upstream timeout 1 s, deadline 2 s) less a 10% margin; a caller's own is not passed.
    assert response.json()["budget"] == "900"


async def test_a_slow_upstream_is_named_in_a_503(stand_in_gateway) -> None:
    url, _ = stand_in_gateway
    started = time.monotonic()
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        response = await client.get("/api/v1/grants/sleep")
    assert time.monotonic() - started < 2.5
    assert response.status_code == 503
    assert response.json()["service"] == "funding"
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_no_spurious_503_after_a_service_failed_and_closed(stand_in_gateway) -> None:
    url, _ = stand_in_gateway
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        for _ in range(20):
            failed = await client.get("/api/v1/grants/boom")
            assert failed.status_code == 500
            after = await client.post("/api/v1/grants/echo", json={"title": "x"})
            assert after.status_code == 200, after.text


class ClosesKeptConnections:
    """A raw HTTP server that answers the first request on a connection and closes the
    connection, unanswered, when a second request arrives on it (as a server whose
    keep-alive ran out does): the second request was never processed."""

    async def start(self) -> str:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        answered = 0
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                await reader.readexactly(length)
                if answered:
                    break
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b"Content-Length: 2\r\n\r\n{}"
                )
                await writer.drain()
                answered += 1
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()

    async def stop(self) -> None:
        self.server.close()
        await self.server.wait_closed()


async def test_a_keyed_write_is_sent_again_on_a_connection_closed_under_it(keys: Keys) -> None:
    """A POST with an Idempotency-Key is safe to send again (the service runs it once); one
    without is not, so its caller hears 503 rather than risk a write made twice."""
    upstream = ClosesKeptConnections()
    url = await upstream.start()
    gateway = Served(
        create_app(gateway_settings(keys, {"partners": url, "funding": url, "feedback": url}))
    )
    await asyncio.to_thread(gateway.start)
    try:
        async with httpx.AsyncClient(base_url=gateway.url, timeout=10) as client:
            for n in range(5):
                assert (await client.get("/api/v1/grants")).status_code == 200
                keyed = await client.post(
                    "/api/v1/grants", json={"n": n}, headers={"Idempotency-Key": f"k-{n}"}
                )
                assert keyed.status_code == 200, keyed.text
            assert (await client.get("/api/v1/grants")).status_code == 200
            unkeyed = await client.post("/api/v1/grants", json={"n": 0})
            assert unkeyed.status_code == 503
            assert "closed the connection" in unkeyed.json()["detail"]
    finally:
        await asyncio.to_thread(gateway.stop)
        await upstream.stop()


async def test_api_answers_are_not_stored_or_sniffed(stand_in_gateway, keys: Keys) -> None:
    url, _ = stand_in_gateway
    async with httpx.AsyncClient(base_url=url) as client:
        private = await client.get("/api/v1/grants/1", headers=keys.tokens.staff(uuid.uuid4()))
        public = await client.get("/api/v1/public/funding/acme/public")
        health = await client.get("/healthz")
    assert private.headers["cache-control"] == "no-store"
    assert private.headers["x-content-type-options"] == "nosniff"
    # Open data a service marks cacheable stays cacheable; nosniff is everywhere.
    assert public.headers["cache-control"] == "public, max-age=60"
    assert public.headers["x-content-type-options"] == "nosniff"
    assert health.headers["x-content-type-options"] == "nosniff"


# A write that outlives its budget, behind the real gateway, on both databases ---------------

slow_router = APIRouter()


@slow_router.post("/grants/slow", status_code=201)
async def slow_write(seconds: float, session: SessionDep, idem: IdempotencyDep) -> Any:
    """Writes a record after ``seconds``: a service that has become slow."""
    await asyncio.sleep(seconds)
    entry = AuditEntry(
        actor="test", action="create", entity_type="slow", entity_id=str(uuid.uuid4())
    )
    session.add(entry)
    await session.flush()
    return await idem.respond(session, {"id": entry.entity_id})


def _count(url: str, model: Any, *where: Any) -> int:
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(model).where(*where)).scalar_one()
    finally:
        engine.dispose()


async def test_a_write_reported_failed_is_never_committed(
    backend: str, keys: Keys, tmp_path: Path
) -> None:
    database_url = create_database(backend, "slow", tmp_path)
    upgrade("funding", database_url)
    settings = service_settings("funding", data_dir=keys.data_dir, database_url=database_url)
    service = Served(
        create_service_app(settings, title="slow", description="", routers=[slow_router])
    ).start()
    urls = {"partners": service.url, "funding": service.url, "feedback": service.url}
    gateway = Served(create_app(gateway_settings(keys, urls, upstream_timeout=2.5))).start()
    headers = {**keys.tokens.admin(), "Idempotency-Key": "slow-grant-1"}
    try:
        async with httpx.AsyncClient(base_url=gateway.url, timeout=10) as client:
            failed = await client.post("/api/v1/grants/slow?seconds=3.5", headers=headers)
            assert failed.status_code == 503
            assert failed.json()["service"] == "funding"
            await asyncio.sleep(1.5)  # the service has finished its (refused) work by now
            assert _count(database_url, AuditEntry, AuditEntry.entity_type == "slow") == 0
            # The key went with the rollback: the caller's retry runs at once, and only once.
            assert _count(database_url, IdempotencyRecord) == 0
            retried = await client.post("/api/v1/grants/slow?seconds=0", headers=headers)
            assert retried.status_code == 201, retried.text
            again = await client.post("/api/v1/grants/slow?seconds=0", headers=headers)
            assert again.json() == retried.json()
            assert _count(database_url, AuditEntry, AuditEntry.entity_type == "slow") == 1
    finally:
        gateway.stop()
        service.stop()
        drop_database(database_url)


# A chain of calls blames the service that was slow -------------------------------------------


async def test_a_chain_names_the_slow_service(keys: Keys, tmp_path: Path) -> None:
    """The gateway → funding → partners; partners hangs: the caller hears about partners."""
    database_url = create_database("sqlite", "funding", tmp_path)
    upgrade("funding", database_url)
    partners = Served(StandIn(), lifespan="off").start()
    settings = service_settings(
        "funding",
        data_dir=keys.data_dir,
        database_url=database_url,
        partners_url=partners.url + "/x/sleep",  # every call to partners hangs
    )
    funding = Served(app_factory("funding")(settings)).start()
    urls = {"partners": partners.url, "funding": funding.url, "feedback": partners.url}
    gateway = Served(create_app(gateway_settings(keys, urls, upstream_timeout=4.0))).start()
    try:
        async with httpx.AsyncClient(base_url=gateway.url, timeout=10) as client:
            started = time.monotonic()
            response = await client.post(
                "/api/v1/grants",
                headers=keys.tokens.staff(uuid.uuid4()),
                json={
                    "partner_id": str(uuid.uuid4()),
                    "title": "Core",
                    "description": "Core funding",
                    "amount_awarded": 100,
                    "planned_start_date": "2030-01-01",
                    "planned_end_date": "2032-12-31",
                },
            )
            took = time.monotonic() - started
    finally:
        gateway.stop()
        funding.stop()
        partners.stop()
    assert response.status_code == 503, response.text
    assert response.json()["service"] == "partners"
    assert "partners service did not answer in time" in response.json()["detail"]
    assert took < 4.0  # funding answered before the gateway would have given up on it
