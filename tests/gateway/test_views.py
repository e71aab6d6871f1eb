"""The gateway's composite views: each equal to the calls it combines, as staff and as a
partner, and still answering, section by section, when a service is down.

The services are the ``stack``'s real apps (on SQLite and PostgreSQL), served on loopback
sockets in the test's own event loop, so the gateway reaches them over HTTP as it does in
production.
"""

import asyncio
import json
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import date
from typing import Any

import httpx
import pytest
import uvicorn
from asgi_lifespan import LifespanManager

from services.gateway.app import create_app
from services.gateway.config import Settings
from tests.feedback.support import Funder as FeedbackFunder
from tests.funding.helpers import Funder, new_funder
from tests.funding.pool_helpers import new_pool
from tests.gateway.conftest import closed_port_url
from tests.support import AUDIENCE, ISSUER, Stack


@dataclass
class Views:
    """Two gateways in front of the stack: one whole, one whose funding service is gone."""

    gateway: httpx.AsyncClient
    without_funding: httpx.AsyncClient


def _listening_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    return sock


async def _serve(app: Any, exits: AsyncExitStack) -> str:
    """Serve an app whose lifespan already runs, in this event loop; its URL."""
    sock = _listening_socket()
    server = uvicorn.Server(
        uvicorn.Config(app, lifespan="off", log_level="warning", access_log=False)
    )
    task = asyncio.create_task(server.serve(sockets=[sock]))

    async def stop() -> None:
        server.should_exit = True
        await task
        sock.close()

    exits.push_async_callback(stop)
    while not server.started:  # noqa: ASYNC110 (uvicorn offers no event to wait on)
        await asyncio.sleep(0.01)
    return f"http://127.0.0.1:{sock.getsockname()[1]}"


async def _gateway(stack: Stack, urls: dict[str, str], exits: AsyncExitStack) -> httpx.AsyncClient:
    settings = Settings(
        data_dir=stack.apps["partners"].state.settings.data_dir,
        auth_issuer=ISSUER,
        auth_audience=AUDIENCE,
        partners_url=urls["partners"],
        funding_url=urls["funding"],
        feedback_url=urls["feedback"],
        log_level="WARNING",
    )
    app = create_app(settings)
    await exits.enter_async_context(LifespanManager(app))
    return await exits.enter_async_context(
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway.test")
    )


@pytest.fixture(scope="module")
async def views(stack: Stack) -> AsyncIterator[Views]:
    async with AsyncExitStack() as exits:
        urls = {name: await _serve(app, exits) for name, app in stack.apps.items()}
        whole = await _gateway(stack, urls, exits)
        broken = await _gateway(stack, {**urls, "funding": closed_port_url()}, exits)
        yield Views(whole, broken)


@dataclass
class Story:
    """A funder and a partner with a little of everything between them."""

    funder: Funder
    grant: dict[str, Any]
    update_waiting: dict[str, Any]
    round_: dict[str, Any]


async def _story(stack: Stack) -> Story:
    funder = await new_funder(stack, status="exploring")
    partners, staff = stack.partners, funder.staff
    rel = funder.partner["relationship"]["id"]
    response = await partners.put(
        f"/api/v1/relationships/{rel}", headers=staff, json={"status": "active"}
    )
    assert response.status_code == 200, response.text
    grant = await funder.awarded(
        amount_awarded=9000001, planned_start_date=date.today().isoformat()
    )
    first = (await funder.schedule(grant))["instalments"][0]
    assert (await funder.pay(first["id"])).status_code == 201
    await funder.awarded(amount_awarded=500, currency="EUR", reference="EUR-1")
    await funder.propose(amount_awarded=777, reference="PROPOSED-1")  # not awarded: not counted

    as_partner = funder.partner_headers
    replied = await partners.post(
        "/api/v1/updates", headers=as_partner, json={"what_changed": "A new youth worker."}
    )
    assert replied.status_code == 201, replied.text
    response = await partners.post(
        f"/api/v1/updates/{replied.json()['id']}/replies",
        headers=staff,
        json={"body": "Thank you: we would love to meet her."},
    )
    assert response.status_code == 201, response.text
    waiting = await partners.post(
        "/api/v1/updates", headers=as_partner, json={"what_was_hard": "The energy bills."}
    )
    assert waiting.status_code == 201, waiting.text
    response = await partners.post(
        "/api/v1/interactions",
        headers=staff,
        json={
            "partner_id": funder.partner["id"],
            "kind": "visit",
            "occurred_at": "2025-03-04T10:30:00Z",
            "summary": "Visited the youth club.",
        },
    )
    assert response.status_code == 201, response.text
    response = await stack.feedback.post(
        "/api/v1/threads",
        headers=as_partner,
        json={"funder_id": funder.id, "subject": "Payment dates", "body": "Could we move them?"},
    )
    assert response.status_code == 201, response.text
    feedback = FeedbackFunder(stack, funder.funder, [funder.partner])
    await feedback.commitment(
        "We reply to every update within ten days", measure="days_to_first_reply", promised_days=10
    )
    round_ = await feedback.round()
    return Story(funder, grant, waiting.json(), round_)


async def _list(
    client: httpx.AsyncClient, path: str, headers: dict[str, str], **params: Any
) -> list[Any]:
    query = {k: v if isinstance(v, str) else json.dumps(v) for k, v in params.items()}
    response = await client.get(
        f"/api/v1/{path}", headers=headers, params={"range": "[0,99]", **query}
    )
    assert response.status_code == 200, response.text
    return response.json()


async def test_partner_overview_equals_the_calls_it_combines(stack: Stack, views: Views) -> None:
    story = await _story(stack)
    f, pid = story.funder, story.funder.partner["id"]
    mine = {"filter": {"partner_id": pid}}
    for who, headers in (("staff", f.staff), ("partner", f.partner_headers)):
        response = await views.gateway.get(f"/api/v1/partners/{pid}/overview", headers=headers)
        assert response.status_code == 200, (who, response.text)
        view = response.json()
        assert {s["status"] for k, s in view.items() if k != "partner_id"} == {"ok"}, view

        direct = await stack.partners.get(f"/api/v1/partners/{pid}", headers=headers)
        assert view["organisation"]["partner"] == direct.json()

        grants = await _list(stack.funding, "grants", headers, sort='["awarded_on","DESC"]', **mine)
        assert view["grants"]["grants"] == grants
        awarded = {"GBP": 9000001, "EUR": 500}
        assert view["grants"]["awarded"] == dict(sorted(awarded.items()))
        payments = await _list(stack.funding, "payments", headers, **mine)
        assert view["grants"]["paid"] == {"GBP": sum(p["amount"] for p in payments)}
        assert view["grants"]["paid"]["GBP"] > 0
        scheduled = await _list(
            stack.funding,
            "instalments",
            headers,
            filter={"partner_id": pid, "status": "scheduled"},
            sort='["due_date","ASC"]',
        )
        assert view["grants"]["next_instalment"] == scheduled[0]

        waiting = await _list(
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
    story = await _story(stack)
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
    story = await _story(stack)
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
    story = await _story(stack)
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
    overdue = await _list(stack.funding, "instalments", f.staff, filter={"overdue": True})
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
