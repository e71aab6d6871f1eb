"""Email notifications: each one received by a real SMTP server, daily digests, each person's
preferences, unsubscribe links that work without signing in (RFC 8058 one-click too), sent
once across replicas, the overdue-reply reminder once per update, and never a word of who
answered a feedback round or when."""

import asyncio
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from email.message import EmailMessage
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select

from services.common.db import Database, utcnow
from services.partners.notifications.models import Notification
from services.partners.notifications.sender import NotificationSender
from services.partners.people.models import Membership, Person
from tests.feedback.support import new_funder as new_feedback_funder
from tests.funding.helpers import new_funder as new_funding_funder
from tests.funding.pool_helpers import new_pool
from tests.partners.mail_helpers import Inbox, smtp_server
from tests.support import Stack, running_stack

API = "/api/v1"


@pytest.fixture(scope="module")
def smtp() -> Iterator[tuple[Inbox, str]]:
    with smtp_server() as running:
        yield running


@pytest.fixture(scope="module")
async def mailing(
    backend: str, tmp_path_factory: pytest.TempPathFactory, smtp: tuple[Inbox, str]
) -> AsyncIterator[Stack]:
    async with running_stack(
        backend, tmp_path_factory.mktemp(f"notifications-{backend}"), smtp_url=smtp[1]
    ) as running:
        yield running


@pytest.fixture
def inbox(smtp: tuple[Inbox, str]) -> Inbox:
    return smtp[0]


@dataclass
class Who:
    id: uuid.UUID
    email: str
    headers: dict[str, str]


async def person(
    stack: Stack, *, funder_id: str | None = None, partner_id: str | None = None
) -> Who:
    """Someone who signs in, on a funder's staff or among a partner's people."""
    pid = uuid.uuid4()
    address = f"{'staff' if funder_id else 'partner'}-{pid.hex[:10]}@example.org"
    now = utcnow()
    async with stack.apps["partners"].state.db.sessionmaker() as session, session.begin():
        session.add(
            Person(id=pid, email=address, email_key=address, name="Sam Patel", created_at=now)
        )
        await session.flush()
        session.add(
            Membership(
                person_id=pid,
                role="funder_staff" if funder_id else "partner",
                funder_id=uuid.UUID(funder_id) if funder_id else None,
                partner_id=uuid.UUID(partner_id) if partner_id else None,
                created_at=now,
                created_by="tests",
            )
        )
    sub = f"person:{pid}"
    headers = (
        stack.tokens.staff(funder_id, sub=sub)
        if funder_id
        else stack.tokens.partner(partner_id or "", sub=sub)
    )
    return Who(pid, address, headers)


def sender(stack: Stack) -> NotificationSender:
    return stack.apps["partners"].state.notifications


def replica(stack: Stack) -> NotificationSender:
    """Another process's sender: its own engine on the same database, no feedback service."""
    return NotificationSender(
        Database(stack.urls["partners"]),
        sender(stack).mailer,
        base_url="http://trellis.test",
        feedback=None,
        reply_within_days=1,
        round_closing_days=3,
        digest_hour=8,
        poll_interval=1,
        scan_interval=1,
        max_attempts=3,
    )


async def send(stack: Stack, *, days: float = 0) -> int:
    await stack.deliver_events()
    return await sender(stack).send_due(now=utcnow() + timedelta(days=days))


def text_of(msg: EmailMessage) -> str:
    body = msg.get_body(preferencelist=("plain",))
    assert body is not None
    return body.get_content()


def without_links(msg: EmailMessage) -> str:
    return re.sub(r"https?://\S+", "<link>", text_of(msg))


def unsubscribe_url(msg: EmailMessage) -> str:
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    match = re.fullmatch(r"<(https?://\S+)>", msg["List-Unsubscribe"])
    assert match, msg["List-Unsubscribe"]
    assert match.group(1) in text_of(msg)  # the same link, for people, in the text
    parts = urlsplit(match.group(1))
    return f"{parts.path}?{parts.query}"


async def update_from(stack: Stack, partner_headers: dict[str, str], words: str) -> str:
    r = await stack.partners.post(
        f"{API}/updates", headers=partner_headers, json={"what_changed": words}
    )
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def test_staff_hear_of_updates_instalments_and_votes(mailing: Stack, inbox: Inbox) -> None:
    stack = mailing
    f = await new_funding_funder(stack)
    staff = await person(stack, funder_id=f.id)
    partner = await person(stack, partner_id=f.partner["id"])
    other = await new_funding_funder(stack)
    stranger = await person(stack, funder_id=other.id)

    await update_from(stack, f.partner_headers, "We opened a second club night.")
    assert await send(stack) >= 1
    (arrived,) = inbox.to(staff.email)
    assert arrived["Subject"] == f"A reflective update from {f.partner['name']}"
    assert "second club night" not in text_of(arrived)  # the words stay in Trellis
    unsubscribe_url(arrived)

    soon = date.today() + timedelta(days=3)
    await f.awarded(
        planned_start_date=soon.isoformat(),
        planned_end_date=(soon + timedelta(days=3 * 365)).isoformat(),
    )
    late = await f.awarded(
        amount_awarded=300, planned_start_date="2020-01-01", planned_end_date="2022-12-31"
    )
    assert await stack.apps["funding"].state.overdue_checker.run_once() >= 4
    await send(stack)
    subjects = sorted(m["Subject"] for m in inbox.to(staff.email))
    due = [s for s in subjects if "is due on" in s]
    overdue = [s for s in subjects if s.endswith("is overdue")]
    assert len(due) == 1 and f"{soon.day} {soon:%B %Y}" in due[0]
    assert len(overdue) == 3
    assert inbox.to(stranger.email) == []

    # The partner's people hear that an instalment was paid; the staff do not.
    instalment = (await f.schedule(late))["instalments"][0]
    assert (await f.pay(instalment["id"])).status_code == 201
    await send(stack)
    (paid,) = inbox.to(partner.email)
    assert paid["Subject"] == f"{f.funder['name']} paid an instalment of £1.00"
    assert len(inbox.to(staff.email)) == 5

    pool = await new_pool(stack, members=2)
    voter = await person(stack, funder_id=pool.members[1].id)
    await pool.propose(pool.members[0], 1000000)
    await send(stack)
    (vote,) = inbox.to(voter.email)
    assert vote["Subject"] == f"A proposal in {pool.pool['name']} awaits your vote"
    assert "£10,000.00" in text_of(vote)


async def test_partners_hear_of_rounds_and_replies_and_never_who_answered(
    mailing: Stack, inbox: Inbox
) -> None:
    stack = mailing
    f = await new_feedback_funder(stack, partners=2)
    await f.commitment("We reply to every update within two weeks")
    staff = await person(stack, funder_id=f.id)
    people = [await person(stack, partner_id=p["id"]) for p in f.partners]

    round_ = await f.round()
    await send(stack)
    for who in people:
        (opened,) = inbox.to(who.email)
        assert opened["Subject"] == f"{f.record['name']} asks for your feedback"
        assert round_["title"] in text_of(opened)

    update_id = await update_from(stack, f.partner(0), "A hard winter.")
    r = await stack.partners.post(
        f"{API}/updates/{update_id}/replies", headers=f.staff, json={"body": "Thank you."}
    )
    assert r.status_code == 201, r.text
    r = await stack.feedback.post(
        f"{API}/threads",
        headers=f.staff,
        json={"partner_id": f.partners[1]["id"], "subject": "Hello", "body": "How are you?"},
    )
    assert r.status_code == 201, r.text
    await send(stack)
    assert [m["Subject"] for m in inbox.to(people[0].email)][1:] == [
        f"{f.record['name']} replied to your update"
    ]
    assert [m["Subject"] for m in inbox.to(people[1].email)][1:] == [
        f"{f.record['name']} wrote to you"
    ]
    before = {w.email: len(inbox.to(w.email)) for w in [staff, *people]}

    # Answers, named or anonymous, send nobody anything.
    await f.answer(round_, 0, [4])
    await f.answer(round_, 1, [5], anonymous=True)
    assert await send(stack) == 0
    assert {w.email: len(inbox.to(w.email)) for w in [staff, *people]} == before

    # Before it closes, every invited partner is reminded alike, whether it answered or not.
    await sender(stack).scan(now=utcnow() + timedelta(days=20))
    await send(stack, days=20)
    assert {w.email: len(inbox.to(w.email)) for w in people} == {
        w.email: before[w.email] for w in people
    }
    await sender(stack).scan(now=utcnow() + timedelta(days=26))
    await sender(stack).scan(now=utcnow() + timedelta(days=27))
    await send(stack, days=27)
    assert {w.email: len(inbox.to(w.email)) for w in people} == {
        w.email: before[w.email] + 1 for w in people
    }
    reminders = [inbox.to(w.email)[-1] for w in people]
    assert all("closes on" in m["Subject"] for m in reminders)
    assert without_links(reminders[0]) == without_links(reminders[1])
    assert reminders[0]["Subject"] == reminders[1]["Subject"]
    everything = " ".join(
        text_of(m) + m["Subject"] for w in [staff, *people] for m in inbox.to(w.email)
    )
    assert not re.search(r"answered|responded|anonymous(ly)? by", everything)
    assert len(inbox.to(staff.email)) == before[staff.email] == 1  # the update, nothing more


async def test_a_closed_round_is_not_reminded(mailing: Stack, inbox: Inbox) -> None:
    stack = mailing
    f = await new_feedback_funder(stack, partners=1)
    await f.commitment("We act on what we hear")
    who = await person(stack, partner_id=f.partners[0]["id"])
    round_ = await f.round()
    await f.close(round_)
    await send(stack)
    await sender(stack).scan(now=utcnow() + timedelta(days=26))
    await send(stack, days=26)
    assert [m["Subject"] for m in inbox.to(who.email)] == [
        f"{f.record['name']} asks for your feedback"
    ]


async def test_the_overdue_reply_reminder_fires_once_per_update(
    mailing: Stack, inbox: Inbox
) -> None:
    stack = mailing
    f = await new_feedback_funder(stack, partners=1)
    await f.commitment(
        "We reply to every update within five days",
        measure="days_to_first_reply",
        promised_days=5,
    )
    staff = await person(stack, funder_id=f.id)
    first = await update_from(stack, f.partner(0), "First news.")
    await send(stack)
    assert len(inbox.to(staff.email)) == 1  # the update itself

    clock = sender(stack)
    await clock.scan(now=utcnow() + timedelta(days=4))
    await send(stack, days=4)
    assert len(inbox.to(staff.email)) == 1
    await clock.scan(now=utcnow() + timedelta(days=6))
    # Later scans, another replica, a restart: the same update is not reminded again.
    await clock.scan(now=utcnow() + timedelta(days=7))
    other = replica(stack)
    try:
        await other.scan(now=utcnow() + timedelta(days=40))
    finally:
        await other.db.dispose()
    await send(stack, days=40)
    reminders = [m for m in inbox.to(staff.email) if "has waited" in m["Subject"]]
    assert len(reminders) == 1
    assert "We reply to every update within five days" in text_of(reminders[0])
    assert f"/#/updates/{first}/show" in text_of(reminders[0])

    # A reply in time means no reminder; a funder without such a commitment has the setting.
    second = await update_from(stack, f.partner(0), "Second news.")
    r = await stack.partners.post(
        f"{API}/updates/{second}/replies", headers=f.staff, json={"body": "Noted, thanks."}
    )
    assert r.status_code == 201
    await clock.scan(now=utcnow() + timedelta(days=10))
    await send(stack, days=10)
    assert len([m for m in inbox.to(staff.email) if "has waited" in m["Subject"]]) == 1
    g = await new_feedback_funder(stack, partners=1)
    g_staff = await person(stack, funder_id=g.id)
    await update_from(stack, g.partner(0), "News for the other funder.")
    await clock.scan(now=utcnow() + timedelta(days=13))
    await send(stack, days=13)
    assert [m for m in inbox.to(g_staff.email) if "has waited" in m["Subject"]] == []
    await clock.scan(now=utcnow() + timedelta(days=15))
    await send(stack, days=15)
    (late,) = [m for m in inbox.to(g_staff.email) if "has waited" in m["Subject"]]
    assert "after 14 days" in text_of(late)


async def test_preferences_digests_and_unsubscribe(mailing: Stack, inbox: Inbox) -> None:
    stack = mailing
    f = await new_funding_funder(stack)
    staff = await person(stack, funder_id=f.id)

    r = await stack.partners.get(f"{API}/notification-preferences", headers=staff.headers)
    assert r.status_code == 200, r.text
    prefs = r.json()
    assert prefs["email"] == staff.email and prefs["id"] == str(staff.id)
    assert [(n["notification"], n["enabled"], n["frequency"]) for n in prefs["notifications"]] == [
        ("update_received", True, "immediate"),
        ("update_overdue", True, "immediate"),
        ("instalment_due", True, "immediate"),
        ("instalment_overdue", True, "immediate"),
        ("proposal_vote", True, "immediate"),
    ]
    # A partner's notifications are not a staff member's to choose; a system has none.
    r = await stack.partners.put(
        f"{API}/notification-preferences",
        headers=staff.headers,
        json={"notifications": [{"notification": "instalment_paid", "enabled": False}]},
    )
    assert r.status_code == 422 and "instalment_paid" in r.json()["errors"]["notifications"][0]
    r = await stack.partners.get(f"{API}/notification-preferences", headers=f.staff)
    assert r.status_code == 403 and r.json()["type"].endswith("not-a-person")

    r = await stack.partners.put(
        f"{API}/notification-preferences",
        headers=staff.headers,
        json={"notifications": [{"notification": "update_received", "frequency": "daily"}]},
    )
    assert r.status_code == 200, r.text
    assert r.json()["notifications"][0] == {
        "notification": "update_received",
        "audience": "staff",
        "description": "A partner sent your funder a reflective update.",
        "enabled": True,
        "frequency": "daily",
    }
    await update_from(stack, f.partner_headers, "One.")
    await update_from(stack, f.partner_headers, "Two.")
    await send(stack)
    assert inbox.to(staff.email) == []  # waits for the day's digest
    await send(stack, days=1)
    (digest,) = inbox.to(staff.email)
    assert digest["Subject"] == "Trellis: your daily digest (2 notifications)"
    assert text_of(digest).count(f"A reflective update from {f.partner['name']}") == 2

    # One click in the mail program (RFC 8058), no sign-in: the digest's notifications stop.
    r = await stack.partners.post(
        unsubscribe_url(digest),
        content="List-Unsubscribe=One-Click",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 200 and "no longer sends you" in r.text
    r = await stack.partners.get(f"{API}/notification-preferences", headers=staff.headers)
    assert r.json()["notifications"][0]["enabled"] is False
    await update_from(stack, f.partner_headers, "Three.")
    await send(stack, days=2)
    assert len(inbox.to(staff.email)) == 1

    # Another notification's link: opening it changes nothing, its button turns it off.
    await f.awarded(
        amount_awarded=300, planned_start_date="2020-01-01", planned_end_date="2020-12-31"
    )
    await stack.apps["funding"].state.overdue_checker.run_once()
    await send(stack)
    (overdue,) = inbox.to(staff.email)[1:]
    link = unsubscribe_url(overdue)
    page = await stack.partners.get(link)
    assert page.status_code == 200 and "<form" in page.text
    r = await stack.partners.get(f"{API}/notification-preferences", headers=staff.headers)
    assert r.json()["notifications"][3]["enabled"] is True
    assert (await stack.partners.post(link)).status_code == 200
    r = await stack.partners.get(f"{API}/notification-preferences", headers=staff.headers)
    assert r.json()["notifications"][3]["enabled"] is False
    # A link changed by hand does nothing.
    forged = link[:-3] + ("AAA" if not link.endswith("AAA") else "BBB")
    assert (await stack.partners.post(forged)).status_code == 404
    assert (await stack.partners.get(forged)).status_code == 404

    # Turning a notification off drops what was waiting for the digest.
    r = await stack.partners.put(
        f"{API}/notification-preferences",
        headers=staff.headers,
        json={
            "notifications": [
                {"notification": "update_received", "enabled": True, "frequency": "daily"}
            ]
        },
    )
    assert r.status_code == 200
    await update_from(stack, f.partner_headers, "Four.")
    await stack.partners.put(
        f"{API}/notification-preferences",
        headers=staff.headers,
        json={"notifications": [{"notification": "update_received", "enabled": False}]},
    )
    await send(stack, days=3)
    assert len(inbox.to(staff.email)) == 2


async def test_sent_once_across_replicas_and_redelivered_events(
    mailing: Stack, inbox: Inbox
) -> None:
    stack = mailing
    f = await new_feedback_funder(stack, partners=3)
    people = [await person(stack, partner_id=p["id"]) for p in f.partners]
    await f.commitment("We listen")
    round_ = await f.round()
    await stack.deliver_events()
    # The same round opened again under another event id (a replayed event): nothing twice.
    replayed = {
        "id": str(uuid.uuid4()),
        "type": "round.opened",
        "source": "feedback",
        "occurred_at": utcnow().isoformat(),
        "data": {
            "round_id": round_["id"],
            "funder_id": f.id,
            "title": round_["title"],
            "opens_on": round_["opens_on"],
            "closes_on": round_["closes_on"],
            "partner_ids": [p["id"] for p in f.partners],
        },
    }
    r = await stack.partners.post(
        "/internal/events", headers=stack.tokens.service("feedback"), json=replayed
    )
    assert r.status_code == 200 and r.json()["status"] == "handled"
    async with stack.apps["partners"].state.db.sessionmaker() as session:
        queued = await session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.person_id.in_([p.id for p in people]))
        )
    assert queued == 3
    first = sender(stack)
    replicas = [replica(stack) for _ in range(2)]
    try:
        await asyncio.gather(*(r.send_due(batch_size=1) for r in replicas for _ in range(4)))
        await first.send_due()
    finally:
        for r in replicas:
            await r.db.dispose()
    for who in people:
        assert len(inbox.to(who.email)) == 1
