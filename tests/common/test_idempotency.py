"""Idempotency-Key: replay, 422 for a different body, 409 while the first is running."""

import asyncio
import subprocess
import sys
import uuid

from sqlalchemy import func, select

from services.common.db import Database
from services.common.idempotency import release_keys_of_ended_processes, this_process
from services.common.migrate import upgrade
from services.common.models import AuditEntry, IdempotencyRecord
from tests.common.kit_app import gate, kit_app
from tests.support import Stack, create_database, drop_database


async def test_retry_replays_the_first_answer(stack: Stack) -> None:
    funder = await stack.new_funder()
    headers = {**stack.tokens.staff(funder["id"]), "Idempotency-Key": "add-hillside-1"}
    body = {"name": "Hillside Youth Project", "org_id": "GB-CHC-1234567"}
    first = await stack.partners.post("/api/v1/partners", headers=headers, json=body)
    again = await stack.partners.post("/api/v1/partners", headers=headers, json=body)
    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["location"] == first.headers["location"]
    listed = await stack.partners.get("/api/v1/partners", headers=stack.tokens.staff(funder["id"]))
    assert len(listed.json()) == 1


async def test_same_key_with_another_body_is_422(stack: Stack) -> None:
    funder = await stack.new_funder()
    headers = {**stack.tokens.staff(funder["id"]), "Idempotency-Key": "k-1"}
    await stack.partners.post("/api/v1/partners", headers=headers, json={"name": "One"})
    response = await stack.partners.post("/api/v1/partners", headers=headers, json={"name": "Two"})
    assert response.status_code == 422
    assert "different request" in response.json()["message"]


async def test_keys_belong_to_their_caller(stack: Stack) -> None:
    x, y = await stack.new_funder(), await stack.new_funder()
    key = {"Idempotency-Key": "shared-key"}
    a = await stack.partners.post(
        "/api/v1/partners",
        headers={**stack.tokens.staff(x["id"], sub="a"), **key},
        json={"name": "Same"},
    )
    b = await stack.partners.post(
        "/api/v1/partners",
        headers={**stack.tokens.staff(y["id"], sub="b"), **key},
        json={"name": "Same"},
    )
    assert a.status_code == b.status_code == 201
    assert a.json()["id"] != b.json()["id"]


async def test_a_failed_write_frees_the_key_for_a_corrected_retry(stack: Stack) -> None:
    funder = await stack.new_funder()
    staff = stack.tokens.staff(funder["id"])
    await stack.partners.post(
        "/api/v1/partners", headers=staff, json={"name": "Acme", "org_id": "GB-CHC-1234568"}
    )
    headers = {**staff, "Idempotency-Key": "fix-and-retry"}
    failed = await stack.partners.post(
        "/api/v1/partners", headers=headers, json={"name": "Acme", "org_id": "GB-CHC-1234568"}
    )
    assert failed.status_code == 409
    assert "already has a relationship" in failed.json()["message"]
    fixed = await stack.partners.post(
        "/api/v1/partners", headers=headers, json={"name": "Acme Two", "org_id": "GB-CHC-1234569"}
    )
    assert fixed.status_code == 201, fixed.text


async def test_retry_while_first_is_running_is_409(kit) -> None:
    app, client, tokens = kit
    gate["started"], gate["release"] = asyncio.Event(), asyncio.Event()
    headers = {**tokens.admin(), "Idempotency-Key": "slow-1"}
    first = asyncio.create_task(
        client.post("/api/v1/notes", json={"text": "wait"}, headers=headers)
    )
    await asyncio.wait_for(gate["started"].wait(), 5)
    second = await client.post("/api/v1/notes", json={"text": "wait"}, headers=headers)
    assert second.status_code == 409
    assert "still being processed" in second.json()["message"]
    gate["release"].set()
    done = await first
    assert done.status_code == 201
    third = await client.post("/api/v1/notes", json={"text": "wait"}, headers=headers)
    assert third.json() == done.json()
    async with app.state.db.sessionmaker() as session:
        count = await session.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.entity_type == "note")
        )
    assert count == 1


def ended_pid() -> int:
    """A process id that no longer exists on this host."""
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()
    return ended.pid


async def test_a_key_in_flight_at_a_crash_is_freed_once_its_process_is_gone(
    backend: str, tmp_path
) -> None:
    """Keys name the process running them; a dead process's keys do not answer 409."""
    me, dead = this_process(), ended_pid()
    holders = {
        "crashed": f"{me.host} {dead} {uuid.uuid4().hex}",
        "restarted": f"{me.host} {me.pid} {uuid.uuid4().hex}",  # this pid, an earlier life
        "alive-here": f"{me.host} 1 {uuid.uuid4().hex}",  # a process that still runs
        "elsewhere": f"other-host.example {dead} {uuid.uuid4().hex}",
    }
    async with kit_app(backend, tmp_path) as (app, client, tokens):
        headers = tokens.admin()
        body = {"text": "after the crash"}
        probe = await client.post(
            "/api/v1/notes", json=body, headers={**headers, "Idempotency-Key": "probe"}
        )
        assert probe.status_code == 201
        async with app.state.db.sessionmaker() as session, session.begin():
            first = await session.scalar(
                select(IdempotencyRecord).where(IdempotencyRecord.key == "probe")
            )
            for key, holder in holders.items():  # as processes that crashed mid-request left them
                session.add(
                    IdempotencyRecord(
                        owner=first.owner, key=key, fingerprint=first.fingerprint, holder=holder
                    )
                )
        answers = {}
        for key in holders:
            retry = await client.post(
                "/api/v1/notes", json=body, headers={**headers, "Idempotency-Key": key}
            )
            answers[key] = retry.status_code
    # Gone (no such process, or this pid's earlier life): the retry runs now, not in minutes.
    assert answers == {"crashed": 201, "restarted": 201, "alive-here": 409, "elsewhere": 409}


async def test_a_starting_process_frees_the_keys_crashed_processes_left(
    backend: str, tmp_path
) -> None:
    me, dead = this_process(), ended_pid()
    database_url = create_database(backend, "restart", tmp_path)
    upgrade("partners", database_url)
    db = Database(database_url)
    try:
        async with db.sessionmaker() as session, session.begin():
            for n, holder in enumerate(
                [
                    f"{me.host} {dead} {uuid.uuid4().hex}",
                    f"{me.host} {me.pid} {uuid.uuid4().hex}",
                    f"{me.host} 1 {uuid.uuid4().hex}",
                    f"elsewhere {dead} x",
                ]
            ):
                session.add(
                    IdempotencyRecord(owner="o", key=f"k{n}", fingerprint="f", holder=holder)
                )
        assert await release_keys_of_ended_processes(db) == 2
        async with db.sessionmaker() as session:
            left = await session.scalars(select(IdempotencyRecord.key).order_by("key"))
            assert list(left) == ["k2", "k3"]
    finally:
        await db.dispose()
        drop_database(database_url)
