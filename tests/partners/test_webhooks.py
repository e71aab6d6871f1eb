"""Webhooks: signed per Standard Webhooks, delivered at least once to a real HTTP receiver,
each event once in effect across an outage and a restart of the sender, rotatable secrets,
SSRF refused, and each side's endpoints hear only of their own events."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import uvicorn
from asgi_lifespan import LifespanManager
from fastapi import FastAPI, Request, Response
from sqlalchemy import select, update
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from services.partners.app import create_app
from services.partners.people.models import Person
from services.partners.webhooks import netguard
from services.partners.webhooks.dispatcher import WebhookDispatcher
from services.partners.webhooks.models import WebhookDelivery
from tests.feedback.support import new_funder as new_feedback_funder
from tests.funding.helpers import new_funder as new_funding_funder
from tests.partners.mail_helpers import Inbox, free_port, smtp_server
from tests.support import Stack, running_stack

API = "/api/v1"


class Receiver:
    """A partner's or funder's own system: a real HTTP server that verifies every delivery
    with the Standard Webhooks library and keeps what it accepted, by ``webhook-id``."""

    def __init__(self) -> None:
        self.port = free_port()
        self.secrets: dict[str, str] = {}  # path -> secret it verifies with
        self.accepted: dict[str, list[tuple[str, dict[str, Any]]]] = {}  # path -> (id, body)
        self.rejected = 0
        self.server: uvicorn.Server | None = None
        self.task: asyncio.Task[None] | None = None
        app = FastAPI()

        @app.post("/{path}")
        async def hook(path: str, request: Request) -> Response:
            body = await request.body()
            try:
                payload = Webhook(self.secrets[path]).verify(body, dict(request.headers))
            except (KeyError, WebhookVerificationError):
                self.rejected += 1
                return Response(status_code=401)
            self.accepted.setdefault(path, []).append((request.headers["webhook-id"], payload))
            return Response(status_code=204)

        self.app = app

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path}"

    def seen(self, path: str) -> dict[str, dict[str, Any]]:
        """What a deduplicating receiver keeps: one payload per webhook-id."""
        return {msg_id: payload for msg_id, payload in self.accepted.get(path, [])}

    async def start(self) -> None:
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=self.port, log_config=None, access_log=False
        )
        self.server = uvicorn.Server(config)
        self.task = asyncio.create_task(self.server.serve())
        for _ in range(100):
            if self.server.started:
                return
            await asyncio.sleep(0.05)
        raise AssertionError("receiver did not start")

    async def stop(self) -> None:
        assert self.server and self.task
        self.server.should_exit = True
        await self.task


@pytest.fixture(scope="module")
def smtp() -> Iterator[tuple[Inbox, str]]:
    with smtp_server() as running:
        yield running


@pytest.fixture(scope="module")
async def hooks(
    backend: str, tmp_path_factory: pytest.TempPathFactory, smtp: tuple[Inbox, str]
) -> AsyncIterator[Stack]:
    """A stack whose operator allows loopback endpoints (the receiver runs on 127.0.0.1)."""
    async with running_stack(
        backend,
        tmp_path_factory.mktemp(f"hooks-{backend}"),
        webhooks_allow_private_addresses=True,
        webhooks_disable_after=3,
        smtp_url=smtp[1],
    ) as running:
        yield running


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    r = Receiver()
    yield r
    if r.server is not None and r.task is not None and not r.task.done():
        await r.stop()


async def register(stack: Stack, headers: dict[str, str], url: str, types: list[str]) -> dict:
    r = await stack.partners.post(
        f"{API}/webhooks", headers=headers, json={"url": url, "event_types": types}
    )
    assert r.status_code == 201, r.text
    assert r.json()["secret"].startswith("whsec_")
    return r.json()


async def make_due(stack: Stack) -> None:
    async with stack.apps["partners"].state.db.sessionmaker() as session, session.begin():
        await session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.status == "pending")
            .values(next_attempt_at=WebhookDelivery.created_at)
        )


async def send(stack: Stack) -> int:
    return await stack.apps["partners"].state.webhooks.deliver_due()


async def deliveries(stack: Stack, headers: dict[str, str], hook_id: str) -> list[dict]:
    r = await stack.partners.get(f"{API}/webhooks/{hook_id}/deliveries", headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


async def test_events_arrive_signed_once_in_effect_across_outage_and_restart(
    hooks: Stack, receiver: Receiver
) -> None:
    stack = hooks
    funder = await stack.new_funder()
    partner = await stack.new_partner(funder["id"])
    staff = stack.tokens.staff(funder["id"])
    as_partner = stack.tokens.partner(partner["id"])
    staff_hook = await register(
        stack, staff, receiver.url("staff"), ["update.received", "thread.message"]
    )
    partner_hook = await register(
        stack, as_partner, receiver.url("partner"), ["update.replied", "thread.message"]
    )
    receiver.secrets = {"staff": staff_hook["secret"], "partner": partner_hook["secret"]}

    # The receiver is down: a partner sends an update, staff reply, staff start a thread.
    r = await stack.partners.post(
        f"{API}/updates", headers=as_partner, json={"what_changed": "We moved the club."}
    )
    assert r.status_code == 201, r.text
    update_id = r.json()["id"]
    r = await stack.partners.post(
        f"{API}/updates/{update_id}/replies", headers=staff, json={"body": "Thank you!"}
    )
    assert r.status_code == 201, r.text
    r = await stack.feedback.post(
        f"{API}/threads",
        headers=staff,
        json={"partner_id": partner["id"], "subject": "Hello", "body": "How is it going?"},
    )
    assert r.status_code == 201, r.text
    await stack.deliver_events()  # feedback's event reaches partners' /internal/events
    assert await send(stack) >= 4
    log = await deliveries(stack, staff, staff_hook["id"])
    assert {d["event_type"] for d in log} == {"update.received", "thread.message"}
    assert all(d["status"] == "pending" and d["attempts"] == 1 for d in log)
    assert all(d["last_error"] and d["last_attempt_at"] for d in log)

    # The receiver comes back; the sender restarts (a new process on the same database).
    await receiver.start()
    await make_due(stack)
    old = stack.apps["partners"]
    restarted = create_app(old.state.settings, transports={})
    async with LifespanManager(restarted):
        assert await restarted.state.webhooks.deliver_due() >= 4
    log = await deliveries(stack, staff, staff_hook["id"])
    assert all(d["status"] == "delivered" and d["attempts"] == 2 for d in log)

    staff_seen = receiver.seen("staff")
    assert sorted(p["type"] for p in staff_seen.values()) == ["thread.message", "update.received"]
    received = next(p for p in staff_seen.values() if p["type"] == "update.received")
    assert received["data"]["update_id"] == update_id
    partner_seen = receiver.seen("partner")
    assert sorted(p["type"] for p in partner_seen.values()) == ["thread.message", "update.replied"]
    message = next(p for p in partner_seen.values() if p["type"] == "thread.message")
    assert message["data"]["body"] == "How is it going?"
    assert message["data"]["partner_id"] == partner["id"]

    # Manual redelivery resends the same webhook-id: once in effect for the receiver.
    first = log[0]
    r = await stack.partners.post(
        f"{API}/webhooks/{staff_hook['id']}/deliveries/{first['id']}/redeliver", headers=staff
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "pending"
    assert await send(stack) == 1
    assert len(receiver.accepted["staff"]) == 3
    assert receiver.seen("staff") == staff_seen
    assert receiver.rejected == 0


async def test_a_rotated_secret_signs_alongside_the_old_one_until_it_expires(
    hooks: Stack, receiver: Receiver
) -> None:
    stack = hooks
    funder = await stack.new_funder()
    partner = await stack.new_partner(funder["id"])
    staff = stack.tokens.staff(funder["id"])
    hook = await register(stack, staff, receiver.url("crm"), ["update.received"])
    await receiver.start()

    async def an_update() -> None:
        r = await stack.partners.post(
            f"{API}/updates",
            headers=stack.tokens.partner(partner["id"]),
            json={"what_changed": "News."},
        )
        assert r.status_code == 201, r.text
        await send(stack)

    r = await stack.partners.post(
        f"{API}/webhooks/{hook['id']}/rotate-secret", headers=staff, json={}
    )
    assert r.status_code == 200, r.text
    new_secret = r.json()["secret"]
    assert new_secret != hook["secret"] and r.json()["previous_secret_expires_at"]
    # Still verifying with the old secret: accepted (both sign meanwhile).
    receiver.secrets = {"crm": hook["secret"]}
    await an_update()
    assert len(receiver.seen("crm")) == 1
    # Switched to the new one: accepted.
    receiver.secrets = {"crm": new_secret}
    await an_update()
    assert len(receiver.seen("crm")) == 2
    # Rotated again with no overlap: the old secret no longer verifies.
    r = await stack.partners.post(
        f"{API}/webhooks/{hook['id']}/rotate-secret", headers=staff, json={"overlap_seconds": 0}
    )
    newest = r.json()["secret"]
    await an_update()
    assert receiver.rejected == 1 and len(receiver.seen("crm")) == 2
    receiver.secrets = {"crm": newest}
    await make_due(stack)
    await send(stack)
    assert len(receiver.seen("crm")) == 3


async def test_each_side_hears_only_of_its_own_events(hooks: Stack, receiver: Receiver) -> None:
    stack = hooks
    funder = await stack.new_funder()
    other_funder = await stack.new_funder()
    a = await stack.new_partner(funder["id"])
    b = await stack.new_partner(funder["id"])
    types = ["update.replied", "thread.message", "round.opened"]
    hook_a = await register(stack, stack.tokens.partner(a["id"]), receiver.url("a"), types)
    hook_b = await register(stack, stack.tokens.partner(b["id"]), receiver.url("b"), types)
    hook_g = await register(
        stack, stack.tokens.staff(other_funder["id"]), receiver.url("g"), ["update.received"]
    )
    receiver.secrets = {"a": hook_a["secret"], "b": hook_b["secret"], "g": hook_g["secret"]}
    await receiver.start()
    staff = stack.tokens.staff(funder["id"])
    r = await stack.partners.post(
        f"{API}/updates", headers=stack.tokens.partner(a["id"]), json={"what_changed": "A's news"}
    )
    await stack.partners.post(
        f"{API}/updates/{r.json()['id']}/replies", headers=staff, json={"body": "For A"}
    )
    await stack.feedback.post(
        f"{API}/threads",
        headers=staff,
        json={"partner_id": a["id"], "subject": "A only", "body": "Private to A"},
    )
    await stack.deliver_events()
    await send(stack)
    assert sorted(p["type"] for p in receiver.seen("a").values()) == [
        "thread.message",
        "update.replied",
    ]
    assert receiver.seen("b") == {} and receiver.seen("g") == {}
    # Nor can B read or redeliver A's endpoint: it does not exist for B.
    as_b = stack.tokens.partner(b["id"])
    assert (
        await stack.partners.get(f"{API}/webhooks/{hook_a['id']}", headers=as_b)
    ).status_code == 404
    assert (
        await stack.partners.get(f"{API}/webhooks/{hook_a['id']}/deliveries", headers=as_b)
    ).status_code == 404
    # The owner removes its endpoint, and its log goes with it.
    as_a = stack.tokens.partner(a["id"])
    r = await stack.partners.delete(f"{API}/webhooks/{hook_a['id']}", headers=as_b)
    assert r.status_code == 404
    r = await stack.partners.delete(f"{API}/webhooks/{hook_a['id']}", headers=as_a)
    assert r.status_code == 200 and r.json()["id"] == hook_a["id"]
    r = await stack.partners.get(f"{API}/webhooks/{hook_a['id']}/deliveries", headers=as_a)
    assert r.status_code == 404
    # A partner cannot subscribe to what only its funder sees.
    r = await stack.partners.post(
        f"{API}/webhooks",
        headers=as_b,
        json={"url": receiver.url("b"), "event_types": ["update.received"]},
    )
    assert r.status_code == 409, r.text


async def test_a_run_of_failures_disables_the_endpoint_and_mails_who_registered_it(
    hooks: Stack, smtp: tuple[Inbox, str]
) -> None:
    stack = hooks
    inbox, _ = smtp
    funder = await stack.new_funder()
    partner = await stack.new_partner(funder["id"])
    # A person of the funder's staff, signed in (their token names them as person:<id>).
    sub = f"dev-{uuid.uuid4().hex[:6]}@funder.test"
    person = Person(email=sub, email_key=sub, name="Dev Lead", created_at=datetime.now(UTC))
    async with stack.apps["partners"].state.db.sessionmaker() as session, session.begin():
        session.add(person)
    staff = stack.tokens.headers(
        stack.tokens.issuer.mint(
            sub=f"person:{person.id}",
            roles=["funder_staff"],
            client_id="trellis-console",
            funder_id=funder["id"],
        )
    )
    dead = f"http://127.0.0.1:{free_port()}/gone"  # nothing listens there
    hook = await register(stack, staff, dead, ["update.received"])
    for _ in range(3):
        r = await stack.partners.post(
            f"{API}/updates",
            headers=stack.tokens.partner(partner["id"]),
            json={"what_changed": "News."},
        )
        assert r.status_code == 201
        await make_due(stack)
        await send(stack)
    r = await stack.partners.get(f"{API}/webhooks/{hook['id']}", headers=staff)
    assert r.json()["enabled"] is False and "3 failed" in r.json()["disabled_reason"]
    await stack.apps["partners"].state.mailer.drain()
    mails = [m for m in inbox.messages if m["To"] == sub]
    assert len(mails) == 1 and dead in mails[0].get_content()
    # Disabled: nothing more is tried, and the events wait.
    tried = sum(d["attempts"] for d in await deliveries(stack, staff, hook["id"]))
    await make_due(stack)
    await send(stack)
    log = await deliveries(stack, staff, hook["id"])
    assert sum(d["attempts"] for d in log) == tried
    # The two queued before it was disabled wait; the third event came while it was disabled.
    assert len(log) == 2 and {d["status"] for d in log} == {"pending"}
    r = await stack.partners.put(
        f"{API}/webhooks/{hook['id']}", headers=staff, json={"enabled": True}
    )
    assert r.status_code == 200 and r.json()["enabled"] is True
    assert r.json()["consecutive_failures"] == 0


# SSRF ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hook",
        "https://10.1.2.3/hook",
        "https://[::1]/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://localhost/hook",
        "http://93.184.215.14/hook",  # public, but not https
    ],
)
async def test_non_public_destinations_are_refused_by_default(stack: Stack, url: str) -> None:
    funder = await stack.new_funder()
    r = await stack.partners.post(
        f"{API}/webhooks",
        headers=stack.tokens.staff(funder["id"]),
        json={"url": url, "event_types": ["update.received"]},
    )
    assert r.status_code == 422, r.text
    assert "url" in r.json()["errors"]


async def test_a_name_resolving_to_a_private_address_is_refused_at_registration_and_delivery(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    answers = {"crm.example.org": ["10.0.0.7"]}

    async def fake_lookup(host: str, port: int) -> list[str]:
        return answers[host]

    monkeypatch.setattr(netguard, "lookup", fake_lookup)
    funder = await stack.new_funder()
    partner = await stack.new_partner(funder["id"])
    staff = stack.tokens.staff(funder["id"])
    body = {"url": "https://crm.example.org/hook", "event_types": ["update.received"]}
    r = await stack.partners.post(f"{API}/webhooks", headers=staff, json=body)
    assert r.status_code == 422 and "10.0.0.7" in r.json()["detail"]
    # One public and one private address is still refused: every address is checked.
    answers["crm.example.org"] = ["93.184.215.14", "127.0.0.1"]
    r = await stack.partners.post(f"{API}/webhooks", headers=staff, json=body)
    assert r.status_code == 422
    # Public at registration, private at delivery time (DNS rebinding): refused, never sent.
    answers["crm.example.org"] = ["93.184.215.14"]
    hook = (await stack.partners.post(f"{API}/webhooks", headers=staff, json=body)).json()
    answers["crm.example.org"] = ["127.0.0.1"]
    r = await stack.partners.post(
        f"{API}/updates",
        headers=stack.tokens.partner(partner["id"]),
        json={"what_changed": "News."},
    )
    assert r.status_code == 201
    app = stack.apps["partners"]
    sent: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(204)

    dispatcher = WebhookDispatcher(
        app.state.db,
        app.state.mailer,
        base_url="http://partners.test",
        allow_private=False,
        timeout=5,
        max_attempts=5,
        max_backoff=60,
        disable_after=100,
        poll_interval=1,
    )
    # Whatever this round sends is recorded, never put on the wire.
    await dispatcher.http.aclose()
    dispatcher.http = httpx.AsyncClient(transport=httpx.MockTransport(record))
    await dispatcher.deliver_due()
    await dispatcher.stop()
    log = await deliveries(stack, staff, hook["id"])
    assert log[0]["status"] == "pending" and log[0]["attempts"] == 1
    assert "127.0.0.1" in log[0]["last_error"]
    assert not [s for s in sent if s.headers.get("host") == "crm.example.org"]


async def test_round_opened_reaches_invited_partners_and_no_answer_is_ever_told(
    hooks: Stack, receiver: Receiver
) -> None:
    stack = hooks
    f = await new_feedback_funder(stack, partners=2)
    await f.commitment("We answer within two weeks")
    all_partner_types = ["update.replied", "thread.message", "grant.approved", "round.opened"]
    hooks_ = [
        await register(stack, f.partner(i), receiver.url(f"p{i}"), all_partner_types)
        for i in range(2)
    ]
    staff_hook = await register(
        stack, f.staff, receiver.url("staff"), ["round.opened", "update.received"]
    )
    receiver.secrets = {"p0": hooks_[0]["secret"], "p1": hooks_[1]["secret"]}
    receiver.secrets["staff"] = staff_hook["secret"]
    await receiver.start()
    round_ = await f.round()
    await stack.deliver_events()
    await send(stack)
    for path in ("p0", "p1"):
        (opened,) = receiver.seen(path).values()
        assert opened["type"] == "round.opened"
        # A partner learns of the round, not which other partners were invited.
        assert opened["data"] == {
            "round_id": round_["id"],
            "funder_id": f.id,
            "title": round_["title"],
            "closes_on": round_["closes_on"],
        }
    (opened,) = receiver.seen("staff").values()
    assert set(opened["data"]) == {"round_id", "funder_id", "title", "opens_on", "closes_on"}
    # Answers, named or anonymous, raise no event anyone's webhook hears.
    await f.answer(round_, 0, [4])
    await f.answer(round_, 1, [5], anonymous=True)
    await stack.deliver_events()
    async with stack.apps["partners"].state.db.sessionmaker() as session:
        mine = {uuid.UUID(h["id"]) for h in [*hooks_, staff_hook]}
        rows = (
            await session.execute(
                select(WebhookDelivery).where(WebhookDelivery.endpoint_id.in_(mine))
            )
        ).scalars()
        assert sorted(r.event_type for r in rows) == ["round.opened"] * 3


async def test_grant_and_payment_events_reach_their_funder_and_partner_only(
    hooks: Stack, receiver: Receiver
) -> None:
    stack = hooks
    ours = await new_funding_funder(stack)
    theirs = await new_funding_funder(stack)
    types = ["grant.approved", "instalment.paid"]
    paths = {
        "staff": await register(stack, ours.staff, receiver.url("staff"), types),
        "partner": await register(stack, ours.partner_headers, receiver.url("partner"), types),
        "other-staff": await register(stack, theirs.staff, receiver.url("other-staff"), types),
        "other-partner": await register(
            stack, theirs.partner_headers, receiver.url("other-partner"), types
        ),
    }
    receiver.secrets = {path: hook["secret"] for path, hook in paths.items()}
    await receiver.start()
    grant = await ours.awarded()
    schedule = await ours.schedule(grant)
    instalment = schedule["instalments"][0] if isinstance(schedule, dict) else schedule[0]
    r = await ours.pay(instalment["id"])
    assert r.status_code == 201, r.text
    await stack.deliver_events()
    await send(stack)
    for path in ("staff", "partner"):
        seen = {p["type"]: p["data"] for p in receiver.seen(path).values()}
        assert set(seen) == {"grant.approved", "instalment.paid"}
        assert seen["grant.approved"]["grant_id"] == grant["id"]
        assert seen["instalment.paid"]["amount"] == instalment["amount"]
    assert receiver.seen("other-staff") == {} and receiver.seen("other-partner") == {}
