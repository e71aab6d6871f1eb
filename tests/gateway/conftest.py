"""Real servers for the gateway tests: uvicorn on ephemeral loopback ports, in threads.

The gateway talks HTTP, so it is tested over real sockets: the real service apps
on migrated SQLite databases, small stand-in upstreams that echo what reached
them (or stream, or sleep), and the gateway itself, each served by uvicorn.
"""

import asyncio
import hashlib
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
import uvicorn

from services.common.auth import KeyStore, TokenIssuer
from services.common.migrate import upgrade
from services.common.settings import SERVICES
from services.gateway.app import create_app
from services.gateway.config import Settings
from tests.gateway.served import Views, served_views
from tests.support import (
    AUDIENCE,
    ISSUER,
    Stack,
    Tokens,
    app_factory,
    create_database,
    service_settings,
)


def free_socket() -> socket.socket:
    """A listening socket on an ephemeral loopback port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    return sock


class Served:
    """An ASGI app served by uvicorn in a background thread until ``stop()``."""

    def __init__(
        self,
        app: Any,
        sock: socket.socket | None = None,
        lifespan: str = "on",
        http: type[asyncio.Protocol] | str = "auto",
    ):
        self.sock = sock or free_socket()
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        config = uvicorn.Config(
            app, lifespan=lifespan, log_level="warning", access_log=False, http=http
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    def start(self) -> "Served":
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the server at {self.url} did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()


@dataclass
class Echo:
    """A stand-in upstream: answers with what reached it, or streams, or sleeps.

    ``GET .../stream?chunks=N&size=S`` streams N chunks; the first one, then waits
    for ``release`` (so a test can prove the gateway passes it on before the end),
    and sets ``abandoned`` instead of going on if its caller has gone by then.
    ``POST .../upload`` reads the body as it comes, sets ``first_chunk_seen`` on the
    first piece, and answers its length and SHA-256.
    """

    name: str
    delay: float = 0.0
    release: threading.Event = field(default_factory=threading.Event)
    first_chunk_seen: threading.Event = field(default_factory=threading.Event)
    abandoned: threading.Event = field(default_factory=threading.Event)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        if self.delay:
            await asyncio.sleep(self.delay)
        path: str = scope["path"]
        query = dict(
            part.split("=", 1) for part in scope["query_string"].decode().split("&") if "=" in part
        )
        if path.endswith("/stream"):
            await self._stream(
                receive, send, int(query.get("chunks", "4")), int(query.get("size", "1024"))
            )
            return
        digest = hashlib.sha256()
        length = 0
        while True:
            message = await receive()
            chunk = message.get("body", b"")
            if chunk:
                self.first_chunk_seen.set()
            digest.update(chunk)
            length += len(chunk)
            if not message.get("more_body", False):
                break
        status = int(query.get("status", "200"))
        body = orjson.dumps(
            {
                "service": self.name,
                "method": scope["method"],
                "path": path,
                "raw_path": scope["raw_path"].decode(),
                "query": scope["query_string"].decode(),
                "headers": [[k.decode(), v.decode()] for k, v in scope["headers"]],
                "body_length": length,
                "body_sha256": digest.hexdigest(),
            }
        )
        headers = [
            (b"content-type", b"application/json"),
            (b"etag", b'"v7"'),
            (b"content-range", b"things 0-0/1"),
            (b"x-next-cursor", b"abc"),
            (b"connection", b"keep-alive, x-secret-hop"),
            (b"x-secret-hop", b"must not pass"),
            (b"x-request-id", b"made-up-by-upstream"),
            (b"set-cookie", b"a=b; Path=/"),
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _stream(self, receive: Any, send: Any, chunks: int, size: int) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/octet-stream")],
            }
        )
        for i in range(chunks):
            piece = bytes([65 + i % 26]) * size
            await send({"type": "http.response.body", "body": piece, "more_body": True})
            if i == 0:
                loop = asyncio.get_running_loop()
                released = await loop.run_in_executor(None, self.release.wait, 10)
                if not released:
                    return
                await receive()  # the (empty) request body
                try:
                    message = await asyncio.wait_for(receive(), 0.5)
                except TimeoutError:
                    message = {}
                if message.get("type") == "http.disconnect":
                    self.abandoned.set()
                    return
        await send({"type": "http.response.body", "body": b""})


@dataclass
class Keys:
    data_dir: Path
    tokens: Tokens


@pytest.fixture(scope="session")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    data_dir = tmp_path_factory.mktemp("gateway-keys")
    store = KeyStore(data_dir / "keys" / "signing-keys.json")
    store.ensure()
    return Keys(data_dir, Tokens(TokenIssuer(store, issuer=ISSUER, audience=AUDIENCE)))


def gateway_settings(keys: Keys, urls: dict[str, str], **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": keys.data_dir,
        "auth_issuer": ISSUER,
        "auth_audience": AUDIENCE,
        "partners_url": urls["partners"],
        "funding_url": urls["funding"],
        "feedback_url": urls["feedback"],
        "cors_origins": ["https://admin.example.org"],
        "log_level": "WARNING",
    }
    values.update(overrides)
    return Settings(**values)


@dataclass
class Services:
    """The real service apps, served, and their URLs."""

    urls: dict[str, str]
    servers: list[Served]


@pytest.fixture(scope="session")
def services(keys: Keys, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    tmp = tmp_path_factory.mktemp("gateway-services")
    sockets = {name: free_socket() for name in SERVICES}
    urls = {name: f"http://127.0.0.1:{sock.getsockname()[1]}" for name, sock in sockets.items()}
    servers = []
    for name in SERVICES:
        database_url = create_database("sqlite", name, tmp)
        upgrade(name, database_url)
        settings = service_settings(
            name,
            data_dir=keys.data_dir,
            database_url=database_url,
            partners_url=urls["partners"],
            funding_url=urls["funding"],
            feedback_url=urls["feedback"],
        )
        servers.append(Served(app_factory(name)(settings), sockets[name]).start())
    yield Services(urls, servers)
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def gateway(keys: Keys, services: Services) -> Iterator[str]:
    """The gateway in front of the real services; its base URL."""
    served = Served(create_app(gateway_settings(keys, services.urls))).start()
    yield served.url
    served.stop()


@dataclass
class EchoStack:
    """The gateway in front of one echo upstream per service."""

    url: str
    echoes: dict[str, Echo]


@pytest.fixture(scope="session")
def echo_stack(keys: Keys) -> Iterator[EchoStack]:
    echoes = {name: Echo(name) for name in SERVICES}
    upstreams = {name: Served(echo, lifespan="off").start() for name, echo in echoes.items()}
    served = Served(
        create_app(gateway_settings(keys, {n: s.url for n, s in upstreams.items()}))
    ).start()
    yield EchoStack(served.url, echoes)
    served.stop()
    for upstream in upstreams.values():
        upstream.stop()


@pytest.fixture(scope="module")
async def views(stack: Stack) -> AsyncIterator[Views]:
    """The ``stack``'s apps served on loopback, with gateways in front (``served.Views``)."""
    async for served in served_views(stack):
        yield served
