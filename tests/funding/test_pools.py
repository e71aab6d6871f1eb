"""Pooled listening funds through the API: membership, decision rules, the append-only ledger,
never overcommitting, exact shares, the open-books statement and pooled payments."""

import uuid
from typing import Any

import httpx

from services.common.http import ServiceClient
from tests.funding.helpers import events, new_funder
from tests.funding.pool_helpers import TODAY, PoolUnderTest, new_pool
from tests.support import Stack


async def _decided(pool: PoolUnderTest, proposal: dict[str, Any], votes: list[str]) -> Any:
    response = None
    for member, choice in zip(pool.members, votes, strict=False):
        response = await pool.vote(member, proposal, choice)
        assert response.status_code == 201, response.text
    assert response is not None
    return response.json()


# Membership and visibility ------------------------------------------------------------------


async def test_only_members_see_a_pool(stack: Stack) -> None:
    pool = await new_pool(stack, members=2)
    outsider = await new_funder(stack)
    assert pool.pool["rule_in_words"].startswith("Majority of members")
    for path in ("", "/ledger", "/statement", "/proposals", "/members", "/grants", "/shares"):
        response = await pool.get(outsider, path)
        assert response.status_code == 404, (path, response.text)
    response = await pool.post(outsider, "/contributions", {"amount": 100, "received_on": TODAY})
    assert response.status_code == 404
    response = await stack.funding.get(pool.url, headers=pool.host.partner_headers)
    assert response.status_code == 403
    listed = await stack.funding.get("/api/v1/pools", headers=outsider.staff)
    assert listed.json() == []
    listed = await stack.funding.get("/api/v1/pools", headers=pool.members[1].staff)
    assert [p["id"] for p in listed.json()] == [pool.id]
    assert listed.headers["content-range"] == "pools 0-0/1"


async def test_invite_accept_and_leave(stack: Stack) -> None:
    pool = await new_pool(stack, members=2)
    host, member = pool.members
    newcomer = await new_funder(stack)
    response = await pool.post(member, "/invitations", {"funder_id": newcomer.id})
    assert response.status_code == 403  # only the host invites
    # An id that is no funder is answered as a real one: no oracle of which funders exist.
    nobody = await pool.post(host, "/invitations", {"funder_id": str(uuid.uuid4())})
    assert nobody.status_code == 201
    assert nobody.json()["status"] == "invited"
    response = await pool.post(host, "/invitations", {"funder_id": newcomer.id})
    assert response.status_code == 201
    assert response.json()["status"] == "invited"
    seen = await pool.get(newcomer)
    assert seen.status_code == 200 and seen.json()["my_status"] == "invited"
    assert (await pool.get(newcomer, "/ledger")).status_code == 403
    response = await pool.post(newcomer, "/contributions", {"amount": 5, "received_on": TODAY})
    assert response.status_code == 403
    assert (await pool.post(newcomer, "/accept")).status_code == 200
    assert (await pool.post(newcomer, "/accept")).status_code == 409
    await pool.contribute(newcomer, 10000)
    assert (await pool.post(host, "/leave")).status_code == 409
    response = await pool.post(newcomer, "/leave")
    assert response.status_code == 200 and response.json()["status"] == "left"
    # Commitments stand; a former member still reads the books but no longer takes part.
    assert (await pool.get(newcomer, "/statement")).status_code == 200
    response = await pool.post(newcomer, "/pledges", {"amount": 5})
    assert response.status_code == 403
    members = (await pool.get(host, "/members")).json()
    assert {m["funder_id"]: m["status"] for m in members} == {
        host.id: "active",
        member.id: "active",
        newcomer.id: "left",
        nobody.json()["funder_id"]: "invited",
    }


async def test_quorum_rule_needs_a_quorum(stack: Stack) -> None:
    host = await new_funder(stack)
    body = {"name": "Q", "purpose": "p", "decision_rule": "quorum"}
    response = await stack.funding.post("/api/v1/pools", headers=host.staff, json=body)
    assert response.status_code == 422
    assert "quorum" in response.json()["errors"]
    body = {"name": "Q", "purpose": "p", "decision_rule": "majority", "kpis": ["x"]}
    response = await stack.funding.post("/api/v1/pools", headers=host.staff, json=body)
    assert response.status_code == 422
    assert "no KPIs" in response.json()["message"]


# Decision rules -----------------------------------------------------------------------------


async def test_majority_approves_and_makes_a_core_grant(stack: Stack) -> None:
    pool = await new_pool(stack, members=4)
    for member in pool.members:
        await pool.contribute(member, 2500000)
    proposal = await pool.propose(pool.members[1], 6000000)
    assert proposal["status"] == "open"
    assert proposal["tally"] == {
        "members": 4,
        "approve": 0,
        "object": 0,
        "abstain": 0,
        "not_voted": 4,
    }
    decided = await _decided(pool, proposal, ["approve", "approve", "object"])
    assert decided["status"] == "open"
    assert decided["decision_reason"] == "2 of 4 members approved so far; a majority needs 3."
    response = await pool.vote(pool.members[3], proposal, "approve", "We know them well")
    decided = response.json()
    assert decided["status"] == "approved"
    assert decided["decision_reason"] == "3 of 4 members approved; majority reached."
    assert decided["decided_at"] is not None
    assert [v["comment"] for v in decided["votes"]][-1] == "We know them well"
    assert (await pool.vote(pool.members[2], proposal, "approve")).status_code == 409
    grant = (
        await stack.funding.get(f"/api/v1/grants/{decided['grant_id']}", headers=pool.host.staff)
    ).json()
    assert grant["status"] == "approved" and grant["pool_id"] == pool.id
    assert grant["funder_id"] == pool.host.id
    assert set(grant["funder_ids"]) == {m.id for m in pool.members}
    assert grant["funder_ids"][0] == pool.host.id
    assert grant["grant_360_id"].startswith(pool.host.funder["prefix_360giving"])
    schedule = await pool.host.schedule(grant)
    assert sum(i["amount"] for i in schedule["instalments"]) == 6000000
    # Every member sees the grant; the partner sees it as its own.
    for member in pool.members:
        response = await stack.funding.get(f"/api/v1/grants/{grant['id']}", headers=member.staff)
        assert response.status_code == 200
    response = await stack.funding.get(
        f"/api/v1/grants/{grant['id']}", headers=pool.members[1].partner_headers
    )
    assert response.status_code == 200
    approved = await events(stack, "grant.approved", grant_id=grant["id"])
    assert len(approved) == 1
    assert approved[0]["pool_id"] == pool.id and approved[0]["funder_id"] == pool.host.id
    assert set(approved[0]["funder_ids"]) == {m.id for m in pool.members}
    statement = await pool.statement()
    assert statement["total"]["commitments"] == 6000000
    assert statement["total"]["closing_available"] == 4000000


async def test_majority_tie_does_not_pass(stack: Stack) -> None:
    pool = await new_pool(stack, members=4)
    await pool.contribute(pool.host, 1000000)
    proposal = await pool.propose(pool.host, 500000)
    decided = await _decided(pool, proposal, ["approve", "object", "approve", "object"])
    assert decided["status"] == "declined"
    assert decided["grant_id"] is None
    assert "a tie, and a tie does not pass" in decided["decision_reason"]
    assert decided["decision_reason"].startswith("2 of 4 members approved")
    assert (await pool.statement())["total"]["commitments"] == 0


async def test_unanimous_objection_stops_a_proposal(stack: Stack) -> None:
    pool = await new_pool(stack, members=3, rule="unanimous")
    await pool.contribute(pool.host, 1000000)
    proposal = await pool.propose(pool.host, 500000)
    decided = await _decided(pool, proposal, ["approve", "object"])
    assert decided["status"] == "declined"
    assert decided["decision_reason"] == (
        "1 of 3 members objected; under unanimous consent any objection stops a proposal."
    )
    # Abstaining is not objecting: approve, approve, abstain passes once everyone has voted.
    proposal = await pool.propose(pool.host, 500000)
    decided = await _decided(pool, proposal, ["approve", "abstain"])
    assert decided["status"] == "open"
    decided = await _decided(pool, proposal, ["approve", "abstain", "approve"])
    assert decided["status"] == "approved"
    assert decided["decision_reason"] == (
        "2 of 3 members approved, 1 abstained, none objected; unanimous consent reached."
    )


async def test_quorum_of_n_approvals(stack: Stack) -> None:
    pool = await new_pool(stack, members=4, rule="quorum", quorum=2)
    await pool.contribute(pool.host, 1000000)
    proposal = await pool.propose(pool.members[2], 300000)
    decided = await _decided(pool, proposal, ["object", "approve"])
    assert decided["status"] == "open"
    decided = await _decided(pool, proposal, ["object", "approve", "approve"])
    assert decided["status"] == "approved"
    assert decided["decision_reason"] == "2 approvals of the 2 needed; quorum reached."
    proposal = await pool.propose(pool.members[2], 300000)
    decided = await _decided(pool, proposal, ["object", "object", "abstain"])
    assert decided["status"] == "declined"
    assert "can no longer be reached" in decided["decision_reason"]


async def test_proposals_check_the_partner(stack: Stack) -> None:
    pool = await new_pool(stack, members=2)
    stranger = await new_funder(stack)
    response = await pool.post(
        pool.members[1],
        "/proposals",
        {
            "partner_id": stranger.partner["id"],
            "title": "t",
            "description": "d",
            "amount": 100,
            "planned_start_date": "2030-04-01",
            "planned_end_date": "2033-03-31",
        },
    )
    assert response.status_code == 422
    assert response.json()["type"].endswith("unknown-partner")
    # A partner of the host can be proposed by any member.
    await pool.propose(pool.members[1], 100, partner_id=pool.host.partner["id"])
    response = await pool.post(
        pool.host,
        "/proposals",
        {
            "partner_id": pool.host.partner["id"],
            "title": "t",
            "description": "d",
            "amount": 100,
            "planned_start_date": "2030-04-01",
            "planned_end_date": "2030-06-30",
        },
    )
    assert response.status_code == 422  # a core grant runs 1 to 10 years


async def test_proposal_answers_503_and_writes_nothing_when_partners_is_down(
    stack: Stack,
) -> None:
    pool = await new_pool(stack, members=2)
    app = stack.apps["funding"]
    real = app.state.services["partners"]
    async with httpx.AsyncClient(timeout=1.0) as http:
        app.state.services["partners"] = ServiceClient(
            "partners", "http://127.0.0.1:9", http, real.tokens
        )
        try:
            response = await pool.post(
                pool.host,
                "/proposals",
                {
                    "partner_id": pool.host.partner["id"],
                    "title": "t",
                    "description": "d",
                    "amount": 100,
                    "planned_start_date": "2030-04-01",
                    "planned_end_date": "2033-03-31",
                },
            )
        finally:
            app.state.services["partners"] = real
    assert response.status_code == 503
    assert (await pool.get(pool.host, "/proposals")).json() == []


# The ledger ---------------------------------------------------------------------------------


async def test_ledger_is_append_only_and_corrected_by_reversal(stack: Stack) -> None:
    pool = await new_pool(stack, members=2)
    host, member = pool.members
    pledge = await pool.post(member, "/pledges", {"amount": 5000000, "due_by": "2031-01-31"})
    assert pledge.status_code == 201
    pledge = pledge.json()
    wrong = await pool.contribute(member, 500000000, pledge_id=pledge["id"], memo="typo")
    entry_url = f"{pool.url}/ledger/{wrong['id']}"
    for method in ("PUT", "PATCH", "DELETE"):
        response = await stack.funding.request(
            method, entry_url, headers=member.staff, json={"amount": 5000000}
        )
        assert response.status_code == 405, (method, response.status_code)
    for method in ("PUT", "DELETE"):
        response = await stack.funding.request(
            method, f"{pool.url}/ledger", headers=member.staff, json={}
        )
        assert response.status_code == 405
        response = await stack.funding.request(
            method, f"{pool.url}/contributions/{wrong['id']}", headers=member.staff, json={}
        )
        assert response.status_code == 404
    outsider = await new_funder(stack)
    response = await pool.post(outsider, f"/ledger/{wrong['id']}/reverse", {"reason": "x"})
    assert response.status_code == 404
    response = await pool.post(member, f"/ledger/{wrong['id']}/reverse", {"reason": "typo: 100x"})
    assert response.status_code == 201, response.text
    reversal = response.json()
    assert reversal["amount"] == -500000000 and reversal["reverses_id"] == wrong["id"]
    assert reversal["kind"] == "contribution" and reversal["memo"] == "typo: 100x"
    response = await pool.post(host, f"/ledger/{wrong['id']}/reverse", {"reason": "again"})
    assert response.status_code == 409
    response = await pool.post(host, f"/ledger/{reversal['id']}/reverse", {"reason": "undo"})
    assert response.status_code == 409
    right = await pool.contribute(member, 5000000, pledge_id=pledge["id"])
    entries = await pool.ledger()
    assert [e["sequence"] for e in entries] == [1, 2, 3, 4]
    assert [e["amount"] for e in entries] == [5000000, 500000000, -500000000, 5000000]
    assert [e["reversed"] for e in entries] == [False, True, False, False]
    assert (await stack.funding.get(entry_url, headers=host.staff)).json()["amount"] == 500000000
    statement = await pool.statement(member)
    assert statement["total"]["contributions"] == 5000000
    assert statement["total"]["closing_available"] == 5000000
    assert statement["total"]["pledged"] == 5000000
    # A contribution whose money is committed cannot be reversed: the pool would be overcommitted.
    proposal = await pool.propose(host, 4000000)
    await _decided(pool, proposal, ["approve", "approve"])
    response = await pool.post(member, f"/ledger/{right['id']}/reverse", {"reason": "oops"})
    assert response.status_code == 409
    assert "overcommit" in response.json()["message"]
    commitment = next(e for e in await pool.ledger() if e["kind"] == "commitment")
    response = await pool.post(host, f"/ledger/{commitment['id']}/reverse", {"reason": "no"})
    assert response.status_code == 409
    assert "withdraw or vary the grant" in response.json()["message"]


async def test_never_overcommitted_proposal_waits_for_funds(stack: Stack) -> None:
    pool = await new_pool(stack, members=2)
    await pool.contribute(pool.host, 1000000)
    proposal = await pool.propose(pool.host, 1000001)
    decided = await _decided(pool, proposal, ["approve", "approve"])
    assert decided["status"] == "awaiting_funds"
    assert decided["grant_id"] is None
    assert decided["decision_reason"].startswith("2 of 2 members approved; majority reached. But")
    assert "£10,000.00" in decided["decision_reason"]
    assert (await pool.statement())["total"]["commitments"] == 0
    await pool.contribute(pool.members[1], 1)
    response = await pool.post(pool.members[1], f"/proposals/{proposal['id']}/decide")
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "approved"
    statement = await pool.statement()
    assert statement["total"]["closing_available"] == 0
    assert statement["total"]["commitments"] == 1000001


# Shares -------------------------------------------------------------------------------------


async def test_shares_sum_exactly_for_awkward_amounts(stack: Stack) -> None:
    pool = await new_pool(stack, members=3)
    a, b, c = pool.members
    await pool.contribute(a, 100000)
    await pool.contribute(b, 100000)
    await pool.contribute(c, 100001)
    proposal = await pool.propose(a, 100000)
    decided = await _decided(pool, proposal, ["approve", "approve"])
    grant_id = decided["grant_id"]
    shares = (await pool.get(b, "/shares", filter=f'{{"grant_id":["{grant_id}"]}}')).json()
    by_funder = {s["funder_id"]: s["share_amount"] for s in shares}
    # 100,000 in proportion 100,000 : 100,000 : 100,001 -> 33,333.22 / 33,333.22 / 33,333.56:
    # the odd penny goes to the largest remainder.
    assert by_funder == {a.id: 33333, b.id: 33333, c.id: 33334}
    assert sum(by_funder.values()) == 100000
    # A second grant after a late contribution follows the contributions at that time.
    await pool.contribute(a, 33333)
    proposal = await pool.propose(a, 99999)
    decided = await _decided(pool, proposal, ["approve", "approve"])
    mine = (await stack.funding.get("/api/v1/pools/shares", headers=a.staff)).json()
    assert len(mine) == 2 and {s["funder_id"] for s in mine} == {a.id}
    second = next(s for s in mine if s["grant_id"] == decided["grant_id"])
    # 99,999 x 133,333 / 333,334 = 39,999.4; the others 29,999.8 each: 39,999 + 30,000 + 30,000.
    assert second["share_amount"] == 39999
    shares = (
        await pool.get(c, "/shares", filter=f'{{"grant_id":["{decided["grant_id"]}"]}}')
    ).json()
    assert sum(s["share_amount"] for s in shares) == 99999
    ledger = await pool.ledger(kind="commitment")
    for grant in (grant_id, decided["grant_id"]):
        committed = [e for e in ledger if e["grant_id"] == grant and e["kind"] == "commitment"]
        shares = (await pool.get(a, "/shares", filter=f'{{"grant_id":["{grant}"]}}')).json()
        assert {e["funder_id"]: e["amount"] for e in committed} == {
            s["funder_id"]: s["share_amount"] for s in shares
        }


# Payments, withdrawal, variations -----------------------------------------------------------


async def test_payments_of_a_pooled_grant_go_out_of_the_pool(stack: Stack) -> None:
    pool = await new_pool(stack, members=3)
    for member, amount in zip(pool.members, (1000001, 2000000, 333333), strict=True):
        await pool.contribute(member, amount)
    proposal = await pool.propose(pool.members[2], 3000001, payment_frequency="quarterly")
    decided = await _decided(pool, proposal, ["approve", "approve"])
    grant = {"id": decided["grant_id"]}
    schedule = await pool.host.schedule(grant)
    first = schedule["instalments"][0]
    response = await pool.members[1].pay(first["id"])
    assert response.status_code == 403  # the host pays a pooled grant
    response = await pool.host.pay(first["id"])
    assert response.status_code == 201, response.text
    paid = [e for e in await pool.ledger() if e["kind"] == "payment"]
    assert sum(e["amount"] for e in paid) == first["amount"]
    assert {e["payment_id"] for e in paid} == {response.json()["id"]}
    statement = await pool.statement()
    assert statement["total"]["payments"] == first["amount"]
    assert statement["total"]["closing_cash"] == 3333334 - first["amount"]
    assert statement["total"]["closing_unpaid"] == 3000001 - first["amount"]
    # Withdrawal gives the unpaid commitment back to the pool's available balance.
    response = await stack.funding.post(
        f"/api/v1/grants/{grant['id']}/withdraw",
        headers=pool.host.staff,
        json={"reason": "The partner merged with another organisation."},
    )
    assert response.status_code == 200, response.text
    statement = await pool.statement()
    assert statement["total"]["commitments"] == first["amount"]
    assert statement["total"]["closing_unpaid"] == 0
    assert statement["total"]["closing_available"] == 3333334 - first["amount"]
    for line in statement["members"]:
        assert line["closing_unpaid"] == 0


async def test_variations_of_a_pooled_grant_move_the_pools_money(stack: Stack) -> None:
    pool = await new_pool(stack, members=2)
    await pool.contribute(pool.host, 1500000)
    await pool.contribute(pool.members[1], 500000)
    proposal = await pool.propose(pool.host, 1000000)
    grant_id = (await _decided(pool, proposal, ["approve", "approve"]))["grant_id"]
    decision = {"decided_on": TODAY, "decided_by": "Pool members", "reference": "PM-2"}
    response = await stack.funding.post(
        f"/api/v1/grants/{grant_id}/variations",
        headers=pool.host.staff,
        json={"kind": "uplift", "amount": 1000001, **decision},
    )
    assert response.status_code == 409
    assert response.json()["type"].endswith("pool-balance-insufficient")
    response = await stack.funding.post(
        f"/api/v1/grants/{grant_id}/variations",
        headers=pool.host.staff,
        json={"kind": "uplift", "amount": 1000000, **decision},
    )
    assert response.status_code == 201, response.text
    assert (await pool.statement())["total"]["closing_available"] == 0
    response = await stack.funding.post(
        f"/api/v1/grants/{grant_id}/variations",
        headers=pool.host.staff,
        json={"kind": "reduction", "amount": 333333, **decision},
    )
    assert response.status_code == 201, response.text
    statement = await pool.statement()
    assert statement["total"]["closing_available"] == 333333
    shares = (await pool.get(pool.host, "/shares")).json()
    assert sum(s["share_amount"] for s in shares) == 1666667
    commitments = [e for e in await pool.ledger() if e["kind"] == "commitment"]
    assert {
        f: sum(e["amount"] for e in commitments if e["funder_id"] == f)
        for f in {e["funder_id"] for e in commitments}
    } == {s["funder_id"]: s["share_amount"] for s in shares}


# The open books -----------------------------------------------------------------------------


async def test_statement_reconciles_with_the_ledger_and_is_the_same_for_all(
    stack: Stack,
) -> None:
    pool = await new_pool(stack, members=3)
    a, b, c = pool.members
    await pool.post(a, "/pledges", {"amount": 3000000})
    await pool.contribute(a, 1000000, received_on="2025-01-15")
    await pool.contribute(b, 777777, received_on="2025-02-10")
    wrong = await pool.contribute(c, 999, received_on="2025-02-11")
    await pool.post(c, f"/ledger/{wrong['id']}/reverse", {"reason": "wrong pool"})
    await pool.contribute(c, 123457, received_on="2025-03-01")
    proposal = await pool.propose(b, 1500001)
    grant_id = (await _decided(pool, proposal, ["approve", "approve"]))["grant_id"]
    schedule = await pool.host.schedule({"id": grant_id})
    assert (await pool.host.pay(schedule["instalments"][0]["id"])).status_code == 201
    statements = [await pool.statement(m) for m in pool.members]
    assert statements[0] == statements[1] == statements[2]
    statement = statements[0]
    entries = await pool.ledger()
    kinds = {"pledge": "pledged", "contribution": "contributions"}
    kinds |= {"commitment": "commitments", "payment": "payments"}
    for kind, name in kinds.items():
        assert statement["total"][name] == sum(e["amount"] for e in entries if e["kind"] == kind)
        for line in statement["members"]:
            assert line[name] == sum(
                e["amount"]
                for e in entries
                if e["kind"] == kind and e["funder_id"] == line["funder_id"]
            )
    for name in ("contributions", "commitments", "payments", "closing_available", "closing_cash"):
        assert sum(line[name] for line in statement["members"]) == statement["total"][name]
    total = statement["total"]
    assert total["contributions"] == 1000000 + 777777 + 123457
    assert total["closing_available"] == total["contributions"] - 1500001
    assert total["entries"] == len(entries)
    # A period: February only; opening and closing balances carry the rest. The mistaken 999
    # received in February shows there; its reversal is dated the day it was recorded.
    feb = await pool.statement(c, **{"from": "2025-02-01", "to": "2025-02-28"})
    assert feb["total"]["contributions"] == 777777 + 999
    assert feb["total"]["opening_available"] == 1000000
    assert feb["total"]["closing_available"] == 1778776
    assert feb["total"]["commitments"] == 0
    response = await pool.get(a, "/statement", **{"from": "2025-03-01", "to": "2025-02-01"})
    assert response.status_code == 422
