"""Idempotency-Key: replay, 422 for a different body, 409 while the first is running."""

import asyncio

from sqlalchemy import func, select

from services.common.models import AuditEntry
from tests.common.kit_app import gate
from tests.support import Stack


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
