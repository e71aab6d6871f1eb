"""The outbox: events written with the change, delivered at least once over real HTTP,
retried with backoff, surviving restarts of the receiver and of the sender."""

import asyncio
import socket
from collections import Counter
from pathlib import Path

import httpx
import pytest
import uvicorn
from asgi_lifespan import LifespanManager
from sqlalchemy import select, update

from services.common.auth import KeyStore, TokenIssuer
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
        self.server: uvicorn.Server | None = None
        self.task: asyncio.Task[None] | None = None

    async def record(self, *, session, event: Event) -> None:
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
