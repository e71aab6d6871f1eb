"""The grant read-one on the hot path (``services.common.hotreads``): everything the FastAPI
route gives, proven on requests the router never saw."""

import asyncio
import io
import json
import logging
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import event

from services.common.logs import _ContextFilter, _JsonFormatter
from tests.funding.helpers import Funder, new_funder, router_calls
from tests.statements import end_other_backends
from tests.support import Stack

TEMPLATE = "/api/v1/grants/{grant_id}"


async def _learnt_grant(stack: Stack) -> tuple[Funder, dict[str, Any]]:
    """A funder and an approved grant, read once so the hot path knows its route."""
    f = await new_funder(stack)
    grant = await f.awarded()
    first = await stack.funding.get(f"/api/v1/grants/{grant['id']}", headers=f.staff)
    assert first.status_code == 200
    return f, first.json()


def _requests_counted(app: FastAPI, status: str) -> float:
    counter = app.state.metrics.requests.labels("funding", "GET", TEMPLATE, status)
    return counter._value.get()


async def test_the_read_one_is_answered_without_the_router_as_the_route_answers(
    stack: Stack,
) -> None:
    f, grant = await _learnt_grant(stack)
    app = stack.apps["funding"]
    path = f"/api/v1/grants/{grant['id']}"
    counted = _requests_counted(app, "200")
    with router_calls(app) as routed:
        read = await stack.funding.get(path, headers={**f.staff, "X-Request-ID": "hot-read-1"})
    assert routed == []
    assert read.status_code == 200
    assert read.headers["content-type"] == "application/json"
    assert read.json() == grant
    assert read.headers["etag"] == f'"v{grant["version"]}"'
    assert read.headers["x-request-id"] == "hot-read-1"
    # Counted under the route's template, as the router's answers are.
    assert _requests_counted(app, "200") == counted + 1
    # The same bytes as the route's own answer (the router answers a non-canonical id).
    with router_calls(app) as routed:
        slow = await stack.funding.get(path.replace("-", ""), headers=f.staff)
    assert routed == [path.replace("-", "")]
    assert slow.content == read.content
    assert slow.headers["etag"] == read.headers["etag"]


async def test_the_hot_read_is_logged_with_its_request_id(stack: Stack) -> None:
    f, grant = await _learnt_grant(stack)
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.addFilter(_ContextFilter("funding"))
    handler.setFormatter(_JsonFormatter())
    access = logging.getLogger("trellis.access")
    access.addHandler(handler)
    level = access.level
    access.setLevel(logging.INFO)
    path = f"/api/v1/grants/{grant['id']}"
    try:
        with router_calls(stack.apps["funding"]) as routed:
            await stack.funding.get(path, headers={**f.staff, "X-Request-ID": "hot-log-1"})
    finally:
        access.removeHandler(handler)
        access.setLevel(level)
    assert routed == []
    lines = [json.loads(line) for line in buffer.getvalue().splitlines()]
    assert [(line["request_id"], line["path"], line["status"]) for line in lines] == [
        ("hot-log-1", path, 200)
    ]


@pytest.mark.parametrize(
    ("who", "status"),
    [("nobody", 401), ("service", 403), ("other staff", 404), ("other partner", 404)],
)
async def test_the_hot_read_keeps_roles_and_isolation(stack: Stack, who: str, status: int) -> None:
    _f, grant = await _learnt_grant(stack)
    other = await new_funder(stack)
    headers = {
        "nobody": {},
        "service": stack.tokens.service(),
        "other staff": other.staff,
        "other partner": other.partner_headers,
    }[who]
    app = stack.apps["funding"]
    counted = _requests_counted(app, str(status))
    path = f"/api/v1/grants/{grant['id']}"
    with router_calls(app) as routed:
        response = await stack.funding.get(path, headers=headers)
    assert routed == []
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == status
    assert response.json()["instance"] == path
    assert "x-request-id" in response.headers
    assert "etag" not in response.headers
    assert _requests_counted(app, str(status)) == counted + 1
    if status == 401:
        assert response.headers["www-authenticate"].startswith("Bearer")


async def test_the_hot_read_shows_partners_only_their_awarded_grants(stack: Stack) -> None:
    f, grant = await _learnt_grant(stack)
    proposed = await f.propose()
    with router_calls(stack.apps["funding"]) as routed:
        mine = await stack.funding.get(f"/api/v1/grants/{grant['id']}", headers=f.partner_headers)
        not_yet = await stack.funding.get(
            f"/api/v1/grants/{proposed['id']}", headers=f.partner_headers
        )
        missing = await stack.funding.get(f"/api/v1/grants/{uuid.uuid4()}", headers=f.staff)
    assert routed == []
    assert mine.status_code == 200
    assert mine.json() == grant
    assert not_yet.status_code == 404
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"


async def test_a_bad_id_and_head_are_answered_by_the_route_as_before(stack: Stack) -> None:
    f, grant = await _learnt_grant(stack)
    with router_calls(stack.apps["funding"]) as routed:
        bad = await stack.funding.get("/api/v1/grants/not-a-uuid", headers=f.staff)
        head = await stack.funding.head(f"/api/v1/grants/{grant['id']}", headers=f.staff)
    assert routed == ["/api/v1/grants/not-a-uuid", f"/api/v1/grants/{grant['id']}"]
    assert bad.status_code == 422
    assert bad.headers["content-type"] == "application/problem+json"
    assert list(bad.json()["errors"]) == ["grant_id"]
    assert head.status_code == 405
    assert head.headers["allow"] == "GET"


async def test_the_hot_read_sees_a_change_at_once(stack: Stack) -> None:
    f, grant = await _learnt_grant(stack)
    path = f"/api/v1/grants/{grant['id']}"
    withdrawn = await stack.funding.post(
        f"{path}/withdraw", headers=f.staff, json={"reason": "The partner closed."}
    )
    assert withdrawn.status_code == 200, withdrawn.text
    with router_calls(stack.apps["funding"]) as routed:
        read = await stack.funding.get(path, headers=f.staff)
    assert routed == []
    assert read.json() == withdrawn.json()
    assert read.headers["etag"] == withdrawn.headers["etag"] != f'"v{grant["version"]}"'


@contextmanager
def pool_checkouts(app: FastAPI) -> Iterator[list[object]]:
    """The connections taken from the SQLAlchemy pool meanwhile."""
    taken: list[object] = []

    def on_checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        taken.append(dbapi_connection)

    engine = app.state.db.engine.sync_engine
    event.listen(engine, "checkout", on_checkout)
    try:
        yield taken
    finally:
        event.remove(engine, "checkout", on_checkout)


async def test_hot_reads_run_on_kept_connections_not_the_pool(stack: Stack) -> None:
    """Each read borrows one of a few kept connections: no pool checkout and checkin (nor,
    on SQLite, the ROLLBACK of a checkin) per read, and at most ``size`` of them however
    many reads run at once."""
    f, grant = await _learnt_grant(stack)
    app = stack.apps["funding"]
    reads = app.state.db.reads
    path = f"/api/v1/grants/{grant['id']}"
    answers = await asyncio.gather(*(stack.funding.get(path, headers=f.staff) for _ in range(24)))
    assert {a.status_code for a in answers} == {200}
    assert reads.held <= reads.size
    with pool_checkouts(app) as taken:
        answers = await asyncio.gather(
            *(stack.funding.get(path, headers=f.staff) for _ in range(24))
        )
    assert {a.status_code for a in answers} == {200}
    assert [a.json() for a in answers] == [grant] * 24
    assert taken == []
    assert reads.held <= reads.size
    assert len(reads.idle) == reads.held


async def test_a_kept_connection_the_server_ended_is_replaced(stack: Stack, backend: str) -> None:
    if backend != "postgres":
        pytest.skip("PostgreSQL ends backends; a SQLite file has none to lose")
    f, grant = await _learnt_grant(stack)
    app = stack.apps["funding"]
    path = f"/api/v1/grants/{grant['id']}"
    await asyncio.gather(*(stack.funding.get(path, headers=f.staff) for _ in range(8)))
    ended = await end_other_backends(app.state.db.engine)
    assert ended >= 1
    for pause in (0.0, 0.2):  # before and after the closed sockets reach the event loop
        await asyncio.sleep(pause)
        answers = await asyncio.gather(
            *(stack.funding.get(path, headers=f.staff) for _ in range(8))
        )
        assert [a.status_code for a in answers] == [200] * 8, answers[0].text


async def test_a_read_that_finds_no_kept_connection_in_time_is_a_503(
    stack: Stack, backend: str
) -> None:
    """All kept connections lent out for longer than the pool would wait: the read is
    refused as a busy pool is (503, nothing to undo), and reads go on once they are back."""
    if backend != "postgres":
        pytest.skip("SQLite's kept connection is lent to every read at once: none to wait for")
    f, grant = await _learnt_grant(stack)
    reads = stack.apps["funding"].state.db.reads
    path = f"/api/v1/grants/{grant['id']}"
    taken = [await reads.borrow() for _ in range(reads.size)]
    timeout, reads.timeout = reads.timeout, 0.2
    try:
        busy = await stack.funding.get(path, headers=f.staff)
    finally:
        reads.timeout = timeout
        for raw in taken:
            reads.give_back(raw)
    assert busy.status_code == 503, busy.text
    assert busy.headers["content-type"] == "application/problem+json"
    assert (await stack.funding.get(path, headers=f.staff)).json() == grant
    assert len(reads.idle) == reads.held <= reads.size


@contextmanager
def _reads_in_flight(connection: Any) -> Iterator[list[int]]:
    """The most reads queued on ``connection`` (aiosqlite's) at once, in ``[0]``; and in
    ``[1]``, how many calls to fail with the driver's own error first."""
    seen = [0, 0]
    running = 0
    original = connection.execute_fetchall

    async def counted(*args: Any, **kwargs: Any) -> Any:
        nonlocal running
        running += 1
        seen[0] = max(seen[0], running)
        try:
            if seen[1] > 0:
                seen[1] -= 1
                raise sqlite3.OperationalError("database is locked")
            return await original(*args, **kwargs)
        finally:
            running -= 1

    connection.execute_fetchall = counted
    try:
        yield seen
    finally:
        del connection.execute_fetchall


async def test_sqlite_lends_its_kept_connection_to_every_read_at_once(
    stack: Stack, backend: str
) -> None:
    """aiosqlite runs each read whole on the connection's thread: reads at once queue on
    the one kept connection together, not for it one after another."""
    if backend != "sqlite":
        pytest.skip("asyncpg runs one statement at a time on a connection")
    f, grant = await _learnt_grant(stack)
    reads = stack.apps["funding"].state.db.reads
    path = f"/api/v1/grants/{grant['id']}"
    with _reads_in_flight(reads.idle[0].driver_connection) as seen:
        answers = await asyncio.gather(
            *(stack.funding.get(path, headers=f.staff) for _ in range(16))
        )
    assert [a.json() for a in answers] == [grant] * 16
    assert seen[0] > 1
    assert reads.held == 1


async def test_a_read_failing_on_the_shared_connection_replaces_it(
    stack: Stack, backend: str
) -> None:
    """Reads that fail on SQLite's shared connection are answered through the session; the
    connection is dropped once, whichever of them fails first, and the next read opens
    another."""
    if backend != "sqlite":
        pytest.skip("SQLite's shared connection")
    f, grant = await _learnt_grant(stack)
    reads = stack.apps["funding"].state.db.reads
    first = reads.idle[0]
    path = f"/api/v1/grants/{grant['id']}"
    with _reads_in_flight(first.driver_connection) as seen:
        seen[1] = 3
        answers = await asyncio.gather(
            *(stack.funding.get(path, headers=f.staff) for _ in range(6))
        )
    assert [a.json() for a in answers] == [grant] * 6
    assert first not in reads.idle
    assert (await stack.funding.get(path, headers=f.staff)).json() == grant
    assert reads.held == 1 and reads.idle[0] is not first


async def test_the_read_one_answers_the_bytes_of_the_grants_model(stack: Stack) -> None:
    """The read-one writes its JSON with orjson, not through the ``Grant`` model: the very
    bytes the model writes (field order, UTC times with "Z", the award), as a write's
    answer shows them."""
    f = await new_funder(stack)
    proposed = await f.propose(title='Quotes " and \\ and “unicode”', amount_awarded=2**53 + 1)
    approved = await stack.funding.post(
        f"/api/v1/grants/{proposed['id']}/approve",
        headers=f.staff,
        json={"decided_on": "2030-03-01", "decided_by": "Board", "reference": "TM-1"},
    )
    assert approved.status_code == 200, approved.text
    with router_calls(stack.apps["funding"]) as routed:
        await stack.funding.get(f"/api/v1/grants/{proposed['id']}", headers=f.staff)
        read = await stack.funding.get(f"/api/v1/grants/{proposed['id']}", headers=f.staff)
    assert routed[1:] == []
    assert read.content == approved.content
