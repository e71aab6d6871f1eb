"""Writes that must be serial stay serial on both databases, SQLite included.

On the embedded default, 50 contributions to one pool at once once answered 500
(two writers took the same ledger sequence number), and payments of one grant's
instalments at once answered 412 "changed by someone else" although nobody sent
``If-Match``. Write transactions on SQLite now begin with ``BEGIN IMMEDIATE``
(services/common/db.py), so they queue for the write lock like ``SELECT ... FOR
UPDATE`` makes them queue on PostgreSQL.
"""

import asyncio
import sqlite3
from collections import Counter
from datetime import date, timedelta

import pytest
from sqlalchemy.engine import make_url

from tests.funding.helpers import new_funder
from tests.funding.pool_helpers import TODAY, new_pool
from tests.support import Stack

WRITERS = 50


async def test_fifty_contributions_to_one_pool_at_once(stack: Stack) -> None:
    pool = await new_pool(stack, members=2)
    host, member = pool.members
    attempts = [
        pool.post(who, "/contributions", {"amount": 1000 + i, "received_on": TODAY})
        for i, who in enumerate([host, member] * (WRITERS // 2))
    ]
    responses = await asyncio.gather(*attempts)

    assert Counter(r.status_code for r in responses) == {201: WRITERS}, [
        r.text for r in responses if r.status_code != 201
    ][:3]
    entries = await pool.ledger()
    contributions = [e for e in entries if e["kind"] == "contribution"]
    assert len(contributions) == WRITERS
    assert [e["sequence"] for e in entries] == list(range(1, len(entries) + 1))
    assert sum(e["amount"] for e in contributions) == sum(1000 + i for i in range(WRITERS))


async def test_fifty_payments_of_one_grants_instalments_at_once(stack: Stack) -> None:
    f = await new_funder(stack)
    grant = await f.awarded(amount_awarded=WRITERS * 10000)
    start = date.today()
    instalments = [
        {"due_date": (start + timedelta(days=7 * i)).isoformat(), "amount": 10000}
        for i in range(WRITERS)
    ]
    response = await stack.funding.put(
        f"/api/v1/grants/{grant['id']}/schedule",
        headers=f.staff,
        json={"instalments": instalments},
    )
    assert response.status_code == 200, response.text
    due = [i for i in response.json()["instalments"] if i["status"] == "scheduled"]
    assert len(due) == WRITERS

    responses = await asyncio.gather(*(f.pay(i["id"]) for i in due))

    # No 500, and no 412: nobody sent If-Match, so no precondition can have failed.
    assert Counter(r.status_code for r in responses) == {201: WRITERS}, [
        r.text for r in responses if r.status_code != 201
    ][:3]
    schedule = await f.schedule(grant)
    assert schedule["amount_paid"] == WRITERS * 10000
    assert all(i["status"] == "paid" for i in schedule["instalments"])


async def test_concurrent_updates_without_if_match_never_answer_412(
    stack: Stack, backend: str
) -> None:
    """412 answers a precondition the caller set; without ``If-Match`` there is none. Two
    writers that clash on a record's version get 409 "try again" (PostgreSQL), or queue
    and both succeed (SQLite)."""
    f = await new_funder(stack)
    url = f"/api/v1/partners/{f.partner['id']}"
    responses = await asyncio.gather(
        *(
            stack.partners.put(url, headers=f.staff, json={"description": f"Version {i}"})
            for i in range(20)
        )
    )
    statuses = Counter(r.status_code for r in responses)
    assert set(statuses) <= {200, 409}, [r.text for r in responses if r.status_code != 200][:3]
    if backend == "sqlite":
        assert statuses == {200: 20}
    for response in responses:
        if response.status_code == 409:
            assert response.json()["type"].endswith("/concurrent-change")
    final = (await stack.partners.get(url, headers=f.staff)).json()
    assert final["version"] == 1 + statuses[200]


async def test_a_database_too_busy_to_write_answers_503_and_writes_nothing(
    stack: Stack, backend: str
) -> None:
    """SQLite gives a writer the lock within ``busy_timeout`` (10 s) or not at all: then the
    answer is 503 with ``Retry-After``, never 500, and nothing is written."""
    if backend != "sqlite":
        pytest.skip("the write lock held from outside is SQLite's")
    f = await new_funder(stack)
    path = make_url(stack.urls["funding"]).database
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process holding the write lock
    try:
        response = await stack.funding.post(
            "/api/v1/pools",
            headers=f.staff,
            json={
                "name": "Busy Fund",
                "purpose": "Waits for the lock.",
                "decision_rule": "majority",
            },
        )
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "1"
    assert response.json()["type"].endswith("/database-busy")
    pools = await stack.funding.get("/api/v1/pools", headers=f.staff)
    assert "Busy Fund" not in pools.text
