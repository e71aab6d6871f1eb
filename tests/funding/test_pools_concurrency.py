"""Never overcommitted, under load: many deciding votes, payments out of the pool and
contribution reversals at once, through the API, on PostgreSQL (the pool's row lock,
``SELECT ... FOR UPDATE``, serialises every transaction that commits or moves money).
Then the ledger must still balance to the penny."""

import asyncio
import time
from collections import Counter

import pytest

from tests.funding.pool_helpers import new_pool
from tests.support import Stack

PROPOSALS = 60
AMOUNT = 300001


async def test_concurrent_approvals_and_payments_never_overdraw_the_pool(
    stack: Stack, backend: str
) -> None:
    if backend != "postgres":
        pytest.skip("the concurrency proof runs on PostgreSQL (SQLite serialises writers)")
    pool = await new_pool(stack, members=2)
    host, member = pool.members
    await pool.contribute(host, 7000000)
    await pool.contribute(member, 3000001)
    extra = [await pool.contribute(member, 500000) for _ in range(3)]
    first = await pool.propose(host, 1000000, payment_frequency="quarterly")
    for who in (host, member):
        assert (await pool.vote(who, first, "approve")).status_code == 201
    first = (await pool.get(host, f"/proposals/{first['id']}")).json()
    assert first["status"] == "approved"
    instalments = (await host.schedule({"id": first["grant_id"]}))["instalments"]
    proposals = [await pool.propose(member, AMOUNT) for _ in range(PROPOSALS)]
    for proposal in proposals:
        assert (await pool.vote(host, proposal, "approve")).status_code == 201

    attempts = [pool.vote(member, p, "approve", "Concurrent decision") for p in proposals]
    attempts += [host.pay(i["id"]) for i in instalments]
    attempts += [
        pool.post(member, f"/ledger/{e['id']}/reverse", {"reason": "returned"}) for e in extra
    ]
    started = time.perf_counter()
    responses = await asyncio.gather(*attempts)
    elapsed = time.perf_counter() - started

    votes = responses[:PROPOSALS]
    payments = responses[PROPOSALS : PROPOSALS + len(instalments)]
    reversals = responses[PROPOSALS + len(instalments) :]
    assert all(r.status_code == 201 for r in votes), Counter(r.status_code for r in votes)
    assert all(r.status_code == 201 for r in payments), [r.text for r in payments]
    assert all(r.status_code in (201, 409) for r in reversals), [r.text for r in reversals]
    outcomes = Counter(r.json()["status"] for r in votes)
    approvals = outcomes["approved"]
    assert set(outcomes) <= {"approved", "awaiting_funds"}

    entries = await pool.ledger()
    assert [e["sequence"] for e in entries] == list(range(1, len(entries) + 1))
    total = Counter()
    for entry in entries:
        total[entry["kind"]] += entry["amount"]
    reversed_ = sum(1 for r in reversals if r.status_code == 201)
    assert total["contribution"] == 10000001 + 500000 * (3 - reversed_)
    assert total["commitment"] == 1000000 + approvals * AMOUNT
    assert total["payment"] == sum(i["amount"] for i in instalments) == 1000000
    available = total["contribution"] - total["commitment"]
    assert 0 <= available
    if outcomes["awaiting_funds"]:
        assert available < AMOUNT  # nothing was refused that the money could have covered
    statement = await pool.statement()
    assert statement["total"]["closing_available"] == available
    assert statement["total"]["closing_cash"] == total["contribution"] - total["payment"]
    assert statement["total"]["closing_unpaid"] == approvals * AMOUNT
    grants = []
    while True:
        page = (await pool.get(host, "/grants", range=f"[{len(grants)},{len(grants) + 99}]")).json()
        grants += page
        if len(page) < 100:
            break
    assert len(grants) == approvals + 1
    for grant in grants:
        committed = sum(
            e["amount"]
            for e in entries
            if e["kind"] == "commitment" and e["grant_id"] == grant["id"]
        )
        assert committed == grant["amount_awarded"]
    print(
        f"\npool concurrency: {len(attempts)} concurrent attempts ({PROPOSALS} deciding votes of "
        f"£{AMOUNT / 100:,.2f}, {len(payments)} payments, {len(reversals)} reversals); "
        f"{approvals} approved, {outcomes['awaiting_funds']} awaiting funds, {reversed_} "
        f"reversals accepted; available £{available / 100:,.2f}, cash "
        f"£{statement['total']['closing_cash'] / 100:,.2f}; ledger {len(entries)} entries "
        f"balance to the penny; {elapsed:.2f} s"
    )
