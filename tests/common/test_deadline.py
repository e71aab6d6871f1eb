"""Deadlines in a service: past the budget its caller gave, nothing is kept."""

import asyncio

import httpx
import respx
from sqlalchemy import func, select

from services.common.models import AuditEntry, IdempotencyRecord


async def _notes(app) -> int:
    async with app.state.db.sessionmaker() as session:
        return await session.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.entity_type == "note")
        )


async def test_a_write_that_outlives_its_budget_is_not_kept(kit) -> None:
    app, client, tokens = kit
    headers = {**tokens.admin(), "X-Request-Timeout-Ms": "100", "Idempotency-Key": "late-1"}
    response = await client.post("/api/v1/notes", json={"text": "slow:0.3"}, headers=headers)
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"].endswith("/deadline-exceeded")
    assert body["service"] == "partners"  # the kit app runs with the partners settings
    assert await _notes(app) == 0
    # The key was freed with the rollback: the retry runs (no 409 for minutes).
    async with app.state.db.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(IdempotencyRecord)) == 0
    retry = await client.post(
        "/api/v1/notes",
        json={"text": "slow:0.3"},
        headers={**headers, "X-Request-Timeout-Ms": "5000"},
    )
    assert retry.status_code == 201, retry.text
    assert await _notes(app) == 1


async def test_a_write_within_its_budget_is_kept(kit) -> None:
    app, client, tokens = kit
    headers = {**tokens.admin(), "X-Request-Timeout-Ms": "5000"}
    response = await client.post("/api/v1/notes", json={"text": "slow:0.05"}, headers=headers)
    assert response.status_code == 201, response.text
    assert await _notes(app) == 1


async def test_no_header_means_no_deadline_and_nonsense_is_ignored(kit) -> None:
    app, client, tokens = kit
    for value in (None, "soon", "-5x"):
        headers = tokens.admin() | ({"X-Request-Timeout-Ms": value} if value else {})
        response = await client.post("/api/v1/notes", json={"text": "slow:0.01"}, headers=headers)
        assert response.status_code == 201, (value, response.text)
    assert await _notes(app) == 3


async def test_calls_to_other_services_pass_on_less_than_is_left(stack) -> None:
    """funding asks partners with a budget below its own, so partners gives up first."""
    funder = await stack.new_funder()
    partner = await stack.new_partner(funder["id"])
    seen: list[float] = []
    partners = stack.apps["funding"].state.services["partners"]
    real_http = partners.http

    async def slow_partners(request: httpx.Request) -> httpx.Response:
        # A partners service that never answers: the client's read timeout ends the call.
        seen.append(int(request.headers["x-request-timeout-ms"]) / 1000)
        await asyncio.sleep(request.extensions["timeout"]["read"])
        raise httpx.ReadTimeout("no answer", request=request)

    with respx.mock(assert_all_called=False) as mock:
        mock.route(host="partners.test").mock(side_effect=slow_partners)
        async with httpx.AsyncClient() as http:
            partners.http = http
            try:
                started = asyncio.get_running_loop().time()
                response = await stack.funding.post(
                    "/api/v1/grants",
                    headers={**stack.tokens.staff(funder["id"]), "X-Request-Timeout-Ms": "3000"},
                    json={
                        "partner_id": partner["id"],
                        "title": "Core",
                        "description": "Core funding",
                        "amount_awarded": 100,
                        "planned_start_date": "2030-01-01",
                        "planned_end_date": "2032-12-31",
                    },
                )
                took = asyncio.get_running_loop().time() - started
            finally:
                partners.http = real_http
    assert response.status_code == 503, response.text
    assert response.json()["service"] == "partners"  # the slow one is named
    assert "partners service did not answer in time" in response.json()["detail"]
    assert took < 3.0  # funding answered before its own caller gave up
    assert seen and 0 < seen[0] < 2.9  # partners was given less than funding had
    listed = await stack.funding.get("/api/v1/grants", headers=stack.tokens.staff(funder["id"]))
    assert listed.json() == []
