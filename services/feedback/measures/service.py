"""The funder's own measured behaviour, from other services' events and its own rounds.

Consumers are idempotent by event id (the kit's inbox) and by natural key (one
fact per instalment, update or decision), and order-independent: a payment is final, so
an ``instalment.overdue`` arriving after ``instalment.paid`` changes nothing; a reply
keeps the earliest first reply it has heard of, and a reply heard of before the update's
``update.received`` counts the update as received; a decision is recorded once.
"""

import uuid
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.db import utcnow
from services.common.events import Event
from services.feedback.measures import repository

MEASURE_NAMES = {
    "instalments_paid_on_time": "Instalments paid by their due date",
    "days_to_first_reply": "Days to a first reply to a reflective update",
    "days_to_decision": "Days from a proposal to the funder's decision",
    "updates_replied_in_time": "Reflective updates replied to within the promised time",
    "rounds_published_with_actions": "Feedback rounds published with actions",
}
ONE_PLACE = Decimal("0.1")


def _date(value: Any) -> date:
    return date.fromisoformat(str(value)[:10])


def _datetime(value: Any) -> datetime:
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _new_instalment(data: dict[str, Any], *, overdue: bool) -> dict[str, Any]:
    return {
        "instalment_id": uuid.UUID(str(data["instalment_id"])),
        "funder_id": uuid.UUID(str(data["funder_id"])),
        "grant_id": uuid.UUID(str(data["grant_id"])) if data.get("grant_id") else None,
        "due_date": _date(data["due_date"]),
        "paid_on": None,
        "days_late": None,
        "overdue_reported": overdue,
        "updated_at": utcnow(),
    }


async def on_instalment_paid(*, session: AsyncSession, event: Event) -> None:
    data = event.data
    due, paid = _date(data["due_date"]), _date(data["paid_on"])
    fact = await repository.claim_instalment(session, _new_instalment(data, overdue=False))
    fact.due_date = due
    fact.paid_on = paid
    fact.days_late = max(0, (paid - due).days)
    fact.updated_at = utcnow()
    await session.flush()


async def on_instalment_overdue(*, session: AsyncSession, event: Event) -> None:
    # A payment already heard of is final; the overdue notice only adds that it was late.
    fact = await repository.claim_instalment(session, _new_instalment(event.data, overdue=True))
    if not fact.overdue_reported:
        fact.overdue_reported = True
        fact.updated_at = utcnow()
    await session.flush()


async def on_update_replied(*, session: AsyncSession, event: Event) -> None:
    data = event.data
    received = _datetime(data["received_at"])
    first_reply = _datetime(data["first_reply_at"])
    seconds = max(0, int(data.get("reply_seconds") or (first_reply - received).total_seconds()))
    fact, made = await repository.claim_reply(
        session,
        {
            "update_id": uuid.UUID(str(data["update_id"])),
            "funder_id": uuid.UUID(str(data["funder_id"])),
            "received_at": received,
            "first_reply_at": first_reply,
            "reply_seconds": seconds,
        },
    )
    if not made and first_reply < fact.first_reply_at:
        fact.first_reply_at = first_reply
        fact.received_at = received
        fact.reply_seconds = seconds
    # A reply heard of before the update itself: the update was received all the same.
    await repository.add_received_update(
        session,
        {
            "update_id": fact.update_id,
            "funder_id": fact.funder_id,
            "received_on": received.date(),
        },
    )
    await session.flush()


async def on_update_received(*, session: AsyncSession, event: Event) -> None:
    data = event.data
    await repository.add_received_update(
        session,
        {
            "update_id": uuid.UUID(str(data["update_id"])),
            "funder_id": uuid.UUID(str(data["funder_id"])),
            "received_on": _date(data["received_on"]),
        },
    )
    await session.flush()


async def _add_decision(
    *, session: AsyncSession, data: dict, subject: str, kind: str, asked: str, decided: str
) -> None:
    """Days from ``data[asked]`` to ``data[decided]`` for one decision of ``kind`` on
    ``data[subject]``; an event without both dates says nothing of the wait and is skipped."""
    if not data.get(asked) or not data.get(decided):
        return
    requested_on, decided_on = _date(data[asked]), _date(data[decided])
    await repository.add_decision(
        session,
        {
            "subject_id": uuid.UUID(str(data[subject])),
            "kind": kind,
            "funder_id": uuid.UUID(str(data["funder_id"])),
            "requested_on": requested_on,
            "decided_on": decided_on,
            "days": max(0, (decided_on - requested_on).days),
        },
    )
    await session.flush()


async def on_grant_approved(*, session: AsyncSession, event: Event) -> None:
    """A grant's decision: days from its proposal (``proposed_on``) to the decision. An
    event from before ``proposed_on`` was sent says nothing of the wait and is skipped."""
    await _add_decision(
        session=session,
        data=event.data,
        subject="grant_id",
        kind="grant",
        asked="proposed_on",
        decided="approved_on",
    )


async def on_grant_request_decided(*, session: AsyncSession, event: Event) -> None:
    """A partner's request for a change to its grant, decided (by a variation or a reply):
    days from the request to the decision, counted with the grants' decisions."""
    await _add_decision(
        session=session,
        data=event.data,
        subject="request_id",
        kind="grant_request",
        asked="requested_at",
        decided="decided_at",
    )


EVENT_HANDLERS = {
    "instalment.paid": on_instalment_paid,
    "instalment.overdue": on_instalment_overdue,
    "update.replied": on_update_replied,
    "update.received": on_update_received,
    "grant.approved": on_grant_approved,
    "grant_request.decided": on_grant_request_decided,
}


def _share(part: int, whole: int) -> Decimal | None:
    if not whole:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(ONE_PLACE, rounding=ROUND_HALF_UP)


async def measures(
    session: AsyncSession,
    funder_id: uuid.UUID,
    *,
    since: date | None = None,
    until: date | None = None,
) -> list[dict[str, Any]]:
    """The funder's measures, as records (id is the measure's name)."""
    paid = await repository.instalment_figures(session, funder_id, since=since, until=until)
    replies = await repository.reply_figures(
        session,
        funder_id,
        since=datetime.combine(since, time.min, tzinfo=UTC) if since else None,
        until=datetime.combine(until + timedelta(days=1), time.min, tzinfo=UTC) if until else None,
    )
    median_days = replies["median_seconds"]
    decisions = await repository.decision_figures(session, funder_id, since=since, until=until)
    promised = await repository.promised_reply_days(session, funder_id)
    in_time = (
        await repository.replied_in_time_figures(
            session,
            funder_id,
            promised_days=promised,
            today=utcnow().date(),
            since=since,
            until=until,
        )
        if promised is not None
        else {"due": 0, "in_time": 0, "unanswered": 0}
    )
    rounds = await repository.round_action_figures(session, funder_id, since=since, until=until)
    return [
        {
            "id": "instalments_paid_on_time",
            "name": MEASURE_NAMES["instalments_paid_on_time"],
            "based_on": paid["due"],
            "value": _share(paid["on_time"], paid["due"]),
            "unit": "percent",
            "details": {
                "instalments_due": paid["due"],
                "paid_on_time": paid["on_time"],
                "paid_late": paid["paid_late"],
                "overdue_unpaid": paid["overdue_unpaid"],
                "median_days_late": None
                if paid["median_days_late"] is None
                else paid["median_days_late"].quantize(ONE_PLACE, rounding=ROUND_HALF_UP),
            },
        },
        {
            "id": "days_to_first_reply",
            "name": MEASURE_NAMES["days_to_first_reply"],
            "based_on": replies["replied"],
            "value": None
            if median_days is None
            else (median_days / Decimal(86400)).quantize(ONE_PLACE, rounding=ROUND_HALF_UP),
            "unit": "days (median)",
            "details": {"updates_replied": replies["replied"]},
        },
        {
            "id": "days_to_decision",
            "name": MEASURE_NAMES["days_to_decision"],
            "based_on": decisions["decided"],
            "value": None
            if decisions["median_days"] is None
            else decisions["median_days"].quantize(ONE_PLACE, rounding=ROUND_HALF_UP),
            "unit": "days (median)",
            "details": {
                "decisions": decisions["decided"],
                "longest_days": decisions["longest_days"],
            },
        },
        {
            "id": "updates_replied_in_time",
            "name": MEASURE_NAMES["updates_replied_in_time"],
            "based_on": in_time["due"],
            "value": _share(in_time["in_time"], in_time["due"]),
            "unit": "percent",
            "details": {
                "promised_days": promised,
                "replies_due": in_time["due"],
                "replied_in_time": in_time["in_time"],
                "waiting_past_promise": in_time["unanswered"],
            },
        },
        {
            "id": "rounds_published_with_actions",
            "name": MEASURE_NAMES["rounds_published_with_actions"],
            "based_on": rounds["closed"],
            "value": _share(rounds["with_actions"], rounds["closed"]),
            "unit": "percent",
            "details": {
                "rounds_closed": rounds["closed"],
                "published": rounds["published"],
                "published_with_actions": rounds["with_actions"],
            },
        },
    ]
