"""The gateway's composite views: each equal to the calls it combines, as staff and as a
partner, and still answering, section by section, when a service is down.

The services are the ``stack``'s real apps (on SQLite and PostgreSQL), served on loopback
sockets in the test's own event loop, so the gateway reaches them over HTTP as it does in
production.
"""

import json
import uuid
from datetime import date
from typing import Any

from tests.funding.helpers import new_funder
from tests.funding.pool_helpers import new_pool
from tests.gateway.served import Views, list_all, new_story
from tests.support import Stack


async def test_partner_overview_equals_the_calls_it_combines(stack: Stack, views: Views) -> None:
    story = await new_story(stack)
    f, pid = story.funder, story.funder.partner["id"]
    mine = {"filter": {"partner_id": pid}}
    for who, headers in (("staff", f.staff), ("partner", f.partner_headers)):
        response = await views.gateway.get(f"/api/v1/partners/{pid}/overview", headers=headers)
        assert response.status_code == 200, (who, response.text)
        view = response.json()
        assert {s["status"] for k, s in view.items() if k != "partner_id"} == {"ok"}, view

        direct = await stack.partners.get(f"/api/v1/partners/{pid}", headers=headers)
        assert view["organisation"]["partner"] == direct.json()

        grants = await list_all(
            stack.funding, "grants", headers, sort='["awarded_on","DESC"]', **mine
        )
        assert view["grants"]["grants"] == grants
        awarded = {"GBP": 9000001, "EUR": 500}
        assert view["grants"]["awarded"] == dict(sorted(awarded.items()))
        payments = await list_all(stack.funding, "payments", headers, **mine)
        assert view["grants"]["paid"] == {"GBP": sum(p["amount"] for p in payments)}
        assert view["grants"]["paid"]["GBP"] > 0
        scheduled = await list_all(
            stack.funding,
            "instalments",
            headers,
            filter={"partner_id": pid, "status": "scheduled"},
            sort='["due_date","ASC"]',
        )
        assert view["grants"]["next_instalment"] == scheduled[0]

        waiting = await list_all(
            stack.partners, "updates", headers, filter={"partner_id": pid, "replied": False}
        )
        assert [u["id"] for u in view["updates"]["awaiting_reply"]] == [story.update_waiting["id"]]
        assert view["updates"]["awaiting_reply_count"] == len(waiting) == 1
        assert len(view["updates"]["latest"]) == 2
        assert view["threads"]["count"] == 1
        assert view["threads"]["threads"][0]["subject"] == "Payment dates"
        assert [r["id"] for r in view["rounds"]["rounds"]] == [story.round_["id"]]

    staff_view = (
        await views.gateway.get(f"/api/v1/partners/{pid}/overview", headers=f.staff)
    ).json()
    history = staff_view["relationship"]["history"]
    assert [(h["previous_status"], h["status"]) for h in history] == [
        (None, "exploring"),
        ("exploring", "active"),
    ]
    assert staff_view["last_interaction"]["interaction"]["summary"] == "Visited the youth club."
    partner_view = (
        await views.gateway.get(f"/api/v1/partners/{pid}/overview", headers=f.partner_headers)
    ).json()
    assert partner_view["relationship"] == {"status": "ok", "relationship": None, "history": []}


async def test_partner_overview_never_shows_more_than_its_parts(stack: Stack, views: Views) -> None:
    story = await new_story(stack)
    pid = story.funder.partner["id"]
    stranger = await new_funder(stack)
    for headers in (stranger.staff, stranger.partner_headers):
        response = await views.gateway.get(f"/api/v1/partners/{pid}/overview", headers=headers)
        assert response.status_code == 404, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert story.funder.partner["name"] not in response.text
    response = await views.gateway.get(
        f"/api/v1/partners/{uuid.uuid4()}/overview", headers=stranger.staff
    )
    assert response.status_code == 404
    response = await views.gateway.get(f"/api/v1/partners/{pid}/overview")
    assert response.status_code == 401


async def test_a_service_down_empties_its_sections_only(stack: Stack, views: Views) -> None:
    story = await new_story(stack)
    f, pid = story.funder, story.funder.partner["id"]
    response = await views.without_funding.get(f"/api/v1/partners/{pid}/overview", headers=f.staff)
    assert response.status_code == 200, response.text
    view = response.json()
    assert view["grants"]["status"] == "unavailable"
    assert view["grants"]["service"] == "funding"
    assert "funding service is unavailable" in view["grants"]["detail"]
    assert "grants" not in view["grants"]
    assert view["organisation"]["status"] == view["updates"]["status"] == "ok"

    response = await views.without_funding.get("/api/v1/overview", headers=f.staff)
    assert response.status_code == 200, response.text
    home = response.json()
    assert home["instalments"]["status"] == home["proposals"]["status"] == "unavailable"
    assert home["updates"]["status"] == home["rounds"]["status"] == "ok"


async def test_funder_home_page_shows_what_needs_attention(stack: Stack, views: Views) -> None:
    story = await new_story(stack)
    f = story.funder
    response = await views.gateway.get("/api/v1/overview", headers=f.staff)
    assert response.status_code == 200, response.text
    home = response.json()
    assert home["funder_id"] == f.id

    updates = home["updates"]
    assert (updates["reply_within_days"], updates["reply_within_days_from"]) == (10, "commitment")
    assert [u["id"] for u in updates["awaiting_reply"]] == [story.update_waiting["id"]]
    assert updates["past_promised_time_count"] == 0  # sent today

    schedule = (await f.schedule(story.grant))["instalments"]
    today = date.today()
    due_now = [
        i
        for i in schedule
        if i["status"] == "scheduled" and i["due_date"][:7] == today.isoformat()[:7]
    ]
    assert [i["id"] for i in home["instalments"]["due_this_month"]] == [i["id"] for i in due_now]
    overdue = await list_all(stack.funding, "instalments", f.staff, filter={"overdue": True})
    assert home["instalments"]["overdue_count"] == len(overdue)
    assert [r["id"] for r in home["rounds"]["open"]] == [story.round_["id"]]

    response = await views.gateway.get("/api/v1/overview", headers=f.partner_headers)
    assert response.status_code == 403


async def test_funder_home_page_lists_pool_proposals_awaiting_its_vote(
    stack: Stack, views: Views
) -> None:
    pool = await new_pool(stack, members=3, rule="unanimous")
    await pool.contribute(pool.host, 5_000_000)
    proposal = await pool.propose(pool.host, 1_000_000)
    voter, waiting = pool.members[1], pool.members[2]
    response = await pool.vote(voter, proposal, "approve")
    assert response.status_code in {200, 201}, response.text

    def awaiting(home: dict[str, Any]) -> list[str]:
        return [p["id"] for p in home["proposals"]["awaiting_your_vote"]]

    voted = (await views.gateway.get("/api/v1/overview", headers=voter.staff)).json()
    assert awaiting(voted) == []
    home = (await views.gateway.get("/api/v1/overview", headers=waiting.staff)).json()
    assert awaiting(home) == [proposal["id"]]
    assert home["proposals"]["awaiting_your_vote"][0]["pool_name"] == pool.pool["name"]
    outsider = await new_funder(stack)
    assert (
        awaiting((await views.gateway.get("/api/v1/overview", headers=outsider.staff)).json()) == []
    )


async def test_the_views_are_in_the_merged_openapi(views: Views) -> None:
    document = (await views.gateway.get("/openapi.json")).json()
    assert "/api/v1/overview" in document["paths"]
    assert "/api/v1/partners/{partner_id}/overview" in document["paths"]
    assert "/healthz" not in document["paths"]


async def test_the_merged_audit_trail_is_the_three_services_newest_first(
    stack: Stack, views: Views
) -> None:
    story = await new_story(stack)
    f = story.funder
    response = await views.gateway.get("/api/v1/audit", headers=f.staff, params={"range": "[0,99]"})
    assert response.status_code == 200, response.text
    merged = response.json()
    parts = []
    for client in (stack.partners, stack.funding, stack.feedback):
        parts += await list_all(client, "audit", f.staff)
    assert sorted(e["id"] for e in merged) == sorted(e["id"] for e in parts)
    assert {e["service"] for e in merged} == {"partners", "funding", "feedback"}
    times = [e["occurred_at"] for e in merged]
    assert times == sorted(times, reverse=True)
    assert response.headers["content-range"] == f"audit 0-{len(merged) - 1}/{len(parts)}"

    window = await views.gateway.get(
        "/api/v1/audit",
        headers=f.staff,
        params={"range": "[2,4]", "sort": '["occurred_at","ASC"]'},
    )
    oldest_first = sorted(parts, key=lambda e: (e["occurred_at"], e["id"]))
    assert [e["id"] for e in window.json()] == [e["id"] for e in oldest_first[2:5]]
    assert window.headers["content-range"] == f"audit 2-4/{len(parts)}"

    grants_only = await views.gateway.get(
        "/api/v1/audit", headers=f.staff, params={"filter": '{"entity_type":"grant"}'}
    )
    assert {e["service"] for e in grants_only.json()} == {"funding"}

    down = await views.without_funding.get("/api/v1/audit", headers=f.staff)
    assert down.status_code == 503
    assert "funding" in down.json()["detail"]
    deep = await views.gateway.get(
        "/api/v1/audit", headers=f.staff, params={"range": "[10000,10010]"}
    )
    assert deep.status_code == 400


async def test_one_audit_entry_by_id_and_the_parent_filters(stack: Stack, views: Views) -> None:
    """react-admin's getOne (``/audit/{id}``) answers the entry from whichever service holds
    it, 404 for another funder's; getManyReference filters by ``funder_id``/``partner_id``."""
    story = await new_story(stack)
    f = story.funder
    other = await new_funder(stack)
    listed = (
        await views.gateway.get("/api/v1/audit", headers=f.staff, params={"range": "[0,99]"})
    ).json()
    for service in ("partners", "funding", "feedback"):
        entry = next(e for e in listed if e["service"] == service)
        one = await views.gateway.get(f"/api/v1/audit/{entry['id']}", headers=f.staff)
        assert one.status_code == 200, one.text
        assert one.json() == entry
        hidden = await views.gateway.get(f"/api/v1/audit/{entry['id']}", headers=other.staff)
        assert hidden.status_code == 404
    assert (
        await views.gateway.get(f"/api/v1/audit/{uuid.uuid4()}", headers=f.staff)
    ).status_code == 404
    grant_entry = next(e for e in listed if e["service"] == "funding")
    down = await views.without_funding.get(f"/api/v1/audit/{grant_entry['id']}", headers=f.staff)
    assert down.status_code == 503 and "funding" in down.json()["detail"]

    mine = await views.gateway.get(
        "/api/v1/audit",
        headers=f.staff,
        params={"range": "[0,99]", "filter": json.dumps({"funder_id": f.id})},
    )
    assert sorted(e["id"] for e in mine.json()) == sorted(e["id"] for e in listed)
    theirs = await views.gateway.get(
        "/api/v1/audit", headers=f.staff, params={"filter": json.dumps({"funder_id": other.id})}
    )
    assert theirs.status_code == 200 and theirs.json() == []
    partner_id = f.partner["id"]
    about = await views.gateway.get(
        "/api/v1/audit",
        headers=f.partner_headers,
        params={"range": "[0,99]", "filter": json.dumps({"partner_id": partner_id})},
    )
    assert about.status_code == 200 and about.json()
    assert all(e["partner_id"] == partner_id for e in about.json())
    bad = await views.gateway.get(
        "/api/v1/audit", headers=f.staff, params={"filter": '{"partner_id":"nope"}'}
    )
    assert bad.status_code in (400, 422)
