"""A relationship's history: every stage it moved to, when and who moved it, in the API
and on the timeline; the funder's record, never another funder's or the partner's."""

import json

from tests.partners.helpers import org_id, pair, second_funder_of
from tests.support import Stack


async def _move(stack: Stack, staff: dict[str, str], relationship_id: str, status: str) -> None:
    response = await stack.partners.put(
        f"/api/v1/relationships/{relationship_id}", headers=staff, json={"status": status}
    )
    assert response.status_code == 200, response.text


async def test_history_lists_every_stage_in_order_with_who_moved_it(stack: Stack) -> None:
    p = await pair(stack, status="exploring")
    rel = p.partner["relationship"]["id"]
    for status in ("active", "paused", "active", "ended"):
        await _move(stack, p.staff, rel, status)
    await _move(stack, p.staff, rel, "ended")  # not a change of stage: no new row

    response = await stack.partners.get(f"/api/v1/relationships/{rel}/history", headers=p.staff)
    assert response.status_code == 200, response.text
    rows = response.json()
    assert [(r["previous_status"], r["status"]) for r in rows] == [
        (None, "exploring"),
        ("exploring", "active"),
        ("active", "paused"),
        ("paused", "active"),
        ("active", "ended"),
    ]
    assert rows[0]["changed_by"] == "staff@funder.test"  # who added the partner
    assert {r["changed_by"] for r in rows[1:]} == {f"staff-{p.funder['slug']}@funder.test"}
    assert response.headers["content-range"] == "relationship-history 0-4/5"
    times = [r["changed_at"] for r in rows]
    assert times == sorted(times)

    newest = await stack.partners.get(
        f"/api/v1/relationships/{rel}/history",
        headers=p.staff,
        params={"sort": '["changed_at","DESC"]', "range": "[0,1]", "filter": '{"status":"active"}'},
    )
    assert [r["previous_status"] for r in newest.json()] == ["paused", "exploring"]
    assert newest.headers["content-range"] == "relationship-history 0-1/2"


async def test_history_is_the_funders_own_record(stack: Stack) -> None:
    p = await pair(stack, status="active", org_id=org_id())
    q = await second_funder_of(stack, p)
    rel = p.partner["relationship"]["id"]
    await _move(stack, p.staff, rel, "paused")

    for headers in (q.staff, p.as_partner):
        response = await stack.partners.get(f"/api/v1/relationships/{rel}/history", headers=headers)
        assert response.status_code in {403, 404}, response.text

    # Another funder's timeline of the same partner shows none of p's stages.
    response = await stack.partners.get(
        f"/api/v1/partners/{p.partner_id}/timeline",
        headers=q.staff,
        params={"filter": '{"kind":"relationship"}'},
    )
    assert response.status_code == 200, response.text
    assert [e["data"]["status"] for e in response.json()] == ["active"]  # q's own beginning


async def test_stage_changes_are_on_the_funders_timeline_only(stack: Stack) -> None:
    p = await pair(stack, status="exploring")
    await _move(stack, p.staff, p.partner["relationship"]["id"], "active")
    params = {"filter": '{"kind":"relationship"}', "sort": '["occurred_at","ASC"]'}

    response = await stack.partners.get(
        f"/api/v1/partners/{p.partner_id}/timeline", headers=p.staff, params=params
    )
    entries = response.json()
    assert [e["title"] for e in entries] == ["Getting to know each other", "Relationship active"]
    assert "From exploring to active" in entries[1]["summary"]

    response = await stack.partners.get(
        f"/api/v1/partners/{p.partner_id}/timeline", headers=p.as_partner, params=params
    )
    assert response.status_code == 200
    assert response.json() == []


async def test_one_history_entry_and_the_parent_filters(stack: Stack) -> None:
    """react-admin's getOne and getManyReference over a relationship's history: one entry
    by id (404 for another funder), filters by relationship, funder and partner."""
    p = await pair(stack, status="exploring", org_id=org_id())
    q = await second_funder_of(stack, p)
    rel = p.partner["relationship"]["id"]
    await _move(stack, p.staff, rel, "active")
    url = f"/api/v1/relationships/{rel}/history"
    rows = (await stack.partners.get(url, headers=p.staff)).json()
    one = await stack.partners.get(f"{url}/{rows[1]['id']}", headers=p.staff)
    assert one.status_code == 200 and one.json() == rows[1]
    assert (await stack.partners.get(f"{url}/{rows[1]['id']}", headers=q.staff)).status_code == 404
    assert (await stack.partners.get(f"{url}/{rel}", headers=p.staff)).status_code == 404
    for name, value in (
        ("relationship_id", rel),
        ("funder_id", p.funder["id"]),
        ("partner_id", p.partner_id),
    ):
        same = await stack.partners.get(
            url, headers=p.staff, params={"filter": json.dumps({name: value})}
        )
        assert [r["id"] for r in same.json()] == [r["id"] for r in rows], name
    other = await stack.partners.get(
        url, headers=p.staff, params={"filter": json.dumps({"funder_id": q.funder["id"]})}
    )
    assert other.json() == [] and other.headers["content-range"] == "relationship-history */0"
