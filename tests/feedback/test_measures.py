"""The funder's own behaviour, measured from funding's and partners' events: idempotent,
and right whatever order the events arrive in."""

import asyncio
import uuid
from datetime import date, datetime, timedelta
from typing import Any

from tests.feedback.support import API, new_funder
from tests.support import Stack


async def _send(stack: Stack, type_: str, data: dict[str, Any], event_id: str | None = None) -> str:
    event_id = event_id or str(uuid.uuid4())
    r = await stack.feedback.post(
        "/internal/events",
        headers=stack.tokens.service("funding"),
        json={
            "id": event_id,
            "type": type_,
            "source": "funding" if type_.startswith("instalment") else "partners",
            "occurred_at": datetime.now().astimezone().isoformat(),
            "data": data,
        },
    )
    assert r.status_code == 200, r.text
    return event_id


def _instalment(funder_id: str, due: date, **extra: Any) -> dict[str, Any]:
    return {
        "instalment_id": str(uuid.uuid4()),
        "grant_id": str(uuid.uuid4()),
        "funder_id": funder_id,
        "partner_id": str(uuid.uuid4()),
        "amount": 2500000,
        "currency": "GBP",
        "due_date": due.isoformat(),
        **extra,
    }


async def _measures(stack: Stack, staff: dict[str, str]) -> dict[str, dict[str, Any]]:
    r = await stack.feedback.get(f"{API}/measures", headers=staff)
    assert r.status_code == 200, r.text
    return {m["id"]: m for m in r.json()}


async def test_instalments_paid_on_time_and_median_days_late(stack: Stack) -> None:
    f = await new_funder(stack)
    due = date(2026, 4, 1)
    on_time = [_instalment(f.id, due, paid_on=due.isoformat()) for _ in range(3)]
    late = [
        _instalment(f.id, due, paid_on=(due + timedelta(days=d)).isoformat()) for d in (2, 10, 4)
    ]
    for data in on_time:
        await _send(stack, "instalment.paid", data)
    # Late and out of order: the overdue notice arrives after the payment.
    for data in late:
        await _send(stack, "instalment.paid", data)
        overdue = {k: v for k, v in data.items() if k != "paid_on"}
        await _send(stack, "instalment.overdue", overdue)
    # Twice: the same event again changes nothing.
    again = await _send(stack, "instalment.paid", late[0])
    await _send(stack, "instalment.paid", late[0], event_id=again)
    # Overdue and still unpaid, then paid later (in order this time).
    unpaid = _instalment(f.id, due)
    await _send(stack, "instalment.overdue", unpaid)
    m = (await _measures(stack, f.staff))["instalments_paid_on_time"]
    assert m["based_on"] == 7
    assert m["value"] == "42.9"  # 3 of 7
    assert m["details"]["median_days_late"] == "4.0"  # of 2, 4, 10
    assert m["details"]["overdue_unpaid"] == 1
    await _send(
        stack, "instalment.paid", {**unpaid, "paid_on": (due + timedelta(days=7)).isoformat()}
    )
    m = (await _measures(stack, f.staff))["instalments_paid_on_time"]
    assert m["details"]["overdue_unpaid"] == 0
    assert m["details"]["median_days_late"] == "5.5"  # of 2, 4, 7, 10
    # Another funder's measures are its own.
    g = await new_funder(stack)
    m = (await _measures(stack, g.staff))["instalments_paid_on_time"]
    assert m["based_on"] == 0 and m["value"] is None


async def test_median_days_to_a_first_reply(stack: Stack) -> None:
    f = await new_funder(stack)
    received = datetime(2026, 3, 1, 9, 0).astimezone()
    updates = []
    for days in (1, 3, 14):
        first = received + timedelta(days=days)
        updates.append(
            {
                "update_id": str(uuid.uuid4()),
                "funder_id": f.id,
                "partner_id": str(uuid.uuid4()),
                "received_at": received.isoformat(),
                "first_reply_at": first.isoformat(),
                "reply_seconds": days * 86400,
            }
        )
    for data in reversed(updates):
        await _send(stack, "update.replied", data)
    # A late duplicate with a later reply does not move the first reply.
    later = {
        **updates[0],
        "first_reply_at": (received + timedelta(days=20)).isoformat(),
        "reply_seconds": 20 * 86400,
    }
    await _send(stack, "update.replied", later)
    m = (await _measures(stack, f.staff))["days_to_first_reply"]
    assert m["based_on"] == 3 and m["value"] == "3.0"


async def test_a_commitment_linked_to_a_measure_shows_both_on_the_scorecard(stack: Stack) -> None:
    f = await new_funder(stack, partners=1)
    c = await f.commitment("We pay on the date we promised", measure="instalments_paid_on_time")
    due = date(2026, 5, 1)
    await _send(stack, "instalment.paid", _instalment(f.id, due, paid_on=due.isoformat()))
    r = await stack.feedback.get(f"{API}/scorecards/preview", headers=f.staff)
    assert r.status_code == 200, r.text
    (shown,) = r.json()["commitments"]
    assert shown["id"] == c["id"]
    assert shown["measure"]["id"] == "instalments_paid_on_time"
    assert shown["measure"]["value"] == "100.0"


async def test_events_about_one_instalment_handled_at_once_merge(stack: Stack) -> None:
    f = await new_funder(stack)
    due = date(2026, 6, 1)
    data = _instalment(f.id, due, paid_on=(due + timedelta(days=3)).isoformat())
    overdue = {k: v for k, v in data.items() if k != "paid_on"}
    await asyncio.gather(
        _send(stack, "instalment.overdue", overdue),
        _send(stack, "instalment.paid", data),
        _send(stack, "instalment.overdue", overdue),
    )
    m = (await _measures(stack, f.staff))["instalments_paid_on_time"]
    assert m["based_on"] == 1 and m["details"]["paid_late"] == 1
    assert m["details"]["overdue_unpaid"] == 0


async def test_a_reply_in_the_partners_service_reaches_the_measure(stack: Stack) -> None:
    """End to end: a partner's reflective update and the funder's reply, in the partners
    service, arrive here as ``update.replied`` through its outbox."""
    f = await new_funder(stack, partners=1)
    r = await stack.partners.post(
        f"{API}/updates",
        headers=f.partner(0),
        json={"what_changed": "We moved the evening club to Thursdays."},
    )
    assert r.status_code == 201, r.text
    r = await stack.partners.post(
        f"{API}/updates/{r.json()['id']}/replies", headers=f.staff, json={"body": "Thank you!"}
    )
    assert r.status_code == 201, r.text
    await stack.deliver_events()
    m = (await _measures(stack, f.staff))["days_to_first_reply"]
    assert m["based_on"] == 1 and m["value"] == "0.0"
