"""Payment runs: two people for every run, no instalment twice (under concurrency), paid in
one transaction with the same events as single payments, idempotently; CSV reconciles."""

import asyncio
import csv
import io
import uuid
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
import sepaxml
import xmlschema
from sqlalchemy import update

from services.common.db import utcnow
from services.partners.bank.models import BankAccount
from tests.funding.helpers import Funder, events, new_funder
from tests.funding.test_finance import finance
from tests.support import Stack

TODAY = date.today().isoformat()
SEPAXML_SCHEMAS = Path(sepaxml.__file__).parent / "schemas"


async def _due_book(f: Funder) -> list[dict[str, Any]]:
    """Two awarded grants with overdue instalments, and one paid already."""
    a = await f.awarded(
        reference="R-A",
        amount_awarded=300001,
        planned_start_date="2024-01-01",
        planned_end_date="2026-12-31",
    )
    b = await f.awarded(
        reference="R-B",
        amount_awarded=120000,
        planned_start_date="2025-01-01",
        planned_end_date="2025-12-31",
        payment_frequency="quarterly",
    )
    paid = (await f.schedule(a))["instalments"][0]
    assert (await f.pay(paid["id"])).status_code == 201
    await f.propose(reference="R-P", planned_start_date="2024-01-01", planned_end_date="2026-12-31")
    due = []
    for grant in (a, b):
        due += [i for i in (await f.schedule(grant))["instalments"] if i["status"] == "scheduled"]
    return [i for i in due if i["due_date"] <= TODAY]


async def _prepare(f: Funder, headers: dict[str, str], **body: Any) -> Any:
    return await f.stack.funding.post(
        "/api/v1/payment-runs",
        headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
        json={"due_by": TODAY, **body},
    )


async def test_a_run_takes_what_is_due_and_needs_two_people(stack: Stack) -> None:
    f = await new_funder(stack)
    due = await _due_book(f)
    assert (await _prepare(f, f.staff)).status_code == 403
    response = await _prepare(f, finance(f, "alice@funder.test"))
    assert response.status_code == 201, response.text
    run = response.json()
    assert sorted(i["instalment_id"] for i in run["items"]) == sorted(i["id"] for i in due)
    assert run["total"] == sum(i["amount"] for i in due)
    assert run["payment_count"] == len(due) == 2 + 4
    url = f"/api/v1/payment-runs/{run['id']}"
    response = await stack.funding.post(f"{url}/approve", headers=finance(f, "alice@funder.test"))
    assert response.status_code == 403
    assert "two people" in response.json()["message"]
    assert (await stack.funding.post(f"{url}/approve", headers=f.staff)).status_code == 403
    response = await stack.funding.get(f"{url}/payments.csv", headers=f.staff)
    assert response.status_code == 409
    response = await stack.funding.post(f"{url}/approve", headers=finance(f, "bob@funder.test"))
    assert response.status_code == 200, response.text
    assert response.json()["approved_by"] == "bob@funder.test"
    again = await stack.funding.post(f"{url}/approve", headers=finance(f, "carol@funder.test"))
    assert again.status_code == 409
    response = await stack.funding.get(f"{url}/payments.csv", headers=f.staff)
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert sum(int(r["amount_minor_units"]) for r in rows) == run["total"]
    assert {r["instalment_id"] for r in rows} == {i["id"] for i in due}


async def test_an_instalment_in_a_run_is_not_paid_on_its_own_or_in_another_run(
    stack: Stack,
) -> None:
    f = await new_funder(stack)
    due = await _due_book(f)
    run = (await _prepare(f, finance(f))).json()
    response = await f.pay(due[0]["id"])
    assert response.status_code == 409
    assert run["id"] in response.json()["message"]
    response = await _prepare(f, finance(f, "bob@funder.test"))
    assert response.status_code == 422
    assert "Nothing to pay" in response.json()["message"]
    response = await stack.funding.post(
        f"/api/v1/payment-runs/{run['id']}/cancel", headers=finance(f, "bob@funder.test")
    )
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    response = await _prepare(f, finance(f, "bob@funder.test"))
    assert response.status_code == 201
    assert response.json()["payment_count"] == len(due)


async def test_marking_paid_records_every_payment_once_with_their_events(stack: Stack) -> None:
    f = await new_funder(stack)
    due = await _due_book(f)
    run = (await _prepare(f, finance(f, "alice@funder.test"))).json()
    url = f"/api/v1/payment-runs/{run['id']}"
    body = {"paid_on": TODAY, "reference": "BACS-77"}
    response = await stack.funding.post(
        f"{url}/paid", headers=finance(f, "bob@funder.test"), json=body
    )
    assert response.status_code == 409  # not approved yet
    await stack.funding.post(f"{url}/approve", headers=finance(f, "bob@funder.test"))
    before = len((await stack.funding.get("/api/v1/payments", headers=f.staff)).json())
    answers = await asyncio.gather(
        *(
            stack.funding.post(f"{url}/paid", headers=finance(f, "alice@funder.test"), json=body)
            for _ in range(3)
        )
    )
    assert [a.status_code for a in answers] == [200, 200, 200], [a.text for a in answers]
    assert all(a.json()["status"] == "paid" for a in answers)
    payments = (
        await stack.funding.get("/api/v1/payments", headers=f.staff, params={"range": "[0,99]"})
    ).json()
    assert len(payments) == before + len(due)
    mine = [p for p in payments if p["reference"] == "BACS-77"]
    assert sorted(p["instalment_id"] for p in mine) == sorted(i["id"] for i in due)
    assert sum(p["amount"] for p in mine) == run["total"]
    for instalment in due:
        assert len(await events(stack, "instalment.paid", instalment_id=instalment["id"])) == 1
    assert (await _prepare(f, finance(f))).status_code == 422  # nothing left to pay


async def test_concurrent_runs_never_take_an_instalment_twice(stack: Stack) -> None:
    f = await new_funder(stack)
    due = await _due_book(f)
    answers = await asyncio.gather(
        *(_prepare(f, finance(f, f"person{n}@funder.test")) for n in range(4))
    )
    made = [a.json() for a in answers if a.status_code == 201]
    assert all(a.status_code in (201, 422) for a in answers), [a.text for a in answers]
    taken = [i["instalment_id"] for run in made for i in run["items"]]
    assert len(taken) == len(set(taken))
    assert sorted(taken) == sorted(i["id"] for i in due)


async def test_a_run_is_the_funders_own(stack: Stack) -> None:
    f = await new_funder(stack)
    other = await new_funder(stack)
    await _due_book(f)
    run = (await _prepare(f, finance(f))).json()
    url = f"/api/v1/payment-runs/{run['id']}"
    assert (await stack.funding.get(url, headers=other.staff)).status_code == 404
    response = await stack.funding.post(f"{url}/approve", headers=finance(other))
    assert response.status_code == 404
    assert (await stack.funding.get(url, headers=f.partner_headers)).status_code == 403
    listed = await stack.funding.get("/api/v1/payment-runs", headers=other.staff)
    assert listed.json() == []


async def _confirmed_account(f: Funder, iban: str = "GB33BUKB20201555555555") -> None:
    stack = f.stack
    url = f"/api/v1/partners/{f.partner['id']}/bank-accounts"
    account = await stack.partners.post(
        url,
        headers=f.partner_headers,
        json={"account_name": "Riverside Youth Trust", "iban": iban},
    )
    assert account.status_code == 201, account.text
    db = stack.apps["partners"].state.db
    async with db.sessionmaker() as session:
        await session.execute(
            update(BankAccount)
            .where(BankAccount.id == uuid.UUID(account.json()["id"]))
            .values(held_until=utcnow() - timedelta(minutes=1))
        )
        await session.commit()
    response = await stack.partners.post(
        f"{url}/{account.json()['id']}/confirm", headers=finance(f), json={"note": "called them"}
    )
    assert response.status_code == 200, response.text


async def test_the_pain_001_file_is_valid_and_its_control_sum_is_the_run(stack: Stack) -> None:
    f = await new_funder(stack)
    await _due_book(f)
    run = (await _prepare(f, finance(f, "alice@funder.test"))).json()
    url = f"/api/v1/payment-runs/{run['id']}"
    await stack.funding.post(f"{url}/approve", headers=finance(f, "bob@funder.test"))
    response = await stack.funding.get(f"{url}/pain.001.xml", headers=f.staff)
    assert response.status_code == 409
    assert "debtor_iban" in response.json()["message"]
    await set_settings_debtor(f)
    response = await stack.funding.get(f"{url}/pain.001.xml", headers=f.staff)
    assert response.status_code == 409
    assert f.partner["id"] in response.json()["message"]  # no confirmed account yet
    await _confirmed_account(f)
    response = await stack.funding.get(f"{url}/pain.001.xml", headers=f.staff)
    assert response.status_code == 200, response.text
    schema = xmlschema.XMLSchema(SEPAXML_SCHEMAS / "pain.001.001.03.xsd")
    schema.validate(response.content)
    tree = ElementTree.fromstring(response.content)
    ns = {"p": "urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"}
    control = tree.find("p:CstmrCdtTrfInitn/p:GrpHdr/p:CtrlSum", ns)
    count = tree.find("p:CstmrCdtTrfInitn/p:GrpHdr/p:NbOfTxs", ns)
    assert control is not None and count is not None
    assert Decimal(control.text or "") == Decimal(run["total"]) / 100
    assert int(count.text or "") == run["payment_count"]
    amounts = [
        Decimal(a.text or "") for a in tree.iterfind(".//p:CdtTrfTxInf/p:Amt/p:InstdAmt", ns)
    ]
    assert sum(amounts) * 100 == run["total"]
    assert {a.get("Ccy") for a in tree.iterfind(".//p:InstdAmt", ns)} == {"GBP"}
    assert "GB33BUKB20201555555555" in response.text


async def _run_in(f: Funder, currency: str, amount: int) -> dict[str, Any]:
    """An approved run of one overdue grant in ``currency``, the funder's account set."""
    await f.awarded(
        reference=f"R-{currency}",
        currency=currency,
        amount_awarded=amount,
        planned_start_date="2024-01-01",
        planned_end_date="2026-12-31",
        payment_frequency="quarterly",
    )
    await set_settings_debtor(f)
    run = await _prepare(f, finance(f, "alice@funder.test"), currency=currency)
    assert run.status_code == 201, run.text
    url = f"/api/v1/payment-runs/{run.json()['id']}"
    approved = await f.stack.funding.post(f"{url}/approve", headers=finance(f, "bob@funder.test"))
    assert approved.status_code == 200, approved.text
    return approved.json()


async def set_settings_debtor(f: Funder) -> None:
    current = await f.stack.funding.get("/api/v1/finance-settings", headers=f.staff)
    response = await f.stack.funding.put(
        "/api/v1/finance-settings",
        headers={**finance(f), "If-Match": current.headers["ETag"]},
        json={
            "year_start_month": 4,
            "debtor_name": "Northern Lights Community Trust",
            "debtor_iban": "GB29NWBK60161331926819",
            "debtor_bic": "NWBKGB2L",
        },
    )
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(("currency", "digits"), [("JPY", 0), ("BHD", 3), ("KWD", 3)])
async def test_the_pain_001_file_writes_each_currencys_own_decimal_places(
    stack: Stack, currency: str, digits: int
) -> None:
    """1,000,001 JPY is ``1000001`` in the file (not 10000.01), 1,000.001 BHD is
    ``1000.001``: each amount and each control sum equal the run's minor units exactly."""
    f = await new_funder(stack)
    run = await _run_in(f, currency, 1000001)
    await _confirmed_account(f)
    response = await stack.funding.get(
        f"/api/v1/payment-runs/{run['id']}/pain.001.xml", headers=f.staff
    )
    assert response.status_code == 200, response.text
    xmlschema.XMLSchema(SEPAXML_SCHEMAS / "pain.001.001.03.xsd").validate(response.content)
    tree = ElementTree.fromstring(response.content)
    ns = {"p": "urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"}
    texts = [a.text or "" for a in tree.iterfind(".//p:CdtTrfTxInf/p:Amt/p:InstdAmt", ns)]
    assert texts and all(
        ("." not in t) if digits == 0 else len(t.split(".")[1]) == digits for t in texts
    ), texts
    scale = Decimal(10) ** digits
    assert sum(Decimal(t) * scale for t in texts) == run["total"]
    for control in tree.iterfind(".//p:CtrlSum", ns):
        assert Decimal(control.text or "") * scale == run["total"], control.text
    assert {a.get("Ccy") for a in tree.iterfind(".//p:InstdAmt", ns)} == {currency}


async def test_a_currency_no_bank_pays_in_has_no_bank_file(stack: Stack) -> None:
    f = await new_funder(stack)
    run = await _run_in(f, "CLF", 10000001)
    await _confirmed_account(f)
    response = await stack.funding.get(
        f"/api/v1/payment-runs/{run['id']}/pain.001.xml", headers=f.staff
    )
    assert response.status_code == 409
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "CLF" in response.json()["detail"] and "CSV" in response.json()["detail"]
    csv_file = await stack.funding.get(
        f"/api/v1/payment-runs/{run['id']}/payments.csv", headers=f.staff
    )
    assert csv_file.status_code == 200
