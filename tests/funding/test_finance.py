"""Financial years, budgets, the forecast (computed by the database, equal to a sum done
another way), and the staff approval limit."""

import csv
import io
from collections import defaultdict
from datetime import date
from typing import Any

from tests.funding.helpers import Funder, new_funder
from tests.support import Stack


def finance(f: Funder, sub: str = "finance@funder.test", *roles: str) -> dict[str, str]:
    token = f.stack.tokens.issuer.mint(
        sub=sub,
        roles=["funder_staff", "finance", *roles],
        client_id="trellis-cli",
        funder_id=f.id,
    )
    return f.stack.tokens.headers(token)


def trustee(f: Funder) -> dict[str, str]:
    token = f.stack.tokens.issuer.mint(
        sub="chair@funder.test",
        roles=["funder_staff", "trustee"],
        client_id="trellis-cli",
        funder_id=f.id,
    )
    return f.stack.tokens.headers(token)


async def set_settings(f: Funder, **body: Any) -> Any:
    current = await f.stack.funding.get("/api/v1/finance-settings", headers=f.staff)
    return await f.stack.funding.put(
        "/api/v1/finance-settings",
        headers={**finance(f), "If-Match": current.headers["ETag"]},
        json={"year_start_month": 4, **body},
    )


def fy(day: str, start_month: int = 4) -> int:
    d = date.fromisoformat(day)
    return d.year - (1 if d.month < start_month else 0)


async def test_only_finance_sets_the_year_and_the_limit(stack: Stack) -> None:
    f = await new_funder(stack)
    response = await stack.funding.get("/api/v1/finance-settings", headers=f.staff)
    assert response.json()["year_start_month"] == 4
    response = await stack.funding.put(
        "/api/v1/finance-settings",
        headers=f.staff,
        json={"year_start_month": 1, "approval_limit": 10**12, "approval_limit_currency": "GBP"},
    )
    assert response.status_code == 403
    assert "finance role" in response.json()["message"]
    response = await set_settings(f, year_start_month=1)
    assert response.status_code == 200, response.text
    assert response.json()["year_start_month"] == 1
    response = await set_settings(f, year_start_month=13)
    assert response.status_code == 422


async def test_budgets_are_set_by_finance_and_private_to_the_funder(stack: Stack) -> None:
    f = await new_funder(stack)
    other = await new_funder(stack)
    body = {"financial_year": 2030, "amount": 10_000_000_00}
    response = await stack.funding.post("/api/v1/budgets", headers=f.staff, json=body)
    assert response.status_code == 403
    response = await stack.funding.post("/api/v1/budgets", headers=finance(f), json=body)
    assert response.status_code == 201, response.text
    budget = response.json()
    again = await stack.funding.post("/api/v1/budgets", headers=finance(f), json=body)
    assert again.status_code == 409
    response = await stack.funding.get(f"/api/v1/budgets/{budget['id']}", headers=other.staff)
    assert response.status_code == 404
    listed = await stack.funding.get("/api/v1/budgets", headers=f.staff)
    assert [b["id"] for b in listed.json()] == [budget["id"]]
    assert listed.headers["Content-Range"] == "budgets 0-0/1"
    assert (await stack.funding.get("/api/v1/budgets", headers=other.staff)).json() == []
    response = await stack.funding.get("/api/v1/budgets", headers=f.partner_headers)
    assert response.status_code == 403


async def _book(f: Funder) -> dict[str, Any]:
    """A year's worth of money in every state, across financial years."""
    stack = f.stack
    a = await f.awarded(reference="A")  # 2030-04-01..2033-03-31, 3 x 30,000.00
    first = (await f.schedule(a))["instalments"][0]
    assert (await f.pay(first["id"])).status_code == 201
    b = await f.awarded(
        reference="B",
        amount_awarded=1000001,
        planned_start_date="2030-02-01",
        planned_end_date="2031-01-31",
        payment_frequency="quarterly",
    )
    c = await f.propose(
        reference="C",
        amount_awarded=3600001,
        planned_start_date="2031-01-15",
        planned_end_date="2033-01-14",
        payment_frequency="monthly",
    )
    gone = await f.propose(reference="D")
    response = await stack.funding.post(
        f"/api/v1/grants/{gone['id']}/withdraw", headers=f.staff, json={"reason": "not now"}
    )
    assert response.status_code == 200, response.text
    for year, amount in ((2030, 5_000_000), (2031, 4_000_000)):
        response = await stack.funding.post(
            "/api/v1/budgets",
            headers=finance(f),
            json={"financial_year": year, "amount": amount},
        )
        assert response.status_code == 201
    return {"awarded": [a, b], "proposed": [c]}


async def _by_hand(f: Funder, book: dict[str, Any], start_month: int = 4) -> dict[Any, Any]:
    """The same sums from the API's own lists, added up here."""
    sums: dict[Any, dict[str, int]] = defaultdict(lambda: {"committed": 0, "paid": 0})
    for grant in book["awarded"]:
        for line in (await f.schedule(grant))["instalments"]:
            if line["status"] == "scheduled":
                sums[fy(line["due_date"], start_month)]["committed"] += line["amount"]
    payments = (await f.stack.funding.get("/api/v1/payments", headers=f.staff)).json()
    for payment in payments:
        sums[fy(payment["paid_on"], start_month)]["paid"] += payment["amount"]
    return sums


async def test_the_forecast_equals_the_sum_done_another_way(stack: Stack) -> None:
    f = await new_funder(stack)
    book = await _book(f)
    hand = await _by_hand(f, book)
    # Pipeline by hand: the monthly plan of C is 24 instalments from 2031-01-15.
    c_lines = [3600001 // 24 + 3600001 % 24] + [3600001 // 24] * 23
    c_dates = [date(2031 + (m // 12), m % 12 + 1, 15) for m in range(24)]
    pipeline: dict[int, int] = defaultdict(int)
    for day, amount in zip(c_dates, c_lines, strict=True):
        pipeline[fy(day.isoformat())] += amount
    first_year, last_year = date.today().year - 1, 2033
    response = await stack.funding.get(
        "/api/v1/forecast",
        headers=f.staff,
        params={"from_year": first_year, "to_year": last_year},
    )
    assert response.status_code == 200, response.text
    years = {y["financial_year"]: y for y in response.json()["years"]}
    for year in range(first_year, last_year + 1):
        got = years.get(year, {"committed": 0, "paid": 0, "pipeline": 0})
        assert got["committed"] == hand[year]["committed"], year
        assert got["paid"] == hand[year]["paid"], year
        assert got["pipeline"] == pipeline[year], year
    assert years[2030]["budget"] == 5_000_000
    assert years[2030]["label"] == "2030-31"
    assert years[2030]["starts_on"] == "2030-04-01"
    assert years[2030]["ends_on"] == "2031-03-31"
    assert years[2030]["headroom"] == 5_000_000 - (
        years[2030]["committed"] + years[2030]["paid"] + years[2030]["pipeline"]
    )
    # Every grouping adds up to the years.
    for group_by in ("partner", "pool", "currency", "month"):
        response = await stack.funding.get(
            "/api/v1/forecast",
            headers=f.staff,
            params={"from_year": first_year, "to_year": last_year, "group_by": group_by},
        )
        assert response.status_code == 200, response.text
        rows = response.json()["rows"]
        for year, totals in years.items():
            for measure in ("committed", "paid", "pipeline"):
                summed = sum(r[measure] for r in rows if r["financial_year"] == year)
                assert summed == totals[measure], (group_by, year, measure)
        if group_by == "partner":
            assert {r["key"] for r in rows} == {f.partner["id"]}
        if group_by == "month":
            months = {r["key"]: r for r in rows}
            assert months["2030-05"]["committed"] == 250000  # B pays quarterly: 2030-05-01
            assert months["2031-01"]["pipeline"] == c_lines[0]


async def test_the_financial_year_start_moves_the_sums(stack: Stack) -> None:
    f = await new_funder(stack)
    book = await _book(f)
    assert (await set_settings(f, year_start_month=1)).status_code == 200
    hand = await _by_hand(f, book, start_month=1)
    response = await stack.funding.get(
        "/api/v1/forecast", headers=f.staff, params={"from_year": 2030, "to_year": 2033}
    )
    years = {y["financial_year"]: y for y in response.json()["years"]}
    assert years[2030]["label"] == "2030"
    for year in (2030, 2031, 2032):
        assert years[year]["committed"] == hand[year]["committed"]


async def test_the_forecast_csv_is_the_same_rows(stack: Stack) -> None:
    f = await new_funder(stack)
    await _book(f)
    params = {"from_year": 2029, "to_year": 2033, "group_by": "month"}
    data = (await stack.funding.get("/api/v1/forecast", headers=f.staff, params=params)).json()
    response = await stack.funding.get("/api/v1/forecast.csv", headers=f.staff, params=params)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [(r["month"], int(r["committed"]), int(r["pipeline"])) for r in rows] == [
        (r["key"], r["committed"], r["pipeline"]) for r in data["rows"]
    ]


async def test_the_forecast_is_the_funders_own(stack: Stack) -> None:
    f = await new_funder(stack)
    other = await new_funder(stack)
    await _book(f)
    params = {"from_year": 2029, "to_year": 2033}
    response = await stack.funding.get("/api/v1/forecast", headers=other.staff, params=params)
    assert response.json()["years"] == []
    response = await stack.funding.get("/api/v1/forecast", headers=f.partner_headers, params=params)
    assert response.status_code == 403
    response = await stack.funding.get(
        "/api/v1/forecast", headers=f.staff, params={"from_year": 2030, "to_year": 2029}
    )
    assert response.status_code == 422


async def test_above_the_approval_limit_a_trustee_approves(stack: Stack) -> None:
    f = await new_funder(stack)
    response = await set_settings(f, approval_limit=5_000_000, approval_limit_currency="GBP")
    assert response.status_code == 200, response.text
    small = await f.propose(amount_awarded=5_000_000, reference="S")
    await f.approve(small)
    large = await f.propose(amount_awarded=5_000_001, reference="L")
    decision = {"decided_on": "2030-03-01", "decided_by": "Board", "reference": "TM-1"}
    url = f"/api/v1/grants/{large['id']}/approve"
    response = await stack.funding.post(url, headers=f.staff, json=decision)
    assert response.status_code == 403
    assert "trustee" in response.json()["message"]
    assert "£50,000.00" in response.json()["message"]
    euros = await f.propose(amount_awarded=100, currency="EUR", reference="E")
    response = await stack.funding.post(
        f"/api/v1/grants/{euros['id']}/approve", headers=f.staff, json=decision
    )
    assert response.status_code == 403
    response = await stack.funding.post(url, headers=trustee(f), json=decision)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "approved"


async def test_trustee_papers_list_what_awaits_a_decision_with_its_money_by_year(
    stack: Stack,
) -> None:
    f = await new_funder(stack)
    other = await new_funder(stack)
    await f.awarded(reference="DONE")
    first = await f.propose(reference="P1", amount_awarded=300)  # 2030-04-01..2033-03-31
    second = await f.propose(
        reference="P2",
        amount_awarded=1001,
        planned_start_date="2031-01-01",
        planned_end_date="2031-12-31",
        payment_frequency="quarterly",
    )
    await other.propose(reference="THEIRS")
    response = await stack.funding.get("/api/v1/trustee-papers", headers=f.staff)
    assert response.status_code == 200, response.text
    papers = response.json()
    assert [p["grant_id"] for p in papers["proposals"]] == [first["id"], second["id"]]
    years = {y["label"]: y["amount"] for y in papers["totals_by_year"]}
    # P1: 100 a year from April 2030; P2: 251 in Jan 2031 (FY 2030-31), then 250 x 3.
    assert years == {"2030-31": 100 + 251, "2031-32": 100 + 750, "2032-33": 100}
    assert sum(years.values()) == 300 + 1001
    statuses = {s["status"]: s for s in papers["totals_by_status"]}
    assert statuses["proposed"]["count"] == 2 and statuses["proposed"]["amount"] == 1301
    assert statuses["approved"]["count"] == 1
    response = await stack.funding.get("/api/v1/trustee-papers.csv", headers=f.staff)
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [r["reference"] for r in rows if r["section"] == "proposal"] == ["P1", "P2"]
    assert "THEIRS" not in response.text
    response = await stack.funding.get("/api/v1/trustee-papers", headers=f.partner_headers)
    assert response.status_code == 403


async def test_the_forecast_and_papers_by_region_add_up_the_partners_by_their_region(
    stack: Stack,
) -> None:
    """Region is the partner's, held by the partners service: partners of one region add up,
    a partner with none is null, and the papers total the proposals by region too."""
    f = await new_funder(stack, region="North East")
    north = await stack.new_partner(f.id, region="North East")
    york = await stack.new_partner(f.id, region="Yorkshire")
    nowhere = await stack.new_partner(f.id)
    await f.awarded(reference="NE1", amount_awarded=300)
    await f.awarded(reference="NE2", partner_id=north["id"], amount_awarded=600)
    await f.awarded(reference="Y1", partner_id=york["id"], amount_awarded=900)
    await f.propose(reference="Y2", partner_id=york["id"], amount_awarded=1200)
    await f.propose(reference="N1", partner_id=nowhere["id"], amount_awarded=30)
    params = {"from_year": 2030, "to_year": 2032}
    by_partner = await stack.funding.get(
        "/api/v1/forecast", headers=f.staff, params={**params, "group_by": "partner"}
    )
    by_region = await stack.funding.get(
        "/api/v1/forecast", headers=f.staff, params={**params, "group_by": "region"}
    )
    assert by_region.status_code == 200, by_region.text
    region_of = {f.partner["id"]: "North East", north["id"]: "North East", york["id"]: "Yorkshire"}
    expected: dict[Any, dict[str, int]] = defaultdict(lambda: {"committed": 0, "pipeline": 0})
    for row in by_partner.json()["rows"]:
        key = (row["financial_year"], region_of.get(row["key"]))
        for measure in ("committed", "pipeline"):
            expected[key][measure] += row[measure]
    got = {
        (r["financial_year"], r["key"]): {"committed": r["committed"], "pipeline": r["pipeline"]}
        for r in by_region.json()["rows"]
    }
    assert got == dict(expected)
    assert got[(2030, "North East")] == {"committed": 100 + 200, "pipeline": 0}
    assert got[(2031, "Yorkshire")] == {"committed": 300, "pipeline": 400}
    assert got[(2030, None)] == {"committed": 0, "pipeline": 10}
    csv_rows = list(
        csv.DictReader(
            io.StringIO(
                (
                    await stack.funding.get(
                        "/api/v1/forecast.csv",
                        headers=f.staff,
                        params={**params, "group_by": "region"},
                    )
                ).text
            )
        )
    )
    assert {r["region"] for r in csv_rows} == {"North East", "Yorkshire", ""}

    papers = (await stack.funding.get("/api/v1/trustee-papers", headers=f.staff)).json()
    assert {p["reference"]: p["region"] for p in papers["proposals"]} == {
        "Y2": "Yorkshire",
        "N1": None,
    }
    assert {(r["region"], r["count"], r["amount"]) for r in papers["totals_by_region"]} == {
        ("Yorkshire", 1, 1200),
        (None, 1, 30),
    }
    text = (await stack.funding.get("/api/v1/trustee-papers.csv", headers=f.staff)).text
    regions = [r for r in csv.DictReader(io.StringIO(text)) if r["section"] == "region"]
    assert {(r["region"], r["amount"]) for r in regions} == {("Yorkshire", "1200"), ("", "30")}
