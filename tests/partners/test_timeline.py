"""The timeline: interactions, updates and replies, documents and grant events, newest first."""

import json
import uuid
from datetime import date, timedelta
from typing import Any

import httpx
from sqlalchemy import update as sql_update

from services.common.db import utcnow
from services.common.models import OutboxMessage
from services.partners.timeline.models import ENTRY_KINDS
from tests.partners.helpers import interaction, org_id, pair, second_funder_of, send_event, update
from tests.support import Stack


def approved(p: Any, grant_id: str, on: str, **data: Any) -> dict[str, Any]:
    return {
        "grant_id": grant_id,
        "funder_ids": [p.funder_id],
        "funder_id": p.funder_id,
        "pool_id": None,
        "partner_id": p.partner_id,
        "title": "Core funding",
        "amount_awarded": 9000000,
        "currency": "GBP",
        "approved_on": on,
        "grant_360_id": f"360G-x-{grant_id[:8]}",
        **data,
    }


def paid(p: Any, grant_id: str, instalment_id: str, on: str) -> dict[str, Any]:
    return {
        "instalment_id": instalment_id,
        "grant_id": grant_id,
        "funder_id": p.funder_id,
        "partner_id": p.partner_id,
        "amount": 3000000,
        "currency": "GBP",
        "due_date": on,
        "paid_on": on,
    }


#: What these tests look at: everything but the funder's relationship stages (their own tests
#: are in test_relationship_history.py).
RECORD_KINDS = json.dumps([kind for kind in ENTRY_KINDS if kind != "relationship"])


async def timeline(
    stack: Stack, partner_id: str, headers: dict[str, str], **params: str
) -> httpx.Response:
    params.setdefault("filter", f'{{"kind":{RECORD_KINDS}}}')
    response = await stack.partners.get(
        f"/api/v1/partners/{partner_id}/timeline", headers=headers, params=params
    )
    assert response.status_code == 200, response.text
    return response


async def test_the_timeline_merges_everything_newest_first(stack: Stack) -> None:
    p = await pair(stack)
    visit = await interaction(stack, p, occurred_at="2024-05-01T10:00:00Z", summary="First visit")
    call = await interaction(stack, p, kind="call", occurred_at="2024-09-01T10:00:00Z")
    grant_id = str(uuid.uuid4())
    await send_event(stack, "grant.approved", approved(p, grant_id, "2024-07-15"))
    document = await stack.partners.post(
        "/api/v1/documents",
        headers=p.as_partner,
        json={"title": "Accounts", "kind": "accounts", "year": 2024, "url": "https://x.org/a"},
    )
    sent = await update(stack, p, what_changed=None, what_was_hard="Our van broke down.")
    reply = await stack.partners.post(
        f"/api/v1/updates/{sent['id']}/replies", headers=p.staff, json={"body": "Sorry to hear."}
    )

    response = await timeline(stack, p.partner_id, p.staff)
    entries = response.json()
    assert [(e["kind"], e["source_id"]) for e in entries] == [
        ("reply", reply.json()["id"]),
        ("update", sent["id"]),
        ("document", document.json()["id"]),
        ("interaction", call["id"]),
        ("grant.approved", grant_id),
        ("interaction", visit["id"]),
    ]
    assert response.headers["content-range"] == "timeline 0-5/6"
    grant = entries[4]
    assert grant["title"] == "Grant approved: Core funding"
    assert grant["summary"] == "90,000.00 GBP"
    assert grant["occurred_at"].startswith("2024-07-15")
    assert entries[1]["summary"] == "Our van broke down."
    assert entries[5]["summary"] == "First visit"

    # Paged like every list, by offset or by cursor.
    first = await timeline(stack, p.partner_id, p.staff, range="[0,1]")
    assert first.headers["content-range"] == "timeline 0-1/6"
    cursor = first.headers["x-next-cursor"]
    rest = await timeline(stack, p.partner_id, p.staff, range="[0,1]", cursor=cursor)
    assert [e["id"] for e in rest.json()] == [e["id"] for e in entries[2:4]]
    response = await timeline(
        stack, p.partner_id, p.as_partner, filter='{"kind":["interaction","grant.approved"]}'
    )
    assert [e["kind"] for e in response.json()] == ["interaction", "grant.approved", "interaction"]
    response = await timeline(
        stack, p.partner_id, p.staff, filter='{"occurred_at_lte":"2024-08-01"}'
    )
    assert [e["source_id"] for e in response.json()] == [grant_id, visit["id"]]


async def test_the_timeline_follows_changes_and_hides_what_is_private(stack: Stack) -> None:
    p = await pair(stack)
    met = await interaction(stack, p, occurred_at="2024-05-01T10:00:00Z", summary="Visit")
    url = f"/api/v1/interactions/{met['id']}"
    await stack.partners.put(
        url,
        headers=p.staff,
        json={
            "private": True,
            "private_reason": "Discussing a safeguarding concern raised by a third party",
            "summary": "Changed",
        },
    )
    assert (await timeline(stack, p.partner_id, p.as_partner)).json() == []
    staff_view = (await timeline(stack, p.partner_id, p.staff)).json()
    assert [e["summary"] for e in staff_view] == ["Changed"]
    await stack.partners.delete(url, headers=p.staff)
    assert (await timeline(stack, p.partner_id, p.staff)).json() == []


async def test_late_duplicate_and_out_of_order_grant_events_land_once_in_place(
    stack: Stack,
) -> None:
    p = await pair(stack)
    older = await interaction(stack, p, occurred_at="2024-01-10T10:00:00Z")
    newer = await interaction(stack, p, occurred_at="2024-06-10T10:00:00Z")
    grant_id, instalment_id = str(uuid.uuid4()), str(uuid.uuid4())

    # The payment is told before the approval it follows...
    assert (
        await send_event(stack, "instalment.paid", paid(p, grant_id, instalment_id, "2024-04-01"))
    )["status"] == "handled"
    event_id = str(uuid.uuid4())
    body = approved(p, grant_id, "2024-03-01")
    assert (await send_event(stack, "grant.approved", body, event_id=event_id))[
        "status"
    ] == "handled"
    # ...the approval is delivered twice, and told again under a new event id.
    assert (await send_event(stack, "grant.approved", body, event_id=event_id))[
        "status"
    ] == "duplicate"
    await send_event(stack, "grant.approved", body)
    # A variation decided later, delivered last.
    variation_id = str(uuid.uuid4())
    await send_event(
        stack,
        "grant.varied",
        {
            "grant_id": grant_id,
            "funder_id": p.funder_id,
            "partner_id": p.partner_id,
            "variation_id": variation_id,
            "kind": "uplift",
            "amount_awarded": 9900000,
            "currency": "GBP",
            "planned_end_date": "2027-03-31",
            "decided_on": "2024-05-01",
        },
    )

    for headers in (p.staff, p.as_partner):
        entries = (await timeline(stack, p.partner_id, headers)).json()
        assert [e["source_id"] for e in entries] == [
            newer["id"],
            variation_id,
            instalment_id,
            grant_id,
            older["id"],
        ]
    varied = entries[1]
    assert varied["summary"] == "uplift, now 99,000.00 GBP, ends 2027-03-31"
    # A malformed event is acknowledged and ignored, not retried forever.
    assert (await send_event(stack, "grant.approved", {"grant_id": "nope"}))["status"] == "handled"


async def test_pooled_grant_events_are_seen_by_every_member_funder(stack: Stack) -> None:
    x = await pair(stack, org_id=org_id())
    y = await second_funder_of(stack, x)
    outsider = await second_funder_of(stack, x)
    grant_id, instalment_id = str(uuid.uuid4()), str(uuid.uuid4())
    # Paid by the pool's host (x) before the approval naming both members arrives.
    await send_event(stack, "instalment.paid", paid(x, grant_id, instalment_id, "2024-04-01"))
    assert (await timeline(stack, x.partner_id, y.staff)).json() == []
    await send_event(
        stack,
        "grant.approved",
        approved(x, grant_id, "2024-03-01", funder_ids=[x.funder_id, y.funder_id]),
    )
    for member in (x, y):
        entries = (await timeline(stack, x.partner_id, member.staff)).json()
        assert [e["kind"] for e in entries] == ["instalment.paid", "grant.approved"]
    assert (await timeline(stack, x.partner_id, outsider.staff)).json() == []


async def test_grant_events_arrive_through_the_funding_outbox_even_after_an_outage(
    stack: Stack,
) -> None:
    p = await pair(stack)
    staff = p.staff
    response = await stack.funding.post(
        "/api/v1/grants",
        headers=staff,
        json={
            "partner_id": p.partner_id,
            "title": "Core funding",
            "description": "Unrestricted funding for the organisation's work.",
            "amount_awarded": 300,
            "planned_start_date": "2030-04-01",
            "planned_end_date": "2033-03-31",
        },
    )
    assert response.status_code == 201, response.text
    grant = response.json()
    response = await stack.funding.post(
        f"/api/v1/grants/{grant['id']}/approve",
        headers=staff,
        json={"decided_on": date.today().isoformat(), "decided_by": "Board", "reference": "TM-1"},
    )
    assert response.status_code == 200, response.text

    # The partners service is down when funding first tries to deliver.
    dispatcher = stack.apps["funding"].state.dispatcher
    working = dispatcher.http

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("partners is down", request=request)

    dispatcher.http = httpx.AsyncClient(transport=httpx.MockTransport(refuse))
    try:
        assert await dispatcher.deliver_due() >= 1
    finally:
        await dispatcher.http.aclose()
        dispatcher.http = working
    assert (await timeline(stack, p.partner_id, staff)).json() == []

    # Later (the backoff has passed) it is back, and the event lands in place.
    async with stack.apps["funding"].state.db.sessionmaker() as session:
        await session.execute(
            sql_update(OutboxMessage)
            .where(OutboxMessage.delivered_at.is_(None))
            .values(next_attempt_at=utcnow() - timedelta(seconds=1))
        )
        await session.commit()
    await stack.deliver_events()
    instalments = (
        await stack.funding.get(f"/api/v1/grants/{grant['id']}/schedule", headers=staff)
    ).json()["instalments"]
    response = await stack.funding.post(
        "/api/v1/payments",
        headers={**staff, "Idempotency-Key": uuid.uuid4().hex},
        json={"instalment_id": instalments[0]["id"], "paid_on": date.today().isoformat()},
    )
    assert response.status_code == 201, response.text
    await stack.deliver_events()
    await stack.deliver_events()

    entries = (await timeline(stack, p.partner_id, p.as_partner)).json()
    assert [(e["kind"], e["grant_id"]) for e in entries] == [
        ("instalment.paid", grant["id"]),
        ("grant.approved", grant["id"]),
    ]
    assert entries[1]["summary"] == "3.00 GBP"
