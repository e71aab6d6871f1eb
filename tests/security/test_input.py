"""Bad input gets a clear 4xx problem, never a 500, on every service.

Each case here was a 500, or a wrong answer, on the landed main: slugs pasted
into internal URLs, strings and booleans taken as amounts, numbers as dates,
integers beyond what the database holds, nulls for required fields, bodies of
any size.
"""

import uuid
from typing import Any

import httpx
import orjson

from tests.funding.helpers import new_funder
from tests.funding.pool_helpers import TODAY, new_pool
from tests.support import Stack

PROBLEM = "application/problem+json"
HUGE = [2**63, 2**64 - 1, 10**30]


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert body["status"] == status and body["detail"]
    return body


async def test_a_slug_never_reaches_another_url(stack: Stack) -> None:
    f = await new_funder(stack)
    slug = f.funder["slug"]
    response = await stack.feedback.get(f"/api/v1/public/feedback/{slug}/commitments")
    assert response.status_code == 200, response.text
    for path in ("commitments", "scorecard"):
        for odd in ("%0A", f"{slug}%3Fx=1", "%00", "A" * 70, "%C3%A9t%C3%A9"):
            response = await stack.feedback.get(f"/api/v1/public/feedback/{odd}/{path}")
            problem(response, 422)
        response = await stack.feedback.get(f"/api/v1/public/feedback/x%2F..%2F{slug}/{path}")
        problem(response, 404)
    for odd in ("%0A", f"{slug}%3Fx=1"):
        response = await stack.funding.get(f"/api/v1/public/funding/{odd}/360giving")
        problem(response, 422)
    # The internal lookup escapes what it is given, too.
    response = await stack.partners.get(
        f"/internal/funders/by-slug/{slug}%3Fx=1", headers=stack.tokens.service()
    )
    assert response.status_code == 422


async def test_amounts_are_json_whole_numbers_the_database_can_hold(stack: Stack) -> None:
    f = await new_funder(stack)
    base = {
        "partner_id": f.partner["id"],
        "title": "Core funding",
        "description": "Unrestricted.",
        "planned_start_date": "2030-04-01",
        "planned_end_date": "2033-03-31",
    }
    for amount in ["100", True, 100.5, 100.0, 0, -5, *HUGE]:
        response = await stack.funding.post(
            "/api/v1/grants", headers=f.staff, json={**base, "amount_awarded": amount}
        )
        body = problem(response, 422)
        assert "amount_awarded" in body["errors"], (amount, body)
    response = await stack.funding.post(
        "/api/v1/grants", headers=f.staff, json={**base, "amount_awarded": 10**16}
    )
    assert response.status_code == 201, response.text
    grant = await f.awarded()

    # Every other amount the API takes: variations, schedules, instalments, payments, pools.
    decision = {"decided_on": "2030-03-01", "decided_by": "Board", "reference": "TM-2"}
    instalment = (await f.schedule(grant))["instalments"][-1]
    pool = await new_pool(stack, members=1)
    host = pool.members[0]
    for amount in ["100", True, *HUGE]:
        attempts = [
            stack.funding.post(
                f"/api/v1/grants/{grant['id']}/variations",
                headers=f.staff,
                json={**decision, "kind": "uplift", "amount": amount},
            ),
            stack.funding.put(
                f"/api/v1/grants/{grant['id']}/schedule",
                headers=f.staff,
                json={"instalments": [{"due_date": "2031-01-01", "amount": amount}]},
            ),
            stack.funding.put(
                f"/api/v1/instalments/{instalment['id']}", headers=f.staff, json={"amount": amount}
            ),
            f.pay(instalment["id"], amount=amount),
            pool.post(host, "/contributions", {"amount": amount, "received_on": TODAY}),
            pool.post(host, "/pledges", {"amount": amount}),
        ]
        for response in [await attempt for attempt in attempts]:
            problem(response, 422)
    # Many maximal instalments: their total is beyond 64 bits, still a clear 422.
    many = [{"due_date": "2031-01-01", "amount": 10**16}] * 2000
    response = await stack.funding.put(
        f"/api/v1/grants/{grant['id']}/schedule", headers=f.staff, json={"instalments": many}
    )
    problem(response, 422)
    response = await stack.funding.put(
        f"/api/v1/grants/{grant['id']}/schedule", headers=f.staff, json={"instalments": many[:150]}
    )
    assert "reconcile" in problem(response, 422)["detail"]


async def test_dates_are_text_and_flags_are_true_or_false(stack: Stack) -> None:
    f = await new_funder(stack)
    base = {
        "partner_id": f.partner["id"],
        "title": "Core funding",
        "description": "Unrestricted.",
        "amount_awarded": 100000,
        "planned_end_date": "2033-03-31",
    }
    for day in (0, 1700000000, True):
        response = await stack.funding.post(
            "/api/v1/grants", headers=f.staff, json={**base, "planned_start_date": day}
        )
        assert "planned_start_date" in problem(response, 422)["errors"]
    for flag in (0, 1, "true", "yes"):
        response = await stack.funding.put(
            "/api/v1/funder-settings", headers=f.staff, json={"publish_360giving": flag}
        )
        assert "publish_360giving" in problem(response, 422)["errors"]
    # The same body with real JSON types is taken, as react-admin sends it.
    response = await stack.funding.put(
        "/api/v1/funder-settings", headers=f.staff, json={"publish_360giving": False}
    )
    assert response.status_code == 200, response.text


async def test_filters_beyond_what_the_database_holds_are_400(stack: Stack) -> None:
    f = await new_funder(stack)
    for url, service in (
        ("/api/v1/grants", stack.funding),
        ("/api/v1/instalments", stack.funding),
        ("/api/v1/payments", stack.funding),
        ("/api/v1/documents", stack.partners),
    ):
        for year in ("18446744073709551615", "-1", "true", '"abc"'):
            response = await service.get(
                url, headers=f.staff, params={"filter": f'{{"year":{year}}}'}
            )
            problem(response, 400)
    response = await stack.funding.get(
        "/api/v1/grants", headers=f.staff, params={"filter": '{"year":2030}'}
    )
    assert response.status_code == 200


async def test_null_for_a_required_field_is_422(stack: Stack) -> None:
    f = await new_funder(stack)
    partner_url = f"/api/v1/partners/{f.partner['id']}"
    response = await stack.partners.put(partner_url, headers=f.staff, json={"name": None})
    assert "name" in problem(response, 422)["errors"]
    funder_url = f"/api/v1/funders/{f.id}"
    response = await stack.partners.put(
        funder_url, headers=stack.tokens.admin(), json={"name": None}
    )
    assert "name" in problem(response, 422)["errors"]
    grant = await f.propose()
    response = await stack.funding.put(
        f"/api/v1/grants/{grant['id']}", headers=f.staff, json={"title": None}
    )
    assert "title" in problem(response, 422)["errors"]
    # A field that may be empty still takes null (react-admin sends the record back whole).
    record = (await stack.partners.get(partner_url, headers=f.staff)).json()
    response = await stack.partners.put(
        partner_url, headers=f.staff, json={**record, "region": None, "description": None}
    )
    assert response.status_code == 200, response.text
    # The documents say so: only nullable fields accept null.
    schemas = stack.apps["partners"].openapi()["components"]["schemas"]
    update = schemas["PartnerUpdate"]["properties"]
    assert update["name"].get("type") == "string" and "anyOf" not in update["name"]
    assert {"type": "null"} in update["region"]["anyOf"]


async def test_bodies_over_the_limit_are_413_at_every_service(stack: Stack) -> None:
    f = await new_funder(stack)
    big = orjson.dumps({"name": "x" * (1024 * 1024)})
    for service, url in (
        (stack.partners, "/api/v1/partners"),
        (stack.funding, "/api/v1/grants"),
        (stack.feedback, "/api/v1/commitments"),
    ):
        headers = {**f.staff, "Content-Type": "application/json"}
        body = problem(await service.post(url, headers=headers, content=big), 413)
        assert body["limit"] == 1024 * 1024

        async def chunks() -> Any:
            for start in range(0, len(big), 65536):
                yield big[start : start + 65536]

        # Streamed without a length: refused once the limit is passed, all the same.
        problem(await service.post(url, headers=headers, content=chunks()), 413)


async def test_malformed_json_and_long_urls_are_problems(stack: Stack) -> None:
    f = await new_funder(stack)
    response = await stack.funding.post(
        "/api/v1/grants",
        headers={**f.staff, "Content-Type": "application/json"},
        content=b'{"title": ',
    )
    assert "body" in problem(response, 422)["errors"]
    ids = ",".join(f'"{uuid.uuid4()}"' for _ in range(300))
    response = await stack.funding.get(
        "/api/v1/grants", headers=f.staff, params={"filter": f'{{"id":[{ids}]}}'}
    )
    problem(response, 414)


async def test_round_comments_answers_only_documented_statuses(stack: Stack) -> None:
    f = await new_funder(stack)
    response = await stack.feedback.post(
        "/api/v1/rounds",
        headers=f.staff,
        json={"title": "Spring", "opens_on": "2030-01-01", "closes_on": "2030-02-01"},
    )
    assert response.status_code == 201, response.text
    response = await stack.feedback.get(
        f"/api/v1/rounds/{response.json()['id']}/comments", headers=f.staff
    )
    problem(response, 409)
    operation = stack.apps["feedback"].openapi()["paths"]["/api/v1/rounds/{round_id}/comments"]
    assert "409" in operation["get"]["responses"]
