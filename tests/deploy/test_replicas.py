"""Two real replicas of one service on one PostgreSQL database.

Each replica is its own ``uvicorn`` process with its own outbox dispatcher.
Events must reach a real HTTP receiver exactly once, and the same
``Idempotency-Key`` sent to both replicas at once must create one record.
"""

import asyncio
import json
import os
import socket
import sys
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from services.common.auth import KeyStore, TokenIssuer
from services.common.db import Database
from services.common.migrate import upgrade
from tests.support import AUDIENCE, ISSUER, POSTGRES_URL, Tokens, create_database, drop_database

pytestmark = pytest.mark.skipif(not POSTGRES_URL, reason="TRELLIS_TEST_POSTGRES_URL is not set")

PARTNERS = 24
KEYS = 8


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Receiver:
    """A subscriber's ``/internal/events``: counts each event id it is given."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    async def events(self, request: web.Request) -> web.Response:
        event = await request.json()
        self.counts[event["id"]] += 1
        await asyncio.sleep(0.02)  # a subscriber that takes a moment: deliveries overlap
        return web.json_response({"status": "accepted"})


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, str]]:
    state = Receiver()
    app = web.Application()
    app.router.add_post("/internal/events", state.events)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield state, f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def start_replica(env: dict[str, str], port: int, log: Path) -> asyncio.subprocess.Process:
    handle = log.open("wb")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        "services.partners.app:create_app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
        env=env,
        stdout=handle,
        stderr=asyncio.subprocess.STDOUT,
    )
    handle.close()
    return process


async def wait_ready(
    client: httpx.AsyncClient, process: asyncio.subprocess.Process, log: Path
) -> None:
    for _ in range(1800):  # imports alone take seconds on a busy machine
        if process.returncode is not None:
            break
        try:
            if (await client.get("/readyz")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.1)
    output = await asyncio.to_thread(log.read_text)
    raise AssertionError(f"replica did not become ready:\n{output[-3000:]}")


def metric(text_body: str, name: str) -> float:
    for family in text_string_to_metric_families(text_body):
        for sample in family.samples:
            if sample.name == name:
                return sample.value
    raise AssertionError(f"no {name}")


async def test_two_replicas_deliver_each_event_once_and_share_idempotency_keys(
    tmp_path: Path, receiver: tuple[Receiver, str]
) -> None:
    received, receiver_url = receiver
    data_dir = tmp_path / "data"
    keys = KeyStore(data_dir / "keys" / "signing-keys.json")
    keys.ensure()
    tokens = Tokens(TokenIssuer(keys, issuer=ISSUER, audience=AUDIENCE))
    url = create_database("postgres", "replicas", tmp_path)
    await asyncio.to_thread(upgrade, "partners", url)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("TRELLIS_")},
        "TRELLIS_DATA_DIR": str(data_dir),
        "TRELLIS_AUTH_ISSUER": ISSUER,
        "TRELLIS_AUTH_AUDIENCE": AUDIENCE,
        "TRELLIS_LOG_LEVEL": "WARNING",
        "TRELLIS_PARTNERS_DATABASE_URL": url,
        "TRELLIS_PARTNERS_EVENT_SUBSCRIBERS": json.dumps([receiver_url]),
        "TRELLIS_PARTNERS_OUTBOX_POLL_INTERVAL": "0.2",
    }
    ports = [free_port(), free_port()]
    logs = [tmp_path / f"replica-{i}.log" for i in range(2)]
    processes = [await start_replica(env, port, log) for port, log in zip(ports, logs, strict=True)]
    clients = [httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) for port in ports]
    db = Database(url)
    try:
        for client, process, log in zip(clients, processes, logs, strict=True):
            await wait_ready(client, process, log)
        a, b = clients

        funder = (
            await a.post(
                "/api/v1/funders",
                headers=tokens.admin(),
                json={
                    "name": "The Replica Trust",
                    "slug": "replica-trust",
                    "prefix_360giving": "360G-replica",
                    "org_id": "GB-CHC-1000001",
                },
            )
        ).json()
        staff = tokens.staff(funder["id"])

        # Writes through both replicas at once: every one emits events into the shared outbox.
        async def create(client: httpx.AsyncClient, i: int) -> None:
            response = await client.post(
                "/api/v1/partners", headers=staff, json={"name": f"Replica partner {i}"}
            )
            assert response.status_code == 201, response.text

        await asyncio.gather(*(create(clients[i % 2], i) for i in range(PARTNERS)))

        # The same Idempotency-Key sent to both replicas concurrently: one partner each time.
        async def twice(key: str, name: str) -> list[httpx.Response]:
            headers = {**staff, "Idempotency-Key": key}
            body = {"name": name}
            return list(
                await asyncio.gather(
                    a.post("/api/v1/partners", headers=headers, json=body),
                    b.post("/api/v1/partners", headers=headers, json=body),
                )
            )

        names = [f"Idempotent partner {uuid.uuid4().hex[:8]}" for _ in range(KEYS)]
        keys_used = [uuid.uuid4().hex for _ in names]
        first_answers = await asyncio.gather(
            *(twice(k, n) for k, n in zip(keys_used, names, strict=True))
        )
        for answers in first_answers:
            statuses = sorted(r.status_code for r in answers)
            assert statuses in ([201, 201], [201, 409]), [r.text for r in answers]
            created = {r.json()["id"] for r in answers if r.status_code == 201}
            assert len(created) == 1, "two replicas created two records for one key"
        # Retries after the first answer replay it on either replica.
        for key, name, answers in zip(keys_used, names, first_answers, strict=True):
            first_id = next(r.json()["id"] for r in answers if r.status_code == 201)
            for retry in await twice(key, name):
                assert retry.status_code == 201
                assert retry.headers["idempotent-replayed"] == "true"
                assert retry.json()["id"] == first_id

        async with db.sessionmaker() as session:
            rows = (
                await session.execute(
                    text(
                        "SELECT name, count(*) FROM partners WHERE name LIKE 'Idempotent partner %' GROUP BY name"
                    )
                )
            ).all()
        assert sorted(rows) == sorted((n, 1) for n in names)

        # Both dispatchers run; wait until the shared outbox is drained.
        async def outbox() -> tuple[set[str], int]:
            async with db.sessionmaker() as session:
                ids = {
                    str(r[0])
                    for r in (await session.execute(text("SELECT event_id FROM outbox"))).all()
                }
                waiting = (
                    await session.execute(
                        text("SELECT count(*) FROM outbox WHERE delivered_at IS NULL")
                    )
                ).scalar_one()
            return ids, waiting

        for _ in range(300):
            event_ids, waiting = await outbox()
            if not waiting and set(received.counts) >= event_ids:
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.0)  # time for any duplicate delivery to show up
        event_ids, waiting = await outbox()
        assert waiting == 0
        assert len(event_ids) >= PARTNERS + KEYS
        assert set(received.counts) == event_ids
        duplicates = {event: n for event, n in received.counts.items() if n != 1}
        assert not duplicates, f"delivered more than once: {duplicates}"

        # Each replica delivered its share, and together exactly the events there were.
        delivered = [
            metric((await client.get("/metrics")).text, "trellis_outbox_deliveries_total")
            for client in clients
        ]
        assert sum(delivered) == len(event_ids)
        assert all(d > 0 for d in delivered), f"one replica delivered nothing: {delivered}"
    finally:
        for client in clients:
            await client.aclose()
        for process in processes:
            if process.returncode is None:
                process.terminate()
        for process in processes:
            try:
                await asyncio.wait_for(process.wait(), 15)
            except TimeoutError:
                process.kill()
                await process.wait()
        await db.dispose()
        await asyncio.to_thread(drop_database, url)
