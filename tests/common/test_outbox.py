"""The outbox: events written with the change, delivered at least once over real HTTP,
retried with backoff, surviving restarts of the receiver and of the sender."""

import asyncio
import itertools
import socket
import uuid
from collections import Counter
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import uvicorn
from asgi_lifespan import LifespanManager
from sqlalchemy import select, update

from services import cli
from services.common.auth import KeyStore, TokenIssuer
from services.common.db import utcnow
from services.common.errors import Unprocessable
from services.common.events import Event
from services.common.migrate import upgrade
from services.common.models import OutboxMessage
from services.common.service_app import create_service_app
from tests.support import (
    AUDIENCE,
    ISSUER,
    Tokens,
    app_factory,
    create_database,
    drop_database,
    service_settings,
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Receiver:
    """A real HTTP server running the kit's event consumer on its own database."""

    def __init__(self, backend: str, tmp: Path, data_dir: Path, port: int) -> None:
        self.port = port
        self.url = create_database(backend, "receiver", tmp)
        upgrade("feedback", self.url)
        self.data_dir = data_dir
        self.handled: Counter[str] = Counter()
        self.refuse = False
        self.server: uvicorn.Server | None = None
        self.task: asyncio.Task[None] | None = None

    async def record(self, *, session, event: Event) -> None:
        if self.refuse:  # a consumer with a bug: it cannot take this event as it is
            raise Unprocessable("This consumer cannot handle partner.created events yet.")
        self.handled[str(event.id)] += 1

    async def start(self) -> None:
        settings = service_settings("feedback", data_dir=self.data_dir, database_url=self.url)
        app = create_service_app(
            settings,
            title="receiver",
            description="",
            routers=[],
            event_handlers={"partner.created": self.record},
        )
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_config=None, lifespan="on", access_log=False
        )
        self.server = uvicorn.Server(config)
        self.task = asyncio.create_task(self.server.serve())
        for _ in range(100):
            if self.server.started:
                return
            await asyncio.sleep(0.05)
        raise AssertionError("receiver did not start")

    async def stop(self) -> None:
        assert self.server and self.task
        self.server.should_exit = True
        await self.task


async def pending(app) -> list[OutboxMessage]:
    async with app.state.db.sessionmaker() as session:
        rows = await session.execute(
            select(OutboxMessage).where(OutboxMessage.delivered_at.is_(None))
        )
        return list(rows.scalars())


async def make_due(app) -> None:
    async with app.state.db.sessionmaker() as session, session.begin():
        await session.execute(
            update(OutboxMessage).values(next_attempt_at=OutboxMessage.created_at)
        )


@pytest.fixture
async def sender_setup(backend: str, tmp_path: Path):
    data_dir = tmp_path / "data"
    keys = KeyStore(data_dir / "keys" / "signing-keys.json")
    keys.ensure()
    tokens = Tokens(TokenIssuer(keys, issuer=ISSUER, audience=AUDIENCE))
    url = create_database(backend, "sender", tmp_path)
    upgrade("partners", url)
    port = free_port()
    receiver = Receiver(backend, tmp_path, data_dir, port)
    yield tokens, url, data_dir, receiver
    drop_database(url)
    drop_database(receiver.url)


def sender(url: str, data_dir: Path, port: int):
    settings = service_settings(
        "partners",
        data_dir=data_dir,
        database_url=url,
        event_subscribers=[f"http://127.0.0.1:{port}"],
    )
    return app_factory("partners")(settings)


async def create_partner(app, tokens: Tokens, name: str) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://p") as c:
        funder = await c.post(
            "/api/v1/funders",
            headers=tokens.admin(),
            json={"name": name, "slug": name.lower(), "prefix_360giving": "360G-x"},
        )
        assert funder.status_code == 201, funder.text
        partner = await c.post(
            "/api/v1/partners",
            headers=tokens.staff(funder.json()["id"]),
            json={"name": f"{name} partner"},
        )
        assert partner.status_code == 201


async def test_delivery_retries_until_the_receiver_is_back(sender_setup) -> None:
    tokens, url, data_dir, receiver = sender_setup
    app = sender(url, data_dir, receiver.port)
    async with LifespanManager(app):
        await create_partner(app, tokens, "first")
        assert (
            await app.state.dispatcher.deliver_due() == 2
        )  # partner.created, relationship.changed
        failed = await pending(app)
        assert len(failed) == 2
        assert all(row.attempts == 1 and row.last_error for row in failed)
        assert all(row.next_attempt_at > row.created_at for row in failed)
        assert await app.state.dispatcher.deliver_due() == 0  # backing off, not hammering

        await receiver.start()
        await make_due(app)
        await app.state.dispatcher.deliver_due()
        assert await pending(app) == []
        assert list(receiver.handled.values()) == [1]

        # The receiver restarts; meanwhile another change is made and its delivery fails.
        await receiver.stop()
        await create_partner(app, tokens, "second")
        await app.state.dispatcher.deliver_due()
        assert len(await pending(app)) == 2
        await receiver.start()
        await make_due(app)
        await app.state.dispatcher.deliver_due()
        assert await pending(app) == []
        assert sorted(receiver.handled.values()) == [1, 1]

        # At-least-once means duplicates happen: the consumer handles each event once.
        async with app.state.db.sessionmaker() as session, session.begin():
            await session.execute(update(OutboxMessage).values(delivered_at=None))
        await make_due(app)
        await app.state.dispatcher.deliver_due()
        assert sorted(receiver.handled.values()) == [1, 1]
        await receiver.stop()


async def test_undelivered_events_survive_a_restart_of_the_sender(sender_setup) -> None:
    tokens, url, data_dir, receiver = sender_setup
    first = sender(url, data_dir, receiver.port)
    async with LifespanManager(first):
        await create_partner(first, tokens, "before")
    # The process is gone; the events are still in its database.
    await receiver.start()
    settings = service_settings(
        "partners",
        data_dir=data_dir,
        database_url=url,
        event_subscribers=[f"http://127.0.0.1:{receiver.port}"],
        outbox_autostart=True,
        outbox_poll_interval=0.1,
    )
    second = app_factory("partners")(settings)
    async with LifespanManager(second):
        for _ in range(100):
            if not await pending(second):
                break
            await asyncio.sleep(0.05)
        assert await pending(second) == []
    assert list(receiver.handled.values()) == [1]
    await receiver.stop()


class FakeClock:
    """The dispatcher's idea of now, moved by the test."""

    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self):
        return self.now


async def test_an_event_is_delivered_after_a_three_hour_outage(sender_setup) -> None:
    tokens, url, data_dir, receiver = sender_setup
    app = sender(url, data_dir, receiver.port)
    async with (
        LifespanManager(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://p") as client,
    ):
        dispatcher = app.state.dispatcher
        await create_partner(app, tokens, "outage")
        clock = dispatcher.clock = FakeClock()
        started = clock.now
        tries: list = []
        # The subscriber is down for three hours; the dispatcher runs whenever a try is due.
        while clock.now - started < timedelta(hours=3):
            assert await dispatcher.deliver_due() == 2
            tries.append(clock.now)
            rows = await pending(app)
            assert all(row.dead_at is None for row in rows)  # never given up on
            clock.now = max(row.next_attempt_at for row in rows)
        gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(tries)]
        assert max(gaps) <= 300 * 1.25  # capped backoff: tries keep coming, every 5 min or so
        assert len(tries) > 30
        # Three hours of backlog: /readyz says degraded (still 200) and the metric fires.
        ready = await client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["status"] == "degraded"
        assert ready.json()["outbox"]["waiting"] == 2
        assert "oldest waiting event delivery" in ready.json()["detail"]
        metrics = (await client.get("/metrics")).text
        assert 'trellis_outbox_degraded{service="partners"} 1.0' in metrics

        await receiver.start()
        clock.now = max(row.next_attempt_at for row in await pending(app))
        await dispatcher.deliver_due()
        assert await pending(app) == []
        assert list(receiver.handled.values()) == [1]
        ready = await client.get("/readyz")
        assert ready.json()["status"] == "ready"
        metrics = (await client.get("/metrics")).text
        assert 'trellis_outbox_degraded{service="partners"} 0.0' in metrics
        await receiver.stop()


async def test_a_subscriber_that_comes_back_is_served_at_once(sender_setup) -> None:
    tokens, url, data_dir, receiver = sender_setup
    app = sender(url, data_dir, receiver.port)
    async with LifespanManager(app):
        dispatcher = app.state.dispatcher
        await create_partner(app, tokens, "held")
        dispatcher.clock = FakeClock()
        for _ in range(8):  # a long outage: the next try is minutes away
            await dispatcher.deliver_due()
            dispatcher.clock.now = max(row.next_attempt_at for row in await pending(app))
        await dispatcher.deliver_due()
        assert min(r.next_attempt_at for r in await pending(app)) > dispatcher.clock.now
        assert await dispatcher.probe_held(force=True) == []  # still down: nothing woken
        await receiver.start()
        # No time passes: the subscriber's /readyz answering makes its deliveries due now.
        assert await dispatcher.probe_held(force=True) == [f"http://127.0.0.1:{receiver.port}"]
        assert await dispatcher.deliver_due() == 2
        assert await pending(app) == []
        await receiver.stop()


async def test_the_running_dispatcher_wakes_without_waiting_out_the_backoff(sender_setup) -> None:
    tokens, url, data_dir, receiver = sender_setup
    settings = service_settings(
        "partners",
        data_dir=data_dir,
        database_url=url,
        event_subscribers=[f"http://127.0.0.1:{receiver.port}"],
        outbox_autostart=True,
        outbox_poll_interval=0.1,
        outbox_probe_interval=0.2,
    )
    app = app_factory("partners")(settings)
    async with LifespanManager(app):
        await create_partner(app, tokens, "woken")
        async with app.state.db.sessionmaker() as session, session.begin():
            # As after a long outage: the next try would be five minutes away.
            await session.execute(
                update(OutboxMessage).values(
                    attempts=12,
                    next_attempt_at=utcnow() + timedelta(minutes=5),
                    last_error="ConnectError",
                )
            )
        app.state.dispatcher.held[f"http://127.0.0.1:{receiver.port}"] = 0
        await receiver.start()
        for _ in range(100):
            if not await pending(app):
                break
            await asyncio.sleep(0.05)
        assert await pending(app) == []
        await receiver.stop()


async def test_a_refused_event_is_parked_listed_and_redelivered_by_the_command(
    sender_setup, monkeypatch, capsys
) -> None:
    tokens, url, data_dir, receiver = sender_setup
    app = sender(url, data_dir, receiver.port)
    receiver.refuse = True
    await receiver.start()
    async with (
        LifespanManager(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://p") as client,
    ):
        await create_partner(app, tokens, "refused")
        await app.state.dispatcher.deliver_due()
        rows = await pending(app)
        # relationship.changed is ignored (200); partner.created is refused (422): dead.
        assert len(rows) == 1 and rows[0].dead_at is not None
        event_id = str(rows[0].event_id)
        assert await app.state.dispatcher.deliver_due() == 0  # parked, not retried
        ready = (await client.get("/readyz")).json()
        assert ready["status"] == "degraded" and ready["outbox"]["dead"] == 1
        assert "refused by their subscriber" in ready["detail"]

        monkeypatch.setenv("TRELLIS_PARTNERS_DATABASE_URL", url)
        assert cli.main(["events", "list", "partners", "--state", "dead"]) == 0
        listed = capsys.readouterr().out
        assert event_id in listed and "partner.created" in listed and "HTTP 422" in listed

        receiver.refuse = False  # the consumer is fixed
        assert cli.main(["events", "redeliver", "partners", event_id]) == 0
        assert "1 deliveries of partners are due now" in capsys.readouterr().out
        await app.state.dispatcher.deliver_due()
        assert await pending(app) == []
        assert list(receiver.handled.values()) == [1]
        assert cli.main(["events", "list", "partners"]) == 0
        assert "every event has been delivered" in capsys.readouterr().out
    await receiver.stop()


async def test_the_internal_outbox_api_lists_and_redelivers_for_operators(sender_setup) -> None:
    tokens, url, data_dir, receiver = sender_setup
    app = sender(url, data_dir, receiver.port)
    receiver.refuse = True
    await receiver.start()
    async with (
        LifespanManager(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://p") as client,
    ):
        await create_partner(app, tokens, "api")
        await app.state.dispatcher.deliver_due()
        for who in (tokens.staff(uuid.uuid4()), tokens.partner(uuid.uuid4())):
            assert (await client.get("/internal/outbox", headers=who)).status_code == 403
        assert (await client.get("/internal/outbox")).status_code == 401
        dead = await client.get("/internal/outbox?state=dead", headers=tokens.admin())
        assert dead.status_code == 200
        [item] = dead.json()
        assert item["state"] == "dead" and item["event_type"] == "partner.created"
        assert (
            await client.post(
                "/internal/outbox/redeliver", headers=tokens.admin(), json={"event_ids": []}
            )
        ).status_code == 422
        receiver.refuse = False
        again = await client.post(
            "/internal/outbox/redeliver", headers=tokens.service(), json={"all_dead": True}
        )
        assert again.json() == {"redelivered": 1}
        await app.state.dispatcher.deliver_due()
        assert (await client.get("/internal/outbox", headers=tokens.admin())).json() == []
    await receiver.stop()


async def test_a_successful_delivery_wakes_what_the_subscriber_missed(sender_setup) -> None:
    tokens, url, data_dir, receiver = sender_setup
    app = sender(url, data_dir, receiver.port)
    async with LifespanManager(app):
        dispatcher = app.state.dispatcher
        await create_partner(app, tokens, "missed")
        dispatcher.clock = FakeClock()
        for _ in range(6):  # away long enough that the next tries are a minute off
            await dispatcher.deliver_due()
            dispatcher.clock.now = max(row.next_attempt_at for row in await pending(app))
        await dispatcher.deliver_due()
        missed = {row.event_id for row in await pending(app)}
        assert min(r.next_attempt_at for r in await pending(app)) > dispatcher.clock.now
        await receiver.start()
        # A new event goes through at once; that success makes the held ones due now too.
        await create_partner(app, tokens, "fresh")
        dispatcher.clock.now = utcnow()
        await dispatcher.deliver_due()
        assert {row.event_id for row in await pending(app)} == missed
        assert await dispatcher.deliver_due() == len(missed)
        assert await pending(app) == []
        await receiver.stop()
