"""Terms and schedules mean what they say: the end date is the term's last day, every
frequency reconciles to the minor unit, currencies are ISO 4217 with their own minor units."""

import csv
import io
from typing import Any

import pytest

from tests.funding.helpers import new_funder
from tests.support import Stack


async def _grant(stack: Stack, f: Any, **fields: Any) -> Any:
    body = {
        "partner_id": f.partner["id"],
        "title": "Core funding",
        "description": "Unrestricted funding for the organisation's work.",
        "amount_awarded": 10000001,
        "planned_start_date": "2025-10-01",
        "planned_end_date": "2028-09-30",
        **fields,
    }
    return await stack.funding.post("/api/v1/grants", headers=f.staff, json=body)


async def test_a_three_year_term_has_three_annual_instalments(stack: Stack) -> None:
    f = await new_funder(stack)
    grant = (await _grant(stack, f)).json()
    await f.approve(grant)
    lines = (await f.schedule(grant))["instalments"]
    assert [i["due_date"] for i in lines] == ["2025-10-01", "2026-10-01", "2027-10-01"]
    assert [i["amount"] for i in lines] == [3333335, 3333333, 3333333]


async def test_an_end_date_on_the_anniversary_is_refused_saying_the_last_day(
    stack: Stack,
) -> None:
    f = await new_funder(stack)
    response = await _grant(stack, f, planned_end_date="2028-10-01")
    assert response.status_code == 422
    problem = response.json()
    assert "2028-09-30" in problem["message"]
    assert "3 years" in problem["message"]
    assert "planned_end_date" in problem["errors"]


@pytest.mark.parametrize(
    ("frequency", "amount", "count"),
    [
        ("monthly", 10000001, 36),
        ("monthly", 35, 36),
        ("quarterly", 10000001, 12),
        ("quarterly", 7, 12),
        ("annual", 2, 3),
        ("annual", 100000000001, 3),
    ],
)
async def test_every_frequency_reconciles_to_the_minor_unit(
    stack: Stack, frequency: str, amount: int, count: int
) -> None:
    f = await new_funder(stack)
    response = await _grant(stack, f, amount_awarded=amount, payment_frequency=frequency)
    assert response.status_code == 201, response.text
    await f.approve(response.json())
    schedule = await f.schedule(response.json())
    lines = schedule["instalments"]
    assert len(lines) == count
    assert sum(i["amount"] for i in lines) == amount
    assert all(i["amount"] >= 0 for i in lines)
    assert lines[0]["due_date"] == "2025-10-01"
    assert lines[-1]["due_date"] <= "2028-09-30"


async def test_a_custom_schedule_is_given_with_the_approval_and_must_reconcile(
    stack: Stack,
) -> None:
    f = await new_funder(stack)
    grant = (await _grant(stack, f, amount_awarded=1000, payment_frequency="custom")).json()
    url = f"/api/v1/grants/{grant['id']}/approve"
    decision = {"decided_on": "2025-09-01", "decided_by": "Board", "reference": "TM-1"}
    response = await stack.funding.post(url, headers=f.staff, json=decision)
    assert response.status_code == 422
    assert "custom" in response.json()["message"]
    uneven = [{"due_date": "2025-10-01", "amount": 600}, {"due_date": "2026-06-01", "amount": 399}]
    response = await stack.funding.post(
        url, headers=f.staff, json={**decision, "instalments": uneven}
    )
    assert response.status_code == 422
    assert "off by £0.01" in response.json()["message"]
    outside = [{"due_date": "2028-10-01", "amount": 1000}]
    response = await stack.funding.post(
        url, headers=f.staff, json={**decision, "instalments": outside}
    )
    assert response.status_code == 422
    assert "within the term" in response.json()["message"]
    good = [{"due_date": "2026-06-01", "amount": 400}, {"due_date": "2025-10-01", "amount": 600}]
    response = await stack.funding.post(
        url, headers=f.staff, json={**decision, "instalments": good}
    )
    assert response.status_code == 200, response.text
    lines = (await f.schedule(grant))["instalments"]
    assert [(i["due_date"], i["amount"]) for i in lines] == [
        ("2025-10-01", 600),
        ("2026-06-01", 400),
    ]


async def test_instalments_are_refused_with_a_regular_frequency(stack: Stack) -> None:
    f = await new_funder(stack)
    grant = (await _grant(stack, f, amount_awarded=1000)).json()
    response = await stack.funding.post(
        f"/api/v1/grants/{grant['id']}/approve",
        headers=f.staff,
        json={
            "decided_on": "2025-09-01",
            "decided_by": "Board",
            "reference": "TM-1",
            "instalments": [{"due_date": "2025-10-01", "amount": 1000}],
        },
    )
    assert response.status_code == 422
    assert "only with payment_frequency 'custom'" in response.json()["message"]


@pytest.mark.parametrize("code", ["XYZ", "XAU", "XTS", "gbp"])
async def test_a_currency_outside_iso_4217_is_refused_clearly(stack: Stack, code: str) -> None:
    f = await new_funder(stack)
    response = await _grant(stack, f, currency=code)
    assert response.status_code == 422
    problem = response.json()
    assert "currency" in problem["errors"]
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_minor_units_follow_the_currency(stack: Stack) -> None:
    f = await new_funder(stack)
    grant = (await _grant(stack, f, currency="JPY", amount_awarded=1000)).json()
    await f.approve(grant)
    response = await stack.funding.get("/api/v1/exports/360giving.csv", headers=f.staff)
    row = next(csv.DictReader(io.StringIO(response.text)))
    assert row["Currency"] == "JPY"
    assert row["Amount Awarded"] == "1000"  # yen have no minor unit
    kwd = (await _grant(stack, f, currency="KWD", amount_awarded=1000, reference="K-1")).json()
    await f.approve(kwd)
    response = await stack.funding.get("/api/v1/exports/360giving", headers=f.staff)
    amounts = {g["currency"]: g["amountAwarded"] for g in response.json()["grants"]}
    assert amounts["KWD"] == 1.0  # 1000 fils


async def test_the_360giving_duration_follows_the_term_rule(stack: Stack) -> None:
    f = await new_funder(stack)
    three = (await _grant(stack, f, reference="T-3")).json()
    five = (await _grant(stack, f, planned_end_date="2030-09-30", reference="T-5")).json()
    three = await f.approve(three)
    five = await f.approve(five)
    package = (await stack.funding.get("/api/v1/exports/360giving", headers=f.staff)).json()
    durations = {g["id"]: g["plannedDates"][0]["duration"] for g in package["grants"]}
    assert durations[three["grant_360_id"]] == 36
    assert durations[five["grant_360_id"]] == 60
