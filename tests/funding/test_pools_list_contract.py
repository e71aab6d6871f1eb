"""Pools' lists as react-admin reads them: shares have ids, members and shares have a GET,
and both stay inside the pool's members."""

import json
from typing import Any

from tests.funding.helpers import new_funder
from tests.funding.pool_helpers import new_pool
from tests.support import Stack


async def _granted(stack: Stack) -> Any:
    pool = await new_pool(stack, members=2)
    for member in pool.members:
        await pool.contribute(member, 1_000_000)
    proposal = await pool.propose(pool.host, 300_000)
    for member in pool.members:
        response = await pool.vote(member, proposal, "approve")
        assert response.status_code == 201, response.text
    return pool


async def test_shares_and_members_have_ids_and_a_get(stack: Stack) -> None:
    pool = await _granted(stack)
    host = pool.host
    shares = await pool.get(host, "/shares", sort=json.dumps(["id", "ASC"]))
    assert shares.status_code == 200, shares.text
    listed = shares.json()
    assert len(listed) == 2
    assert [s["id"] for s in listed] == sorted(s["id"] for s in listed)
    share = listed[0]
    assert share["id"] == f"{share['grant_id']}.{share['funder_id']}"
    for url in (f"/api/v1/pools/shares/{share['id']}", f"{pool.url}/shares/{share['id']}"):
        one = await stack.funding.get(url, headers=host.staff)
        assert one.status_code == 200, one.text
        assert one.json() == share
    many = await pool.get(host, "/shares", filter=json.dumps({"id": [share["id"]]}))
    assert [s["id"] for s in many.json()] == [share["id"]]
    bad = await pool.get(host, "/shares", filter=json.dumps({"id": ["nope"]}))
    assert bad.status_code == 400

    members = await pool.get(host, "/members", sort=json.dumps(["id", "DESC"]), range="[0,0]")
    assert members.headers["content-range"] == "members 0-0/2"
    member = members.json()[0]
    everyone = await pool.get(host, "/members")
    assert member["id"] == max(m["id"] for m in everyone.json())
    one = await stack.funding.get(f"{pool.url}/members/{member['id']}", headers=host.staff)
    assert one.json() == member
    other = pool.members[1]
    by_funder = await pool.get(host, "/members", filter=json.dumps({"funder_id": other.id}))
    assert [m["funder_id"] for m in by_funder.json()] == [other.id]
    refused = await pool.get(host, "/members", filter=json.dumps({"colour": "red"}))
    assert refused.status_code == 400

    # Nobody outside the pool reads one share or one member.
    outsider = await new_funder(stack)
    for url in (
        f"/api/v1/pools/shares/{share['id']}",
        f"{pool.url}/shares/{share['id']}",
        f"{pool.url}/members/{member['id']}",
    ):
        response = await stack.funding.get(url, headers=outsider.staff)
        assert response.status_code == 404, (url, response.text)
    # A share of another pool is not one of this pool's.
    elsewhere = await _granted(stack)
    theirs = (await elsewhere.get(elsewhere.host, "/shares")).json()[0]
    response = await stack.funding.get(f"{pool.url}/shares/{theirs['id']}", headers=host.staff)
    assert response.status_code == 404
    response = await stack.funding.get(f"/api/v1/pools/shares/{theirs['id']}", headers=host.staff)
    assert response.status_code == 404
    response = await stack.funding.get("/api/v1/pools/shares/not-a-share", headers=host.staff)
    assert response.status_code == 404
