"""A read costs what its query costs: no transaction around it, unless it writes."""

import asyncio

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from services.common.db import read_only_request
from services.common.models import AuditEntry
from tests.statements import driver_statements, end_other_backends


async def _notes(app) -> int:
    async with app.state.db.sessionmaker() as session:
        return await session.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.entity_type == "note")
        )


async def test_a_read_runs_outside_any_transaction(kit) -> None:
    _app, client, tokens = kit
    response = await client.get("/api/v1/reads/transaction", headers=tokens.admin())
    assert response.status_code == 200, response.text
    assert response.json() == {"after_read": False, "after_write": None}


async def test_a_read_that_writes_begins_a_transaction_and_keeps_its_writes(kit) -> None:
    app, client, tokens = kit
    response = await client.get(
        "/api/v1/reads/transaction", params={"write": "kept"}, headers=tokens.admin()
    )
    assert response.status_code == 200, response.text
    assert response.json()["after_write"] is True
    assert await _notes(app) == 2


async def test_a_read_that_fails_after_writing_keeps_nothing(kit) -> None:
    app, client, tokens = kit
    response = await client.get(
        "/api/v1/reads/transaction",
        params={"write": "lost", "fail": "true"},
        headers=tokens.admin(),
    )
    assert response.status_code == 500
    assert await _notes(app) == 0


async def test_a_read_that_writes_past_its_deadline_keeps_nothing(kit) -> None:
    app, client, tokens = kit
    response = await client.get(
        "/api/v1/reads/transaction",
        params={"write": "late", "slow": "0.3"},
        headers={**tokens.admin(), "X-Request-Timeout-Ms": "100"},
    )
    assert response.status_code == 503, response.text
    assert response.json()["type"].endswith("/deadline-exceeded")
    assert await _notes(app) == 0


async def test_a_pooled_connection_the_server_closed_is_replaced(kit, backend: str) -> None:
    """Without a ping per request: a connection PostgreSQL ended (a restart, an idle
    timeout) is noticed at checkout and replaced, and the read succeeds."""
    if backend != "postgres":
        pytest.skip("PostgreSQL closes connections; a SQLite file has none to lose")
    app, client, tokens = kit
    # Fill the pool with a few connections, then have the server end all of them.
    await asyncio.gather(
        *(client.get("/api/v1/reads/transaction", headers=tokens.admin()) for _ in range(3))
    )
    ended = await end_other_backends(app.state.db.engine)
    assert ended >= 1
    await asyncio.sleep(0.2)  # the closed sockets reach the event loop
    for _ in range(4):
        response = await client.get("/api/v1/reads/transaction", headers=tokens.admin())
        assert response.status_code == 200, response.text


async def test_a_read_sends_no_begin_or_commit(kit, backend: str) -> None:
    if backend != "postgres":
        pytest.skip("counts what asyncpg sends to PostgreSQL")
    app, client, tokens = kit
    with driver_statements(app.state.db.engine) as sent:
        response = await client.get("/api/v1/reads/transaction", headers=tokens.admin())
        assert response.status_code == 200, response.text
        await asyncio.sleep(0.05)
    assert sent == []


async def test_a_read_that_writes_sends_begin_before_its_first_write(kit, backend: str) -> None:
    if backend != "postgres":
        pytest.skip("counts what asyncpg sends to PostgreSQL")
    app, client, tokens = kit
    with driver_statements(app.state.db.engine) as sent:
        response = await client.get(
            "/api/v1/reads/transaction", params={"write": "counted"}, headers=tokens.admin()
        )
        assert response.status_code == 200, response.text
        await asyncio.sleep(0.05)
    assert sent == ["BEGIN", "COMMIT"]


async def test_writes_after_reads_still_run_in_a_transaction(kit) -> None:
    """A connection a read used without a transaction goes back to the pool as it came: the
    writing requests that take it next begin theirs with their first statement."""
    _app, client, tokens = kit
    for _ in range(3):
        await asyncio.gather(
            *(client.get("/api/v1/reads/transaction", headers=tokens.admin()) for _ in range(4))
        )
        answers = await asyncio.gather(
            *(client.post("/api/v1/writes/transaction", headers=tokens.admin()) for _ in range(4))
        )
        assert [a.json() for a in answers] == [{"in_transaction": True}] * 4


async def test_a_read_whose_connection_is_lost_fails_as_a_database_error(kit, backend: str) -> None:
    """A read's connection that dies mid-request (a cancelled statement, a server gone) is
    discarded with the database's own error, and the pool goes on serving reads and writes:
    giving it back must not try to restore the level of an adapter it no longer has."""
    if backend != "postgres":
        pytest.skip("PostgreSQL ends a backend; a SQLite file has none to lose")
    app, client, tokens = kit
    engine = app.state.db.engine
    read_only = read_only_request.set(True)
    try:
        async with engine.connect() as conn:
            pid = await conn.scalar(text("SELECT pg_backend_pid()"))
            async with engine.connect() as other:
                await other.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            await asyncio.sleep(0.1)
            with pytest.raises(DBAPIError):
                await conn.execute(text("SELECT 1"))
    finally:
        read_only_request.reset(read_only)
    response = await client.get("/api/v1/reads/transaction", headers=tokens.admin())
    assert response.status_code == 200, response.text
    answer = await client.post("/api/v1/writes/transaction", headers=tokens.admin())
    assert answer.json() == {"in_transaction": True}
