"""Partners ask: a partner requests a change to its grant; staff answer with a variation or a
reply; the days to decide are kept and announced."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import update

from services.funding.requests.models import GrantRequest
from tests.funding.helpers import Funder, events, new_funder
from tests.support import Stack

REASONS = "Our building works slipped by six months; we would like more time."


async def ask(f: Funder, grant: dict[str, Any], **body: Any) -> Any:
    return await f.stack.funding.post(
        f"/api/v1/grants/{grant['id']}/requests",
        headers={**f.partner_headers, "Idempotency-Key": uuid.uuid4().hex},
        json={"kind": "extension", "reasons": REASONS, **body},
    )


async def test_a_partner_asks_and_staff_decline_with_a_reason(stack: Stack) -> None:
    f = await new_funder(stack)
    grant = await f.awarded()
    response = await ask(f, grant)
    assert response.status_code == 201, response.text
    request = response.json()
    assert request["status"] == "open" and request["reasons"] == REASONS
    assert request["grant_id"] == grant["id"] and request["partner_id"] == f.partner["id"]
    assert request["days_to_decision"] is None and request["decided_at"] is None
    assert response.headers["location"] == f"/api/v1/grant-requests/{request['id']}"

    listed = await stack.funding.get("/api/v1/grant-requests", headers=f.staff)
    assert [r["id"] for r in listed.json()] == [request["id"]]
    assert listed.headers["content-range"] == "grant-requests 0-0/1"

    # Backdate the request three days, as if it waited over a weekend.
    async with stack.apps["funding"].state.db.sessionmaker() as session:
        await session.execute(
            update(GrantRequest)
            .where(GrantRequest.id == uuid.UUID(request["id"]))
            .values(requested_at=datetime.now(UTC) - timedelta(days=3))
        )
        await session.commit()

    reply = await stack.funding.post(
        f"/api/v1/grant-requests/{request['id']}/reply",
        headers=f.staff,
        json={"outcome": "declined", "reply": "Not this year; let's talk in the spring."},
    )
    assert reply.status_code == 200, reply.text
    decided = reply.json()
    assert decided["status"] == "declined" and decided["days_to_decision"] == 3
    assert decided["reply"] == "Not this year; let's talk in the spring."

    seen = await stack.funding.get(
        f"/api/v1/grant-requests/{request['id']}", headers=f.partner_headers
    )
    assert seen.status_code == 200 and seen.json()["status"] == "declined"

    [event] = await events(stack, "grant_request.decided", request_id=request["id"])
    assert event["days_to_decision"] == 3 and event["outcome"] == "declined"
    assert event["funder_id"] == f.id and event["grant_id"] == grant["id"]

    again = await stack.funding.post(
        f"/api/v1/grant-requests/{request['id']}/reply",
        headers=f.staff,
        json={"outcome": "answered", "reply": "Changed our mind."},
    )
    assert again.status_code == 409, again.text


async def test_a_variation_answers_the_request_in_one_go(stack: Stack) -> None:
    f = await new_funder(stack)
    grant = await f.awarded()
    request = (await ask(f, grant, kind="uplift", reasons="Energy costs doubled.")).json()
    response = await stack.funding.post(
        f"/api/v1/grants/{grant['id']}/variations",
        headers={**f.staff, "Idempotency-Key": uuid.uuid4().hex},
        json={
            "decided_on": "2031-02-01",
            "decided_by": "Board",
            "reference": "TM-V",
            "kind": "uplift",
            "amount": 500000,
            "request_id": request["id"],
        },
    )
    assert response.status_code == 201, response.text
    variation = response.json()
    decided = (
        await stack.funding.get(f"/api/v1/grant-requests/{request['id']}", headers=f.staff)
    ).json()
    assert decided["status"] == "varied" and decided["variation_id"] == variation["id"]
    assert decided["days_to_decision"] == 0
    [event] = await events(stack, "grant_request.decided", request_id=request["id"])
    assert event["outcome"] == "varied" and event["variation_id"] == variation["id"]
    by_variation = await stack.funding.get(
        "/api/v1/grant-requests",
        headers=f.partner_headers,
        params={"filter": f'{{"variation_id":"{variation["id"]}"}}'},
    )
    assert [r["id"] for r in by_variation.json()] == [request["id"]]

    # A decided request cannot be answered by a second variation; nothing is half-written.
    second = await stack.funding.post(
        f"/api/v1/grants/{grant['id']}/variations",
        headers={**f.staff, "Idempotency-Key": uuid.uuid4().hex},
        json={
            "decided_on": "2031-02-01",
            "decided_by": "Board",
            "reference": "TM-V2",
            "kind": "uplift",
            "amount": 100,
            "request_id": request["id"],
        },
    )
    assert second.status_code == 409, second.text
    now = (await stack.funding.get(f"/api/v1/grants/{grant['id']}", headers=f.staff)).json()
    assert now["amount_awarded"] == grant["amount_awarded"] + 500000


async def test_a_request_of_another_grant_is_not_a_variations_request(stack: Stack) -> None:
    f = await new_funder(stack)
    grant, other = await f.awarded(), await f.awarded()
    request = (await ask(f, other)).json()
    response = await stack.funding.post(
        f"/api/v1/grants/{grant['id']}/variations",
        headers={**f.staff, "Idempotency-Key": uuid.uuid4().hex},
        json={
            "decided_on": "2031-02-01",
            "decided_by": "Board",
            "reference": "TM-V",
            "kind": "extension",
            "planned_end_date": "2034-03-31",
            "request_id": request["id"],
        },
    )
    assert response.status_code == 422, response.text
    assert "request_id" in response.json()["errors"]


async def test_spending_needs_no_request(stack: Stack) -> None:
    f = await new_funder(stack)
    grant = await f.awarded()
    for kind in ("budget_change", "spending", "reallocation"):
        response = await ask(f, grant, kind=kind)
        assert response.status_code == 422, response.text
        problem = response.json()
        assert problem["type"].endswith("nothing-to-ask"), problem
        assert "needs no request" in problem["detail"] and "kind" in problem["errors"]
    response = await ask(f, grant, budget_lines=[{"line": "salaries", "amount": 100}])
    assert response.status_code == 422 and "needs no request" in response.json()["detail"]
    response = await ask(f, grant, kind="pause")
    assert response.status_code == 422
    assert "extension" in response.json()["detail"]
    response = await ask(f, grant, targets=["100 young people"])
    assert response.status_code == 422 and "KPI" in response.json()["detail"]
    listed = await stack.funding.get("/api/v1/grant-requests", headers=f.staff)
    assert listed.json() == []


async def test_only_live_grants_take_requests(stack: Stack) -> None:
    f = await new_funder(stack)
    proposed = await f.propose()
    assert (await ask(f, proposed)).status_code == 404  # the partner does not see proposals
    grant = await f.awarded()
    withdrawn = await stack.funding.post(
        f"/api/v1/grants/{grant['id']}/withdraw",
        headers=f.staff,
        json={"reason": "The partner merged with another charity."},
    )
    assert withdrawn.status_code == 200, withdrawn.text
    response = await ask(f, grant)
    assert response.status_code == 409 and response.json()["status"] == "withdrawn"


async def test_requests_are_seen_by_their_partner_and_funder_only(stack: Stack) -> None:
    f = await new_funder(stack)
    other = await new_funder(stack)
    grant = await f.awarded()
    request = (await ask(f, grant)).json()
    path = f"/api/v1/grant-requests/{request['id']}"
    for headers in (other.staff, other.partner_headers):
        assert (await stack.funding.get(path, headers=headers)).status_code == 404
        listed = await stack.funding.get("/api/v1/grant-requests", headers=headers)
        assert listed.json() == []
    # Another partner cannot ask about this grant; staff cannot ask at all; another
    # funder's staff cannot decide it.
    assert (await ask(other, grant)).status_code == 404
    staff_ask = await stack.funding.post(
        f"/api/v1/grants/{grant['id']}/requests",
        headers=f.staff,
        json={"kind": "extension", "reasons": REASONS},
    )
    assert staff_ask.status_code == 403
    decide = await stack.funding.post(
        f"{path}/reply", headers=other.staff, json={"outcome": "answered", "reply": "Yes."}
    )
    assert decide.status_code == 404
    partner_decides = await stack.funding.post(
        f"{path}/reply", headers=f.partner_headers, json={"outcome": "answered", "reply": "Yes."}
    )
    assert partner_decides.status_code == 403
    assert (await stack.funding.get(path, headers=f.staff)).json()["status"] == "open"
