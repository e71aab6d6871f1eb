"""The audit trail, readable: each service answers the caller's own entries (its funder's, or
its organisation's own records'), filtered, newest first, with the list contract."""

import json
from datetime import UTC, datetime, timedelta

from tests.funding.helpers import new_funder
from tests.support import Stack


async def _audit(client, headers, **params):  # type: ignore[no-untyped-def]
    query = {k: v if isinstance(v, str) else json.dumps(v) for k, v in params.items()}
    response = await client.get("/api/v1/audit", headers=headers, params=query)
    assert response.status_code == 200, response.text
    return response


async def test_staff_read_their_funders_entries_newest_first(stack: Stack) -> None:
    f = await new_funder(stack)
    other = await new_funder(stack)
    grant = await f.awarded()
    entries = (await _audit(stack.funding, f.staff)).json()
    assert [(e["entity_type"], e["action"]) for e in entries] == [
        ("grant", "approve"),
        ("grant", "create"),
    ]
    assert {e["entity_id"] for e in entries} == {grant["id"]}
    assert all(e["funder_id"] == f.id and e["service"] == "funding" for e in entries)
    assert entries[0]["actor"] == "staff@funder.test"
    assert "funder_staff" in entries[0]["actor_roles"]
    assert entries[0]["changes"]["grant_360_id"] == grant["grant_360_id"]
    assert (await _audit(stack.funding, other.staff)).json() == []

    partners = (await _audit(stack.partners, f.staff)).json()
    assert {e["entity_type"] for e in partners} >= {"partner", "relationship"}
    assert all(e["funder_id"] == f.id for e in partners)


async def test_filters_window_and_order(stack: Stack) -> None:
    f = await new_funder(stack)
    first = await f.awarded(reference="A-1")
    await f.awarded(reference="A-2")
    response = await _audit(
        stack.funding,
        f.staff,
        filter={"entity_id": first["id"], "action": "approve"},
    )
    assert [e["entity_id"] for e in response.json()] == [first["id"]]
    assert response.headers["content-range"] == "audit 0-0/1"

    page = await _audit(stack.funding, f.staff, range=[1, 2], sort=["occurred_at", "ASC"])
    assert page.headers["content-range"] == "audit 1-2/4"
    assert [e["action"] for e in page.json()] == ["approve", "create"]

    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert (await _audit(stack.funding, f.staff, filter={"occurred_at_gte": future})).json() == []
    by_actor = await _audit(stack.funding, f.staff, filter={"actor": "someone@else.test"})
    assert by_actor.json() == []
    bad = await stack.funding.get(
        "/api/v1/audit", headers=f.staff, params={"filter": '{"colour":"red"}'}
    )
    assert bad.status_code == 400
    assert bad.headers["content-type"] == "application/problem+json"


async def test_partners_read_entries_about_their_own_records_only(stack: Stack) -> None:
    f = await new_funder(stack)
    response = await stack.partners.put(
        f"/api/v1/partners/{f.partner['id']}",
        headers=f.partner_headers,
        json={"description": "Youth club and food bank."},
    )
    assert response.status_code == 200, response.text
    response = await stack.partners.post(
        "/api/v1/interactions",
        headers=f.staff,
        json={
            "partner_id": f.partner["id"],
            "kind": "visit",
            "occurred_at": "2025-03-04T10:30:00Z",
            "summary": "Visited; private thoughts on their board.",
            "private": True,
            "private_reason": "About people",
        },
    )
    assert response.status_code == 201, response.text
    update = await stack.partners.post(
        "/api/v1/updates", headers=f.partner_headers, json={"what_changed": "A new worker."}
    )
    assert update.status_code == 201, update.text

    mine = (await _audit(stack.partners, f.partner_headers)).json()
    assert {e["entity_type"] for e in mine} == {"partner", "update"}
    assert all(e["partner_id"] == f.partner["id"] for e in mine)
    assert "private thoughts" not in json.dumps(mine)
    staff = (await _audit(stack.partners, f.staff)).json()
    assert {"interaction", "update", "relationship"} <= {e["entity_type"] for e in staff}
    other = await new_funder(stack)
    theirs = (await _audit(stack.partners, other.partner_headers)).json()
    assert [(e["entity_type"], e["entity_id"]) for e in theirs] == [
        ("partner", other.partner["id"])
    ]
    assert (await stack.partners.get("/api/v1/audit")).status_code == 401
