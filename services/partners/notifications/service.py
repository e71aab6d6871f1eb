"""The rules of email notifications: who gets what, their choices, and unsubscribing.

Events (other services' through ``/internal/events``, this service's own through
``on_local_event``) become drafts (``messages.py``), and each draft becomes one
queued notification per person it concerns who has not turned it off, in the
transaction that received the event. The sender (``sender.py``) mails them.
Keyword-only; they flush, never commit.
"""

import base64
import hashlib
import hmac
import secrets
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.common import audit
from services.common.auth import Caller
from services.common.db import utcnow
from services.common.errors import Forbidden, NotFound, Unprocessable
from services.common.events import Event, EventHandler
from services.partners.notifications import messages, repository
from services.partners.notifications.catalogue import DAILY, DIGEST, IMMEDIATE, KINDS, NAMES
from services.partners.notifications.messages import Draft, Names
from services.partners.notifications.models import PENDING
from services.partners.notifications.schemas import NotificationPreferencesUpdate

NOT_A_PERSON = (
    "Notification preferences belong to a person who signs in; this token is not a "
    "person's (a system's or a developer's token). Sign in as yourself."
)
BAD_LINK = "This unsubscribe link is not one Trellis sent, or it was changed. Nothing was changed."


def person_of(caller: Caller) -> uuid.UUID:
    """The signed-in person behind a token (``sub`` is ``person:<id>``)."""
    sub = caller.sub or ""
    if sub.startswith("person:"):
        try:
            return uuid.UUID(sub.removeprefix("person:"))
        except ValueError:
            pass
    raise Forbidden(NOT_A_PERSON, slug="not-a-person")


# Preferences ----------------------------------------------------------------------------------


async def _person_and_kinds(session: AsyncSession, caller: Caller) -> tuple[Any, list[str]]:
    person_id = person_of(caller)
    person = await repository.person(session, person_id)
    if person is None:
        raise Forbidden(NOT_A_PERSON, slug="not-a-person")
    sides = await repository.audiences(session, person_id)
    return person, [name for name in NAMES if KINDS[name].audience in sides]


async def preferences(*, session: AsyncSession, caller: Caller, digest_hour: int) -> dict[str, Any]:
    """The caller's choices for every notification of the sides they are on."""
    person, kinds = await _person_and_kinds(session, caller)
    chosen = await repository.preferences(session, [person.id], kinds)
    choices = []
    for name in kinds:
        pref = chosen.get((person.id, name))
        choices.append(
            {
                "notification": name,
                "audience": KINDS[name].audience,
                "description": KINDS[name].description,
                "enabled": pref.enabled if pref else True,
                "frequency": pref.frequency if pref else IMMEDIATE,
            }
        )
    return {
        "id": person.id,
        "email": person.email,
        "digest_hour_utc": digest_hour,
        "notifications": choices,
    }


async def update_preferences(
    *,
    session: AsyncSession,
    caller: Caller,
    data: NotificationPreferencesUpdate,
    digest_hour: int,
) -> dict[str, Any]:
    """Change some of the caller's choices; what they turn off and was waiting is not sent."""
    person, kinds = await _person_and_kinds(session, caller)
    names = [c.notification for c in data.notifications]
    wrong = [n for n in names if n not in kinds]
    if wrong:
        message = (
            f"{wrong[0]} is not sent to you: your memberships receive "
            + (", ".join(kinds) or "no notifications")
            + "."
        )
        raise Unprocessable(message, errors={"notifications": [message]})
    if len(set(names)) != len(names):
        message = "Name each notification once."
        raise Unprocessable(message, errors={"notifications": [message]})
    now = utcnow()
    current = await repository.preferences(session, [person.id], names)
    off: list[str] = []
    for change in data.notifications:
        pref = current.get((person.id, change.notification))
        enabled = change.enabled if change.enabled is not None else (pref.enabled if pref else True)
        frequency = change.frequency or (pref.frequency if pref else IMMEDIATE)
        await repository.set_preference(
            session,
            person_id=person.id,
            notification=change.notification,
            enabled=enabled,
            frequency=frequency,
            at=now,
        )
        if not enabled:
            off.append(change.notification)
    if off:
        await repository.skip_pending(session, person_id=person.id, notifications=off, at=now)
    audit.record(
        session,
        caller=caller,
        action="update",
        entity_type="notification_preferences",
        entity_id=person.id,
        changes={"notifications": [c.model_dump(exclude_none=True) for c in data.notifications]},
    )
    session.expire_all()
    return await preferences(session=session, caller=caller, digest_hour=digest_hour)


# Unsubscribe links ----------------------------------------------------------------------------


def _signature(key: str, person_id: uuid.UUID, scope: str) -> str:
    digest = hmac.new(key.encode(), f"{person_id}:{scope}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:18]).decode()


def unsubscribe_token(key: str, person_id: uuid.UUID, scope: str) -> str:
    """``<person>.<scope>.<signature>``: signed with the person's own key, needs no sign-in."""
    return f"{person_id.hex}.{scope}.{_signature(key, person_id, scope)}"


def new_key() -> str:
    return secrets.token_urlsafe(32)


async def open_unsubscribe(*, session: AsyncSession, token: str) -> tuple[Any, str]:
    """The person and scope (a notification, or ``digest``) a link stands for."""
    parts = token.split(".")
    if len(parts) != 3 or (parts[1] not in KINDS and parts[1] != DIGEST):
        raise NotFound(BAD_LINK)
    try:
        person_id = uuid.UUID(hex=parts[0])
    except ValueError as exc:
        raise NotFound(BAD_LINK) from exc
    key = await repository.unsubscribe_key(session, person_id)
    person = await repository.person(session, person_id)
    if key is None or person is None:
        raise NotFound(BAD_LINK)
    if not hmac.compare_digest(parts[2], _signature(key, person_id, parts[1])):
        raise NotFound(BAD_LINK)
    return person, parts[1]


def describe_scope(scope: str) -> str:
    if scope == DIGEST:
        return "your daily digest of Trellis notifications"
    return f'emails about this: "{KINDS[scope].description}"'


async def unsubscribe(*, session: AsyncSession, token: str) -> tuple[Any, str]:
    """Turn off what the link stands for: one notification, or all sent in the daily digest."""
    person, scope = await open_unsubscribe(session=session, token=token)
    now = utcnow()
    if scope == DIGEST:
        chosen = await repository.preferences(session, [person.id])
        names = [n for (_, n), p in chosen.items() if p.enabled and p.frequency == DAILY]
    else:
        names = [scope]
    for name in names:
        await _turn_off(session, person.id, name, now)
    if names:
        await repository.skip_pending(session, person_id=person.id, notifications=names, at=now)
    audit.record(
        session,
        caller=Caller(sub=f"person:{person.id}"),
        action="unsubscribe",
        entity_type="notification_preferences",
        entity_id=person.id,
        changes={"notifications": names},
        funder_id=None,
        partner_id=None,
    )
    return person, scope


async def _turn_off(session: AsyncSession, person_id: uuid.UUID, name: str, at: datetime) -> None:
    current = await repository.preferences(session, [person_id], [name])
    pref = current.get((person_id, name))
    await repository.set_preference(
        session,
        person_id=person_id,
        notification=name,
        enabled=False,
        frequency=pref.frequency if pref else IMMEDIATE,
        at=at,
    )


# Queueing -------------------------------------------------------------------------------------


async def queue(*, session: AsyncSession, draft: Draft, now: datetime | None = None) -> int:
    """One notification per person the draft concerns who has it on; how many were queued.

    A person has each notification once per subject, so a redelivered event queues nothing."""
    now = now or utcnow()
    people = await repository.recipients(
        session, funder_ids=draft.funder_ids, partner_ids=draft.partner_ids
    )
    chosen = await repository.preferences(session, people, [draft.kind])
    queued = 0
    for person_id in people:
        pref = chosen.get((person_id, draft.kind))
        if pref is not None and not pref.enabled:
            continue
        await repository.queue(
            session,
            {
                "id": uuid.uuid4(),
                "person_id": person_id,
                "notification": draft.kind,
                "subject_key": draft.subject_key[:200],
                "title": draft.title[:300],
                "body": draft.body,
                "link": draft.link[:500],
                "frequency": pref.frequency if pref else IMMEDIATE,
                "status": PENDING,
                "created_at": now,
                "due_at": now,
                "attempts": 0,
            },
        )
        queued += 1
    return queued


async def names_for(*, session: AsyncSession, data: dict[str, Any]) -> Names:
    funders = await repository.funders(session, messages.ids(data.get("funder_id")))
    partners = await repository.partner_names(session, messages.ids(data.get("partner_id")))
    return Names({k: f.name for k, f in funders.items()}, partners)


DRAFTERS = {
    "update.received": messages.update_received,
    "update.replied": messages.update_replied,
    "thread.message": messages.thread_message,
    "instalment.due_soon": messages.instalment_due,
    "instalment.overdue": messages.instalment_overdue,
    "instalment.paid": messages.instalment_paid,
    "proposal.opened": messages.proposal_opened,
    "round.opened": messages.round_opened,
}


async def on_local_event(*, session: AsyncSession, event_type: str, data: dict[str, Any]) -> None:
    """An event of this service's own (an update sent or replied to): queued at once."""
    drafter = DRAFTERS.get(event_type)
    if drafter is not None:
        draft = drafter(data, await names_for(session=session, data=data))
        if draft is not None:
            await queue(session=session, draft=draft)


async def on_event(*, session: AsyncSession, event: Event) -> None:
    """Another service's event (the kit's inbox has already made it once per id)."""
    data = event.data
    if event.type == "round.opened":
        await repository.keep_round(
            session,
            {
                "round_id": messages.as_id(data["round_id"]),
                "funder_id": messages.as_id(data["funder_id"]),
                "title": str(data.get("title") or "")[:300],
                "closes_on": datetime.fromisoformat(str(data["closes_on"])).date(),
                "partner_ids": [str(p) for p in messages.ids(data.get("partner_ids") or [])],
            },
        )
    if event.type == "round.closed":
        # Marked as reminded: events may arrive out of order, and a round closed before its
        # opening was handled here is never reminded either.
        round_id, now = messages.as_id(data["round_id"]), utcnow()
        await repository.mark(session, kind="round_closing", subject_id=round_id, at=now)
        await repository.close_round(session, round_id, now)
        return
    await on_local_event(session=session, event_type=event.type, data=data)


#: What this package consumes from the other services' events.
EVENT_HANDLERS: dict[str, EventHandler] = {
    name: on_event
    for name in (
        "thread.message",
        "instalment.due_soon",
        "instalment.overdue",
        "instalment.paid",
        "proposal.opened",
        "round.opened",
        "round.closed",
    )
}
