"""The HTTP server's own refusals are problem+json, on the gateway and on a service.

Raw sockets against real uvicorn servers run as ``trellis serve`` runs them (its
protocol): a URL past the server's parser, headers past its limit and a request
that is not HTTP at all get 414, 431 and 400 problems saying what to fix, never
uvicorn's plain-text ``Invalid HTTP request received.``
"""

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import uvicorn

from services import cli
from services.common.limits import MAX_URL_BYTES
from services.common.migrate import upgrade
from services.common.server import (
    MAX_HEADER_BYTES,
    MAX_SERVER_URL_BYTES,
    ProblemHttpToolsProtocol,
)
from services.gateway.app import create_app
from tests.gateway.conftest import Keys, Served, gateway_settings
from tests.gateway.test_ratelimit import upstreams  # noqa: F401 (a fixture)
from tests.support import app_factory, create_database, service_settings


@pytest.fixture(scope="module", params=["gateway", "partners"])
def server(
    request: pytest.FixtureRequest,
    keys: Keys,
    upstreams: dict[str, str],  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[str, int]]:
    """The gateway, or the partners service, served with ``trellis serve``'s protocol."""
    if request.param == "gateway":
        app = create_app(gateway_settings(keys, upstreams))
    else:
        url = create_database("sqlite", "partners", tmp_path_factory.mktemp("server"))
        upgrade("partners", url)
        settings = service_settings("partners", data_dir=keys.data_dir, database_url=url)
        app = app_factory("partners")(settings)
    served = Served(app, http=ProblemHttpToolsProtocol).start()
    yield served.url, served.sock.getsockname()[1]
    served.stop()


def exchange(port: int, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send raw bytes; the status, headers and body of the answer (read to the close)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        try:
            sock.sendall(request)
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused before all of it was read: the answer is still there
        answer = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    return int(status_line.split()[1]), headers, body


def problem_of(answer: tuple[int, dict[str, str], bytes], status: int, slug: str) -> Any:
    got, headers, body = answer
    assert got == status, (got, body[:300])
    assert headers["content-type"] == "application/problem+json"
    problem = orjson.loads(body)
    assert problem["status"] == status
    assert problem["type"].endswith("/" + slug)
    assert problem["title"] and problem["detail"] and problem["message"] == problem["detail"]
    return problem


def get(path: bytes, *headers: bytes) -> bytes:
    return b"GET " + path + b" HTTP/1.1\r\nHost: t\r\n" + b"".join(headers) + b"\r\n"


def test_a_url_longer_than_the_server_reads_is_a_414_problem(server: tuple[str, int]) -> None:
    _, port = server
    for length in (MAX_SERVER_URL_BYTES + 1, 70_000, 2_000_000):
        answer = exchange(port, get(b"/api/v1/grants?q=" + b"a" * length))
        problem = problem_of(answer, 414, "uri-too-long")
        assert str(MAX_URL_BYTES) in problem["detail"]
    # Longer than the app takes but within the server's reach: the app's own 414, the same.
    answer = exchange(port, get(b"/api/v1/grants?q=" + b"a" * (MAX_URL_BYTES + 10)))
    problem_of(answer, 414, "uri-too-long")


def test_headers_over_the_limit_are_a_431_problem(server: tuple[str, int]) -> None:
    _, port = server
    big = b"X-Big: " + b"b" * (MAX_HEADER_BYTES + 1) + b"\r\n"
    problem = problem_of(exchange(port, get(b"/healthz", big)), 431, "headers-too-large")
    assert str(MAX_HEADER_BYTES) in problem["detail"]
    many = b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 1000) for i in range(80))
    problem_of(exchange(port, get(b"/healthz", many)), 431, "headers-too-large")


def test_a_request_that_is_not_http_is_a_400_problem(server: tuple[str, int]) -> None:
    _, port = server
    for garbage in (b"GET / HTTP/1.1\r\nHo st: x\r\n\r\n", b"\x16\x03\x01\x02\x00 hello\r\n\r\n"):
        problem = problem_of(exchange(port, garbage), 400, "malformed-request")
        assert "HTTP/1.1" in problem["detail"]


def test_requests_within_the_limits_are_served(server: tuple[str, int]) -> None:
    _, port = server
    normal = b"X-Fine: " + b"f" * 4000 + b"\r\n"
    status, _, body = exchange(port, get(b"/healthz", normal, b"Connection: close\r\n"))
    assert status == 200, body


def test_trellis_serve_runs_this_protocol(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    seen: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: seen.update(kwargs))
    cli.serve("gateway", "127.0.0.1", 18199)
    assert seen["http"] is ProblemHttpToolsProtocol
