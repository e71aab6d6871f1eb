"""Test support: real migrations on real databases, the real apps wired in process."""

import atexit
import os
import shutil
import socket
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy.engine import make_url

from services.common.auth import KeyStore, TokenIssuer
from services.common.db import secure_sqlite_file
from services.common.migrate import upgrade
from services.common.settings import SERVICES

POSTGRES_URL = os.environ.get("TRELLIS_TEST_POSTGRES_URL")


def redis_up() -> bool:
    """Whether Redis answers at 127.0.0.1:6379 (the tests that need it run only then)."""
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5):
            return True
    except OSError:
        return False


BACKENDS = ["sqlite", "postgres"] if POSTGRES_URL else ["sqlite"]
ISSUER = "http://trellis.test"
AUDIENCE = "trellis"


def _admin_conninfo() -> str:
    assert POSTGRES_URL
    url = make_url(POSTGRES_URL).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def create_database(backend: str, name: str, tmp: Path) -> str:
    """A fresh, empty database; its URL."""
    if backend == "sqlite":
        return f"sqlite+aiosqlite:///{tmp / f'{name}.db'}"
    db_name = f"trellis_test_{name}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(_admin_conninfo(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{db_name}"')
    return (
        make_url(POSTGRES_URL)
        .set(drivername="postgresql+asyncpg", database=db_name)
        .render_as_string(hide_password=False)
    )


def drop_database(url: str) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        return
    with psycopg.connect(_admin_conninfo(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)')


#: (backend, service) -> a database this test process migrated to head once, copied for
#: each stack instead of running every migration again (the migrations' own tests call
#: ``upgrade`` themselves).
_TEMPLATES: dict[tuple[str, str], str] = {}
_TEMPLATE_DIR = Path(tempfile.mkdtemp(prefix="trellis-test-templates-"))


def drop_templates() -> None:
    """Drop the template databases this process made (at the end of its session)."""
    for url in _TEMPLATES.values():
        drop_database(url)
    _TEMPLATES.clear()
    shutil.rmtree(_TEMPLATE_DIR, ignore_errors=True)


atexit.register(drop_templates)


def migrated_database(backend: str, name: str, tmp: Path) -> str:
    """A fresh database with ``name``'s migrations applied up to head; its URL.

    A copy of one migrated once per test process: a SQLite file copied, or PostgreSQL's
    ``CREATE DATABASE ... TEMPLATE``."""
    template = _TEMPLATES.get((backend, name))
    if template is None:
        _TEMPLATE_DIR.mkdir(parents=True, exist_ok=True)
        template = create_database(backend, f"template_{name}", _TEMPLATE_DIR)
        upgrade(name, template)
        _TEMPLATES[(backend, name)] = template
    if backend == "sqlite":
        source = Path(make_url(template).database or "")
        # The migration closed every connection: no -wal file holds pages not in the copy.
        assert not source.with_name(source.name + "-wal").exists()
        url = f"sqlite+aiosqlite:///{tmp / f'{name}.db'}"
        secure_sqlite_file(url)
        shutil.copyfile(source, tmp / f"{name}.db")
        return url
    db_name = f"trellis_test_{name}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(_admin_conninfo(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{db_name}" TEMPLATE "{make_url(template).database}"')
    return make_url(template).set(database=db_name).render_as_string(hide_password=False)


@dataclass
class Tokens:
    """Mints tokens as the embedded issuer would."""

    issuer: TokenIssuer

    def admin(self) -> dict[str, str]:
        return self.headers(
            self.issuer.mint(
                sub="admin@trellis.test", roles=["platform_admin"], client_id="trellis-cli"
            )
        )

    def staff(self, funder_id: uuid.UUID | str, sub: str = "staff@funder.test") -> dict[str, str]:
        return self.headers(
            self.issuer.mint(
                sub=sub, roles=["funder_staff"], client_id="trellis-cli", funder_id=funder_id
            )
        )

    def partner(self, partner_id: uuid.UUID | str, sub: str | None = None) -> dict[str, str]:
        return self.headers(
            self.issuer.mint(
                sub=sub or f"partner:{partner_id}",
                roles=["partner"],
                client_id="partner-portal",
                partner_id=partner_id,
            )
        )

    def service(self, name: str = "tests") -> dict[str, str]:
        return self.headers(
            self.issuer.mint(sub=f"service:{name}", roles=["service"], client_id=f"trellis-{name}")
        )

    @staticmethod
    def headers(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}


def service_settings(name: str, *, data_dir: Path, database_url: str, **overrides: Any) -> Any:
    """Settings for one service wired to the in-process others."""
    module = __import__(f"services.{name}.config", fromlist=["Settings"])
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "database_url": database_url,
        "auth_issuer": ISSUER,
        "auth_audience": AUDIENCE,
        "partners_url": "http://partners.test",
        "funding_url": "http://funding.test",
        "feedback_url": "http://feedback.test",
        "outbox_autostart": False,
        "webhooks_autostart": False,
        "notifications_autostart": False,
        "log_level": "WARNING",
    }
    values.update(overrides)
    return module.Settings(**values)


def app_factory(name: str) -> Callable[..., FastAPI]:
    module = __import__(f"services.{name}.app", fromlist=["create_app"])
    return module.create_app


@dataclass
class Stack:
    """The three services in one process, each on its own migrated database."""

    apps: dict[str, FastAPI]
    clients: dict[str, httpx.AsyncClient]
    tokens: Tokens
    urls: dict[str, str] = field(default_factory=dict)

    @property
    def partners(self) -> httpx.AsyncClient:
        return self.clients["partners"]

    @property
    def funding(self) -> httpx.AsyncClient:
        return self.clients["funding"]

    @property
    def feedback(self) -> httpx.AsyncClient:
        return self.clients["feedback"]

    async def deliver_events(self, rounds: int = 1000) -> None:
        """Run every outbox until nothing is due (what the background dispatcher does).

        The stack is shared by a whole session, so earlier tests may have left many events
        waiting: go on (a batch at a time) until none is due, not for a fixed few rounds."""
        for _ in range(rounds):
            moved = 0
            for app in self.apps.values():
                moved += await app.state.dispatcher.deliver_due()
            if not moved:
                return

    async def new_funder(self, slug: str | None = None) -> dict[str, Any]:
        slug = slug or f"funder-{uuid.uuid4().hex[:8]}"
        response = await self.partners.post(
            "/api/v1/funders",
            headers=self.tokens.admin(),
            json={
                "name": f"The {slug} Trust",
                "slug": slug,
                "prefix_360giving": f"360G-{slug.replace('-', '')}",
                "org_id": "GB-CHC-1000001",
            },
        )
        assert response.status_code == 201, response.text
        return response.json()

    async def new_partner(self, funder_id: str, **fields: Any) -> dict[str, Any]:
        body = {"name": f"Partner {uuid.uuid4().hex[:6]}", "status": "active", **fields}
        response = await self.partners.post(
            "/api/v1/partners", headers=self.tokens.staff(funder_id), json=body
        )
        assert response.status_code == 201, response.text
        return response.json()


@asynccontextmanager
async def running_stack(
    backend: str, tmp: Path, *, services: tuple[str, ...] = SERVICES, **overrides: Any
) -> AsyncIterator[Stack]:
    data_dir = tmp / "data"
    keys = KeyStore(data_dir / "keys" / "signing-keys.json")
    keys.ensure()
    tokens = Tokens(TokenIssuer(keys, issuer=ISSUER, audience=AUDIENCE))
    urls: dict[str, str] = {}
    for name in services:
        urls[name] = migrated_database(backend, name, tmp)
    apps: dict[str, FastAPI] = {}
    transports: dict[str, httpx.AsyncBaseTransport] = {}
    for name in services:
        settings = service_settings(name, data_dir=data_dir, database_url=urls[name], **overrides)
        apps[name] = app_factory(name)(settings, transports=transports)
        transports[f"http://{name}.test"] = httpx.ASGITransport(app=apps[name])
    async with AsyncExitStack() as stack:
        clients = {}
        for name, app in apps.items():
            await stack.enter_async_context(
                LifespanManager(app, startup_timeout=60, shutdown_timeout=60)
            )
            clients[name] = await stack.enter_async_context(
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=app), base_url=f"http://{name}.test"
                )
            )
        try:
            yield Stack(apps, clients, tokens, urls)
        finally:
            pass
    for url in urls.values():
        drop_database(url)
