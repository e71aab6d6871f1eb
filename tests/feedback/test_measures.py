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


def _approved(funder_id: str, proposed: date, decided: date | None, **extra: Any) -> dict:
    return {
        "grant_id": str(uuid.uuid4()),
        "funder_id": funder_id,
        "partner_id": str(uuid.uuid4()),
        "proposed_on": proposed.isoformat(),
        "approved_on": (decided or proposed).isoformat(),
        **extra,
    }


async def test_days_to_decision_from_proposal_to_decision(stack: Stack) -> None:
    f = await new_funder(stack)
    start = date(2026, 1, 5)
    waits = [_approved(f.id, start, start + timedelta(days=d)) for d in (30, 5, 10)]
    for data in waits:
        await _send(stack, "grant.approved", data)
    # The same event redelivered, and the same decision in a later event with other dates
    # (a late, conflicting copy), change nothing: one decision per grant, the first heard.
    again = await _send(stack, "grant.approved", waits[0])
    await _send(stack, "grant.approved", waits[0], event_id=again)
    await _send(stack, "grant.approved", {**waits[0], "approved_on": "2027-12-31"})
    # An event from before funding said when the grant was proposed is not guessed at.
    await _send(stack, "grant.approved", {**_approved(f.id, start, None), "proposed_on": None})
    m = (await _measures(stack, f.staff))["days_to_decision"]
    assert m["based_on"] == 3 and m["value"] == "10.0"
    assert m["details"] == {"decisions": 3, "longest_days": 30}
    r = await stack.feedback.get(
        f"{API}/measures/days_to_decision", headers=f.staff, params={"from": "2026-01-20"}
    )
    assert r.json()["based_on"] == 1 and r.json()["value"] == "30.0"
    # Another funder's decisions are its own.
    g = await new_funder(stack)
    assert (await _measures(stack, g.staff))["days_to_decision"]["based_on"] == 0


async def test_a_partners_request_decided_counts_from_the_request(stack: Stack) -> None:
    """``grant_request.decided`` (a partner asked for a change; staff decided by a variation
    or a reply) counts the days from the request, once per request, beside grants'."""
    f = await new_funder(stack)

    def decided(requested: str, on: str) -> dict:
        return {
            "request_id": str(uuid.uuid4()),
            "grant_id": str(uuid.uuid4()),
            "funder_id": f.id,
            "partner_id": str(uuid.uuid4()),
            "kind": "extension",
            "outcome": "declined",
            "requested_at": requested,
            "decided_at": on,
            "days_to_decision": None,
        }

    quick = decided("2026-03-02T09:00:00+00:00", "2026-03-04T16:00:00+00:00")
    slow = decided("2026-03-02T09:00:00+00:00", "2026-03-22T10:00:00+00:00")
    for data in (quick, slow):
        await _send(stack, "grant_request.decided", data)
    again = await _send(stack, "grant_request.decided", quick)
    await _send(stack, "grant_request.decided", quick, event_id=again)
    await _send(stack, "grant_request.decided", {**quick, "decided_at": "2027-01-01T00:00:00Z"})
    await _send(stack, "grant.approved", _approved(f.id, date(2026, 3, 1), date(2026, 3, 6)))
    m = (await _measures(stack, f.staff))["days_to_decision"]
    assert m["based_on"] == 3 and m["value"] == "5.0"
    assert m["details"] == {"decisions": 3, "longest_days": 20}


async def test_a_decision_in_the_funding_service_reaches_the_measure(stack: Stack) -> None:
    """End to end: a grant proposed and approved in funding arrives as ``grant.approved``
    with the day it was proposed."""
    f = await new_funder(stack, partners=1)
    body = {
        "partner_id": f.partners[0]["id"],
        "title": "Core funding",
        "description": "Unrestricted.",
        "amount_awarded": 900000,
        "planned_start_date": "2030-04-01",
        "planned_end_date": "2033-03-31",
    }
    grant = (await stack.funding.post(f"{API}/grants", headers=f.staff, json=body)).json()
    decided = date.today() + timedelta(days=12)
    r = await stack.funding.post(
        f"{API}/grants/{grant['id']}/approve",
        headers=f.staff,
        json={"decided_on": decided.isoformat(), "decided_by": "Board", "reference": "D-1"},
    )
    assert r.status_code == 200, r.text
    await stack.deliver_events()
    m = (await _measures(stack, f.staff))["days_to_decision"]
    assert m["based_on"] == 1 and m["value"] == "12.0"


def _update(funder_id: str, received: datetime) -> dict[str, Any]:
    return {
        "update_id": str(uuid.uuid4()),
        "funder_id": funder_id,
        "partner_id": str(uuid.uuid4()),
        "received_on": received.date().isoformat(),
    }


def _reply(update: dict[str, Any], received: datetime, days: float) -> dict[str, Any]:
    first = received + timedelta(days=days)
    return {
        **{k: update[k] for k in ("update_id", "funder_id", "partner_id")},
        "received_at": received.isoformat(),
        "first_reply_at": first.isoformat(),
        "reply_seconds": int(days * 86400),
    }


async def test_share_of_updates_replied_within_the_promised_days(stack: Stack) -> None:
    f = await new_funder(stack)
    m = (await _measures(stack, f.staff))["updates_replied_in_time"]
    assert m["value"] is None and m["details"]["promised_days"] is None  # nothing promised
    await f.commitment(
        "We reply to every update within two weeks",
        measure="updates_replied_in_time",
        promised_days=14,
    )
    month_ago = datetime.now().astimezone() - timedelta(days=30)
    in_time, late, waiting, recent, early_reply = (_update(f.id, month_ago) for _ in range(5))
    recent = _update(f.id, datetime.now().astimezone())
    for data in (in_time, late, waiting, recent):
        await _send(stack, "update.received", data)
    await _send(stack, "update.replied", _reply(in_time, month_ago, 5))
    await _send(stack, "update.replied", _reply(late, month_ago, 20))
    # A reply heard of before the update itself (a late ``update.received``), then the
    # received event twice: the update counts once, replied in time.
    await _send(stack, "update.replied", _reply(early_reply, month_ago, 1))
    again = await _send(stack, "update.received", early_reply)
    await _send(stack, "update.received", early_reply, event_id=again)
    await _send(stack, "update.received", early_reply)
    m = (await _measures(stack, f.staff))["updates_replied_in_time"]
    # Due: in time, late, waiting past 14 days, early reply; the recent one is not due yet.
    assert m["based_on"] == 4 and m["value"] == "50.0"
    assert m["details"] == {
        "promised_days": 14,
        "replies_due": 4,
        "replied_in_time": 2,
        "waiting_past_promise": 1,
    }
    # A late reply to the waiting update: due still, not in time.
    await _send(stack, "update.replied", _reply(waiting, month_ago, 25))
    m = (await _measures(stack, f.staff))["updates_replied_in_time"]
    assert m["based_on"] == 4 and m["details"]["waiting_past_promise"] == 0
    # The recent one replied at once: due now, and in time.
    await _send(stack, "update.replied", _reply(recent, datetime.now().astimezone(), 0.5))
    m = (await _measures(stack, f.staff))["updates_replied_in_time"]
    assert m["based_on"] == 5 and m["value"] == "60.0"


async def test_share_of_rounds_published_with_actions(stack: Stack) -> None:
    f = await new_funder(stack, partners=1)
    c = await f.commitment("We act on what you tell us", measure="rounds_published_with_actions")
    rounds = [await f.round(f"Round {n}") for n in range(3)]
    assert (await _measures(stack, f.staff))["rounds_published_with_actions"]["based_on"] == 0
    for round_ in rounds:
        await f.close(round_)
    actions = []
    for round_ in rounds[:2]:
        await f.publish(round_, answer="Thank you.")
        r = await stack.feedback.post(
            f"{API}/actions",
            headers=f.staff,
            json={"title": "Pay by BACS", "round_id": round_["id"], "commitment_id": c["id"]},
        )
        assert r.status_code == 201, r.text
        actions.append(r.json())
    # An action not yet published does not count.
    m = (await _measures(stack, f.staff))["rounds_published_with_actions"]
    assert m["based_on"] == 3 and m["value"] == "0.0"
    assert m["details"] == {"rounds_closed": 3, "published": 2, "published_with_actions": 0}
    for action in actions:
        r = await stack.feedback.put(
            f"{API}/actions/{action['id']}", headers=f.staff, json={"published": True}
        )
        assert r.status_code == 200, r.text
    m = (await _measures(stack, f.staff))["rounds_published_with_actions"]
    assert m["value"] == "66.7" and m["details"]["published_with_actions"] == 2
    # Linked to the commitment: the scorecard shows it beside it.
    r = await stack.feedback.get(f"{API}/scorecards/preview", headers=f.staff)
    (shown,) = r.json()["commitments"]
    assert shown["measure"]["id"] == "rounds_published_with_actions"
    assert shown["measure"]["value"] == "66.7"
