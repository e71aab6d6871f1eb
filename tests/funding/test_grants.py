"""Core grants through the API: no KPIs, lifecycle, schedules, payments, variations, isolation."""

import asyncio
import uuid
from datetime import date, timedelta

import httpx
import pytest

from services.common.http import ServiceClient
from tests.funding.helpers import events, new_funder
from tests.statements import driver_statements
from tests.support import Stack

KPI_FIELDS = [
    "kpis",
    "targets",
    "outcomes",
    "outcome_measures",
    "milestones",
    "indicators",
    "deliverables",
    "restricted",
    "restrictions",
    "conditions",
]


# No KPIs -----------------------------------------------------------------------------------


@pytest.mark.parametrize("field", KPI_FIELDS)
async def test_kpi_fields_are_refused_saying_why(stack: Stack, field: str) -> None:
    f = await new_funder(stack)
    body = {
        "partner_id": f.partner["id"],
        "title": "Core",
        "description": "Core funding",
        "amount_awarded": 100,
        "planned_start_date": "2030-01-01",
        "planned_end_date": "2032-12-31",
        field: ["reach 500 young people"],
    }
    response = await stack.funding.post("/api/v1/grants", headers=f.staff, json=body)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert "Core grants carry no KPIs, targets or restrictions" in problem["message"]
    assert "funds the organisation, not a project" in problem["message"]
    assert field in problem["errors"]
    listed = await stack.funding.get("/api/v1/grants", headers=f.staff)
    assert listed.json() == []


async def test_kpi_fields_are_refused_on_update_and_variations(stack: Stack) -> None:
    f = await new_funder(stack)
    grant = await f.propose()
    response = await stack.funding.put(
        f"/api/v1/grants/{grant['id']}", headers=f.staff, json={"milestones": ["x"]}
    )
    assert response.status_code == 422
    assert "no KPIs" in response.json()["message"]
    grant = await f.approve(grant)
    response = await stack.funding.post(
        f"/api/v1/grants/{grant['id']}/variations",
        headers=f.staff,
        json={
            "kind": "uplift",
            "amount": 100,
            "decided_on": "2031-01-01",
            "decided_by": "Board",
            "reference": "TM-9",
            "conditions": "report quarterly",
        },
    )
    assert response.status_code == 422
    assert "no KPIs" in response.json()["message"]


async def test_other_unknown_fields_are_refused_by_name(stack: Stack) -> None:
    f = await new_funder(stack)
    response = await stack.funding.post(
        "/api/v1/grants",
        headers=f.staff,
        json={
            "partner_id": f.partner["id"],
            "title": "Core",
            "description": "Core funding",
            "amount_awarded": 100,
            "planned_start_date": "2030-01-01",
            "planned_end_date": "2032-12-31",
            "colour": "green",
        },
    )
    assert response.status_code == 422
    assert "colour" in response.json()["errors"]


async def test_term_must_be_one_to_ten_years(stack: Stack) -> None:
    f = await new_funder(stack)
    for end in ("2030-06-30", "2041-01-01"):
        response = await stack.funding.post(
            "/api/v1/grants",
            headers=f.staff,
            json={
                "partner_id": f.partner["id"],
                "title": "Core",
                "description": "Core funding",
                "amount_awarded": 100,
                "planned_start_date": "2030-01-01",
                "planned_end_date": end,
            },
        )
        assert response.status_code == 422, end
        assert "1 to 10 years" in response.json()["message"]


# Partners service ------------------------------------------------------------------------


async def test_partner_must_be_in_relationship_with_the_funder(stack: Stack) -> None:
    f, other = await new_funder(stack), await new_funder(stack)
    response = await stack.funding.post(
        "/api/v1/grants",
        headers=f.staff,
        json={
            "partner_id": other.partner["id"],
            "title": "Core",
            "description": "Core funding",
            "amount_awarded": 100,
            "planned_start_date": "2030-01-01",
            "planned_end_date": "2032-12-31",
        },
    )
    assert response.status_code == 422
    assert "no relationship with this partner" in response.json()["message"]


async def test_partners_service_down_answers_503_and_writes_nothing(stack: Stack) -> None:
    f = await new_funder(stack)
    app = stack.apps["funding"]
    real = app.state.services["partners"]
    async with httpx.AsyncClient(timeout=1.0) as http:
        app.state.services["partners"] = ServiceClient(
            "partners", "http://127.0.0.1:9", http, real.tokens
        )
        try:
            response = await stack.funding.post(
                "/api/v1/grants",
                headers={**f.staff, "Idempotency-Key": "down-1"},
                json={
                    "partner_id": f.partner["id"],
                    "title": "Core",
                    "description": "Core funding",
                    "amount_awarded": 100,
                    "planned_start_date": "2030-01-01",
                    "planned_end_date": "2032-12-31",
                },
            )
        finally:
            app.state.services["partners"] = real
    assert response.status_code == 503
    assert "partners service could not be reached" in response.json()["message"]
    listed = await stack.funding.get("/api/v1/grants", headers=f.staff)
    assert listed.json() == []
    assert listed.headers["content-range"] == "grants */0"


# Lifecycle ---------------------------------------------------------------------------------


async def test_lifecycle_with_decision_and_360giving_id(stack: Stack) -> None:
    f = await new_funder(stack)
    grant = await f.propose(reference="CG 42")
    assert grant["status"] == "proposed"
    assert grant["grant_360_id"] is None
    assert grant["funder_ids"] == [f.id]
    grant = await f.approve(grant, decided_on="2030-03-05", decided_by="Trustees", reference="M7")
    assert grant["status"] == "approved"
    assert grant["grant_360_id"] == f"{f.funder['prefix_360giving']}-CG_42"
    assert grant["approved_on"] == "2030-03-05"
    assert grant["approved_by"] == "Trustees"
    assert grant["decision_reference"] == "M7"
    url = f"/api/v1/grants/{grant['id']}"
    response = await stack.funding.post(f"{url}/activate", headers=f.staff)
    assert response.json()["status"] == "active"
    [approved] = await events(stack, "grant.approved", grant_id=grant["id"])
    assert approved == {
        "grant_id": grant["id"],
        "funder_ids": [f.id],
        "funder_id": f.id,
        "pool_id": None,
        "partner_id": f.partner["id"],
        "title": "Core funding",
        "amount_awarded": 9000000,
        "currency": "GBP",
        "approved_on": "2030-03-05",
        "proposed_on": grant["created_at"][:10],  # days from proposal to decision
        "grant_360_id": grant["grant_360_id"],
    }


async def test_illegal_transitions_are_409_naming_the_state(stack: Stack) -> None:
    f = await new_funder(stack)
    grant = await f.propose()
    url = f"/api/v1/grants/{grant['id']}"
    response = await stack.funding.post(f"{url}/complete", headers=f.staff)
    assert response.status_code == 409
    assert "This grant is proposed" in response.json()["message"]
    assert response.json()["status"] == "proposed"
    await f.approve(grant)
    response = await stack.funding.post(
        f"{url}/approve",
        headers=f.staff,
        json={"decided_on": "2030-03-01", "decided_by": "Board", "reference": "TM-2"},
    )
    assert response.status_code == 409
    assert "This grant is approved" in response.json()["message"]
    response = await stack.funding.post(f"{url}/withdraw", headers=f.staff, json={"reason": "x"})
    assert response.status_code == 200
    response = await stack.funding.post(f"{url}/activate", headers=f.staff)
    assert response.status_code == 409
    assert "withdrawn" in response.json()["message"]
    response = await stack.funding.post(f"{url}/withdraw", headers=f.staff, json={"reason": "y"})
    assert response.status_code == 409


async def test_completion_needs_every_instalment_paid(stack: Stack) -> None:
    f = await new_funder(stack)
    grant = await f.awarded(
        amount_awarded=300, planned_start_date="2020-01-01", planned_end_date="2022-12-31"
    )
    schedule = await f.schedule(grant)
    first, *rest = schedule["instalments"]
    assert (await f.pay(first["id"])).status_code == 201
    url = f"/api/v1/grants/{grant['id']}"
    response = await stack.funding.post(f"{url}/complete", headers=f.staff)
    assert response.status_code == 409
    assert "2 instalments (£2.00) are still unpaid" in response.json()["message"]
    for instalment in rest:
        assert (await f.pay(instalment["id"])).status_code == 201
    response = await stack.funding.post(f"{url}/complete", headers=f.staff)
    assert response.status_code == 200
    assert response.json()["status"] == "completed"
    response = await stack.funding.post(f"{url}/withdraw", headers=f.staff, json={"reason": "x"})
    assert response.status_code == 409
    assert "This grant is completed" in response.json()["message"]


async def test_terms_change_only_while_proposed(stack: Stack) -> None:
    f = await new_funder(stack)
    grant = await f.propose()
    url = f"/api/v1/grants/{grant['id']}"
    response = await stack.funding.put(
        url, headers={**f.staff, "If-Match": '"v1"'}, json={**grant, "amount_awarded": 12000000}
    )
    assert response.status_code == 200, response.text
    assert response.json()["amount_awarded"] == 12000000
    response = await stack.funding.put(
        url, headers={**f.staff, "If-Match": '"v1"'}, json={"title": "stale"}
    )
    assert response.status_code == 412
    await f.approve(response.json() | {"id": grant["id"]})
    response = await stack.funding.put(url, headers=f.staff, json={"amount_awarded": 1})
    assert response.status_code == 409
    assert "Record a variation" in response.json()["message"]
    response = await stack.funding.put(url, headers=f.staff, json={"title": "Core, renamed"})
    assert response.status_code == 200
    assert response.json()["title"] == "Core, renamed"


# Schedules ---------------------------------------------------------------------------------


async def test_awkward_amount_reconciles_to_the_penny(stack: Stack) -> None:
    f = await new_funder(stack)
    grant = await f.awarded(amount_awarded=10000001)  # £100,000.01 over 3 years
    schedule = await f.schedule(grant)
    lines = [(i["due_date"], i["amount"]) for i in schedule["instalments"]]
    assert lines == [
        ("2030-04-01", 3333335),
        ("2031-04-01", 3333333),
        ("2032-04-01", 3333333),
    ]
    assert sum(a for _, a in lines) == 10000001
    assert schedule["amount_unpaid"] == 10000001


async def test_quarterly_schedule_reconciles(stack: Stack) -> None:
    f = await new_funder(stack)
    grant = await f.awarded(amount_awarded=10000001, payment_frequency="quarterly")
    instalments = (await f.schedule(grant))["instalments"]
    assert len(instalments) == 12
    assert sum(i["amount"] for i in instalments) == 10000001
    assert instalments[0]["amount"] == 833338  # 833333 + the 5 remainder pence
    assert {i["amount"] for i in instalments[1:]} == {833333}
    assert [i["due_date"] for i in instalments[:3]] == ["2030-04-01", "2030-07-01", "2030-10-01"]


async def test_schedule_edit_must_reconcile(stack: Stack) -> None:
    f = await new_funder(stack)
    grant = await f.awarded(amount_awarded=10000001)
    url = f"/api/v1/grants/{grant['id']}/schedule"
    response = await stack.funding.put(
        url,
        headers=f.staff,
        json={
            "instalments": [
                {"due_date": "2030-05-01", "amount": 5000000},
                {"due_date": "2031-05-01", "amount": 5000000},
            ]
        },
    )
    assert response.status_code == 422
    problem = response.json()
    assert "off by £0.01" in problem["message"]
    assert problem["off_by"] == -1
    response = await stack.funding.put(
        url,
        headers=f.staff,
        json={
            "instalments": [
                {"due_date": "2030-05-01", "amount": 5000001},
                {"due_date": "2031-05-01", "amount": 5000000},
            ]
        },
    )
    assert response.status_code == 200, response.text
    live = [i for i in response.json()["instalments"] if i["status"] == "scheduled"]
    assert [(i["due_date"], i["amount"]) for i in live] == [
        ("2030-05-01", 5000001),
        ("2031-05-01", 5000000),
    ]
    cancelled = [i for i in response.json()["instalments"] if i["status"] == "cancelled"]
    assert len(cancelled) == 1
    # One instalment alone cannot change its amount: the total would be off.
    response = await stack.funding.put(
        f"/api/v1/instalments/{live[0]['id']}", headers=f.staff, json={"amount": 5000000}
    )
    assert response.status_code == 422
    assert "off by £0.01" in response.json()["message"]
    response = await stack.funding.put(
        f"/api/v1/instalments/{live[0]['id']}", headers=f.staff, json={"due_date": "2030-06-01"}
    )
    assert response.status_code == 200
    assert response.json()["due_date"] == "2030-06-01"


# Payments ----------------------------------------------------------------------------------


async def test_payment_is_idempotent_and_never_double_or_over(stack: Stack) -> None:
    f = await new_funder(stack)
    grant = await f.awarded(amount_awarded=300)
    first = (await f.schedule(grant))["instalments"][0]
    response = await f.pay(first["id"], key="pay-1", reference="BACS-1")
    assert response.status_code == 201, response.text
    payment = response.json()
    assert payment["amount"] == 100
    assert payment["reference"] == "BACS-1"
    retry = await f.pay(first["id"], key="pay-1", reference="BACS-1")
    assert retry.status_code == 201
    assert retry.json() == payment
    assert retry.headers["idempotent-replayed"] == "true"
    reused = await f.pay(first["id"], key="pay-1", reference="BACS-2")
    assert reused.status_code == 422
    twice = await f.pay(first["id"], key="pay-2")
    assert twice.status_code == 409
    assert "already paid" in twice.json()["message"]
    listed = await stack.funding.get(
        "/api/v1/payments", headers=f.staff, params={"filter": f'{{"grant_id":"{grant["id"]}"}}'}
    )
    assert len(listed.json()) == 1
    second = (await f.schedule(grant))["instalments"][1]
    over = await f.pay(second["id"], amount=101)
    assert over.status_code == 422
    assert "over-pay the instalment by £0.01" in over.json()["message"]
    grant_now = await stack.funding.get(f"/api/v1/grants/{grant['id']}", headers=f.staff)
    assert grant_now.json()["status"] == "active"
    [paid] = await events(stack, "instalment.paid", instalment_id=first["id"])
    assert paid["due_date"] == "2030-04-01"
    assert paid["paid_on"] == date.today().isoformat()
    assert paid["amount"] == 100


async def test_payment_of_a_proposed_or_future_payment_is_refused(stack: Stack) -> None:
    f = await new_funder(stack)
    grant = await f.awarded(amount_awarded=300)
    first = (await f.schedule(grant))["instalments"][0]
    future = (date.today() + timedelta(days=3)).isoformat()
    response = await f.pay(first["id"], paid_on=future)
    assert response.status_code == 422
    assert "future" in response.json()["message"]


async def test_withdrawal_cancels_unpaid_instalments(stack: Stack) -> None:
    f = await new_funder(stack)
    grant = await f.awarded(amount_awarded=300)
    first = (await f.schedule(grant))["instalments"][0]
    assert (await f.pay(first["id"])).status_code == 201
    response = await stack.funding.post(
        f"/api/v1/grants/{grant['id']}/withdraw",
        headers=f.staff,
        json={"reason": "The partner closed and merged into another charity."},
    )
    assert response.status_code == 200
    assert response.json()["withdrawal_reason"].startswith("The partner closed")
    statuses = [i["status"] for i in (await f.schedule(grant))["instalments"]]
    assert statuses == ["paid", "cancelled", "cancelled"]
    later = (await f.schedule(grant))["instalments"][1]
    response = await f.pay(later["id"])
    assert response.status_code == 409
    assert "cancelled" in response.json()["message"]
    [withdrawn] = await events(stack, "grant.withdrawn", grant_id=grant["id"])
    assert withdrawn["reason"].startswith("The partner closed")


async def test_overdue_instalments_are_visible_and_announced_once(stack: Stack) -> None:
    f = await new_funder(stack)
    grant = await f.awarded(
        amount_awarded=300, planned_start_date="2020-01-01", planned_end_date="2022-12-31"
    )
    instalments = (await f.schedule(grant))["instalments"]
    assert all(i["overdue"] for i in instalments)
    listed = await stack.funding.get(
        "/api/v1/instalments",
        headers=f.staff,
        params={"filter": f'{{"grant_id":"{grant["id"]}","overdue":true}}'},
    )
    assert len(listed.json()) == 3
    grants = await stack.funding.get(
        "/api/v1/grants", headers=f.staff, params={"filter": '{"overdue":true}'}
    )
    assert [g["id"] for g in grants.json()] == [grant["id"]]
    checker = stack.apps["funding"].state.overdue_checker
    assert await checker.run_once() >= 3
    assert await checker.run_once() == 0
    overdue = await events(stack, "instalment.overdue", grant_id=grant["id"])
    assert sorted(e["due_date"] for e in overdue) == ["2020-01-01", "2021-01-01", "2022-01-01"]
    assert (await f.pay(instalments[0]["id"])).status_code == 201
    listed = await stack.funding.get(
        "/api/v1/instalments",
        headers=f.staff,
        params={"filter": f'{{"grant_id":"{grant["id"]}","overdue":true}}'},
    )
    assert len(listed.json()) == 2
    late = await stack.funding.get(
        "/api/v1/payments", headers=f.staff, params={"filter": '{"overdue":true}'}
    )
    assert [p["late"] for p in late.json()] == [True]


# Variations --------------------------------------------------------------------------------


async def _vary(f, grant, **body):  # type: ignore[no-untyped-def]
    decision = {"decided_on": "2031-02-01", "decided_by": "Board", "reference": "TM-V"}
    return await f.stack.funding.post(
        f"/api/v1/grants/{grant['id']}/variations",
        headers={**f.staff, "Idempotency-Key": uuid.uuid4().hex},
        json={**decision, **body},
    )


async def test_variations_change_the_grant_and_keep_history(stack: Stack) -> None:
    f = await new_funder(stack)
    grant = await f.awarded(amount_awarded=9000000)
    first = (await f.schedule(grant))["instalments"][0]
    assert (await f.pay(first["id"])).status_code == 201

    response = await _vary(f, grant, kind="uplift", amount=1000001, reason="Cost of living")
    assert response.status_code == 201, response.text
    uplift = response.json()
    assert (uplift["amount_before"], uplift["amount_after"]) == (9000000, 10000001)
    schedule = await f.schedule(grant)
    unpaid = [i["amount"] for i in schedule["instalments"] if i["status"] == "scheduled"]
    assert unpaid == [3500001, 3500000]
    assert schedule["amount_paid"] + sum(unpaid) == 10000001

    response = await _vary(f, grant, kind="reduction", amount=3500000)
    assert response.status_code == 201, response.text
    schedule = await f.schedule(grant)
    unpaid = [i["amount"] for i in schedule["instalments"] if i["status"] == "scheduled"]
    assert unpaid == [3500001]

    response = await _vary(f, grant, kind="extension", planned_end_date="2034-03-31")
    assert response.status_code == 201, response.text
    response = await _vary(
        f,
        grant,
        kind="reprofile",
        instalments=[
            {"due_date": "2032-04-01", "amount": 1500001},
            {"due_date": "2033-04-01", "amount": 2000000},
        ],
    )
    assert response.status_code == 201, response.text

    history = (
        await stack.funding.get(f"/api/v1/grants/{grant['id']}/history", headers=f.staff)
    ).json()
    assert history["award"]["amount_awarded"] == 9000000
    assert history["award"]["planned_end_date"] == "2033-03-31"
    assert [v["kind"] for v in history["variations"]] == [
        "uplift",
        "reduction",
        "extension",
        "reprofile",
    ]
    assert history["current"]["amount_awarded"] == 6500001
    assert history["current"]["planned_end_date"] == "2034-03-31"
    assert history["variations"][-1]["schedule_after"] == [
        {"due_date": "2030-04-01", "amount": 3000000, "status": "paid"},
        {"due_date": "2032-04-01", "amount": 1500001, "status": "scheduled"},
        {"due_date": "2033-04-01", "amount": 2000000, "status": "scheduled"},
    ]
    varied = await events(stack, "grant.varied", grant_id=grant["id"])
    assert {v["kind"] for v in varied} == {"uplift", "reduction", "extension", "reprofile"}


async def test_variations_that_do_not_reconcile_are_refused(stack: Stack) -> None:
    f = await new_funder(stack)
    grant = await f.awarded(amount_awarded=300)
    first = (await f.schedule(grant))["instalments"][0]
    assert (await f.pay(first["id"])).status_code == 201
    response = await _vary(f, grant, kind="reduction", amount=201)
    assert response.status_code == 422
    assert "cannot take back" in response.json()["message"]
    response = await _vary(
        f, grant, kind="reprofile", instalments=[{"due_date": "2032-01-01", "amount": 150}]
    )
    assert response.status_code == 422
    assert "off by £0.50" in response.json()["message"]
    response = await _vary(f, grant, kind="extension", planned_end_date="2031-01-01")
    assert response.status_code == 422
    response = await _vary(f, grant, kind="extension", amount=5, planned_end_date="2034-01-01")
    assert response.status_code == 422
    assert "does not take 'amount'" in response.json()["message"]
    proposed = await f.propose()
    response = await _vary(f, proposed, kind="uplift", amount=5)
    assert response.status_code == 409
    assert "This grant is proposed" in response.json()["message"]
    history = (
        await stack.funding.get(f"/api/v1/grants/{grant['id']}/history", headers=f.staff)
    ).json()
    assert history["variations"] == []


# Isolation ---------------------------------------------------------------------------------


async def test_partners_read_their_own_and_funders_only_theirs(stack: Stack) -> None:
    f, other = await new_funder(stack), await new_funder(stack)
    grant = await f.awarded()
    proposed = await f.propose()
    mine = f.partner_headers
    response = await stack.funding.get(f"/api/v1/grants/{grant['id']}", headers=mine)
    assert response.status_code == 200
    listed = await stack.funding.get("/api/v1/grants", headers=mine)
    assert [g["id"] for g in listed.json()] == [grant["id"]]
    assert (
        await stack.funding.get(f"/api/v1/grants/{proposed['id']}", headers=mine)
    ).status_code == 404
    schedule = await f.schedule(grant, headers=mine)
    assert len(schedule["instalments"]) == 3
    instalments = await stack.funding.get("/api/v1/instalments", headers=mine)
    assert len(instalments.json()) == 3
    # read-only
    response = await stack.funding.put(
        f"/api/v1/grants/{grant['id']}", headers=mine, json={"title": "mine now"}
    )
    assert response.status_code == 403
    response = await stack.funding.post(
        "/api/v1/payments",
        headers=mine,
        json={"instalment_id": schedule["instalments"][0]["id"], "paid_on": "2030-01-01"},
    )
    assert response.status_code == 403
    # another partner and another funder see nothing
    theirs = other.partner_headers
    assert (
        await stack.funding.get(f"/api/v1/grants/{grant['id']}", headers=theirs)
    ).status_code == 404
    assert (await stack.funding.get("/api/v1/grants", headers=theirs)).json() == []
    assert (
        await stack.funding.get(f"/api/v1/grants/{grant['id']}", headers=other.staff)
    ).status_code == 404
    assert (await stack.funding.get("/api/v1/grants", headers=other.staff)).json() == []
    instalment_id = schedule["instalments"][0]["id"]
    for headers in (theirs, other.staff):
        response = await stack.funding.get(f"/api/v1/instalments/{instalment_id}", headers=headers)
        assert response.status_code == 404
    response = await other.pay(instalment_id)
    assert response.status_code == 404
    response = await stack.funding.post(
        f"/api/v1/grants/{grant['id']}/withdraw", headers=other.staff, json={"reason": "x"}
    )
    assert response.status_code == 404
    assert (await stack.funding.get("/api/v1/grants")).status_code == 401


async def test_a_grant_read_is_one_query_and_reads_as_it_was_written(
    stack: Stack, backend: str
) -> None:
    """The read-one runs on the driver (one round trip on PostgreSQL: no BEGIN, no COMMIT)
    and answers what the write that made the grant answered, with the same ETag."""
    f = await new_funder(stack)
    grant = await f.propose()
    approved = await stack.funding.post(
        f"/api/v1/grants/{grant['id']}/approve",
        headers=f.staff,
        json={"decided_on": "2030-03-01", "decided_by": "Board", "reference": "TM-1"},
    )
    assert approved.status_code == 200, approved.text
    with driver_statements(stack.apps["funding"].state.db) as sent:
        read = await stack.funding.get(f"/api/v1/grants/{grant['id']}", headers=f.staff)
        await asyncio.sleep(0.05)
    assert read.status_code == 200
    assert read.json() == approved.json()
    assert read.headers["ETag"] == approved.headers["ETag"]
    if backend == "postgres":
        assert sent == ["SELECT"]
    missing = await stack.funding.get(f"/api/v1/grants/{uuid.uuid4()}", headers=f.staff)
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"


# Lists -------------------------------------------------------------------------------------


async def test_grant_lists_filter_sort_and_page_by_cursor(stack: Stack) -> None:
    f = await new_funder(stack)
    second = await stack.new_partner(f.id)
    a = await f.awarded(amount_awarded=500)
    b = await f.approve(
        await f.propose(amount_awarded=300, partner_id=second["id"]),
        decided_on="2031-06-01",
    )
    c = await f.propose(amount_awarded=400)
    get = stack.funding.get
    response = await get(
        "/api/v1/grants", headers=f.staff, params={"sort": '["amount_awarded","ASC"]'}
    )
    assert [g["id"] for g in response.json()] == [b["id"], c["id"], a["id"]]
    assert response.headers["content-range"] == "grants 0-2/3"
    response = await get(
        "/api/v1/grants", headers=f.staff, params={"filter": f'{{"partner_id":"{second["id"]}"}}'}
    )
    assert [g["id"] for g in response.json()] == [b["id"]]
    response = await get("/api/v1/grants", headers=f.staff, params={"filter": '{"year":2031}'})
    assert [g["id"] for g in response.json()] == [b["id"]]
    response = await get(
        "/api/v1/grants", headers=f.staff, params={"filter": '{"status":"proposed"}'}
    )
    assert [g["id"] for g in response.json()] == [c["id"]]
    response = await get(
        "/api/v1/grants", headers=f.staff, params={"filter": f'{{"id":["{a["id"]}","{c["id"]}"]}}'}
    )
    assert {g["id"] for g in response.json()} == {a["id"], c["id"]}
    # keyset paging on the award-date order
    seen = []
    params = {"sort": '["awarded_on","DESC"]', "range": "[0,0]"}
    while True:
        response = await get("/api/v1/grants", headers=f.staff, params=params)
        seen += [g["id"] for g in response.json()]
        cursor = response.headers.get("x-next-cursor")
        if not cursor:
            break
        params = {**params, "cursor": cursor}
    offset = await get("/api/v1/grants", headers=f.staff, params={"sort": '["awarded_on","DESC"]'})
    assert seen == [g["id"] for g in offset.json()]
    assert len(seen) == 3
    response = await get("/api/v1/grants", headers=f.staff, params={"sort": '["kpis","ASC"]'})
    assert response.status_code == 400
