"""The rules of contacts, and erasure. Keyword-only functions; they flush, never commit.

Erasure (``erase_contact``) removes a person's personal data from the records
*about that person*, found by their links, never by searching other records for
words: the contact itself; its audit entries, which keep that a change happened
and which fields it touched but no longer the values; queued events and stored
idempotent answers about the contact; and, where the person signed in with their
email (the identity a token carries), what they wrote themselves (their updates
and replies, documents they added, interactions they recorded) and every "who
did it" that names them. Notes other people wrote (a funder's interaction
summaries, the organisation's description) are theirs and keep their words,
even when a word happens to be the person's name: erasing a contact called
"director" must not rewrite "director" in a funder's private notes.
"""

import re
import uuid
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from services.common import audit
from services.common.auth import Caller
from services.common.concurrency import check_if_match
from services.common.db import utcnow
from services.common.errors import NotFound
from services.common.lists import ListQuery, Page
from services.partners.access import shares_with_caller
from services.partners.contacts import repository
from services.partners.contacts.models import Contact
from services.partners.contacts.schemas import ContactCreate, ContactUpdate
from services.partners.documents.models import Document
from services.partners.interactions.models import Interaction
from services.partners.timeline.models import TimelineEntry
from services.partners.updates.models import Reply, Update

NOT_FOUND = "There is no contact with this id."
ERASED = "[erased]"
PERSONAL_FIELDS = ("name", "role", "email", "phone")
MIN_NEEDLE = 3
#: Where free text about a partner is kept, by record type.
#: Where each kind of record says who wrote it (a caller's identity, e.g. an email).
AUTHOR_FIELDS: dict[type, str] = {
    Interaction: "recorded_by",
    Document: "added_by",
    Update: "sent_by",
    Reply: "author",
}
#: The free text of a record the person wrote, where they may have written about themselves.
TEXT_FIELDS: dict[type, tuple[str, ...]] = {
    Interaction: ("summary", "participants", "private_reason", "recorded_by"),
    Document: ("title", "added_by"),
    Update: (
        "what_changed",
        "what_we_learned",
        "what_was_hard",
        "want_you_to_know",
        "links",
        "sent_by",
    ),
    Reply: ("body", "author"),
    TimelineEntry: ("title", "summary", "data"),
}


def _fields(contact: Contact) -> dict[str, Any]:
    return {f: getattr(contact, f) for f in PERSONAL_FIELDS}


async def create_contact(*, session: AsyncSession, caller: Caller, data: ContactCreate) -> Contact:
    """A partner adds a person at its organisation."""
    partner_id = caller.own_partner_id
    assert partner_id is not None
    contact = Contact(partner_id=partner_id, **data.model_dump(), version=1)
    session.add(contact)
    await session.flush()
    audit.record(
        session,
        caller=caller,
        action="create",
        entity_type="contact",
        entity_id=contact.id,
        changes=_fields(contact),
    )
    return contact


async def get_contact(*, session: AsyncSession, caller: Caller, contact_id: uuid.UUID) -> Contact:
    """The partner's own contacts; staff see those of partners that share with their funder."""
    contact = await repository.get(session, contact_id)
    if contact is None or not await shares_with_caller(session, caller, contact.partner_id):
        raise NotFound(NOT_FOUND)
    return contact


async def list_contacts(*, session: AsyncSession, caller: Caller, query: ListQuery) -> Page:
    partner_id = caller.own_partner_id
    if partner_id is not None:
        return await repository.list_contacts(session, query, partner_id=partner_id)
    funder_id = caller.staff_funder_id
    assert funder_id is not None
    return await repository.list_contacts(session, query, funder_id=funder_id)


async def _own_contact(session: AsyncSession, caller: Caller, contact_id: uuid.UUID) -> Contact:
    contact = await repository.get(session, contact_id)
    if (
        contact is None
        or caller.own_partner_id is None
        or contact.partner_id != caller.own_partner_id
    ):
        raise NotFound(NOT_FOUND)
    return contact


async def update_contact(
    *,
    session: AsyncSession,
    caller: Caller,
    contact_id: uuid.UUID,
    data: ContactUpdate,
    if_match: str | None,
) -> Contact:
    """A partner changes one of its contacts."""
    contact = await _own_contact(session, caller, contact_id)
    check_if_match(if_match, contact)
    changes = {k: v for k, v in data.changes().items() if v is not None or k != "name"}
    for field, value in changes.items():
        setattr(contact, field, value)
    await session.flush()
    audit.record(
        session,
        caller=caller,
        action="update",
        entity_type="contact",
        entity_id=contact.id,
        changes=changes,
    )
    return contact


# Erasure -------------------------------------------------------------------------------------


def _patterns(contact: Contact, history: list[dict[str, Any]]) -> list[re.Pattern[str]]:
    """What identifies the person: their name, email and phone, now and as they were."""
    values = [contact.name, contact.email, contact.phone]
    for changes in history:
        values.extend(changes.get(f) for f in ("name", "email", "phone"))
    needles = {v.strip() for v in values if isinstance(v, str) and len(v.strip()) >= MIN_NEEDLE}
    # Longest first, so an email is removed whole before a name inside it.
    return [re.compile(re.escape(n), re.IGNORECASE) for n in sorted(needles, key=len, reverse=True)]


def _identities(contact: Contact, history: list[dict[str, Any]]) -> set[str]:
    """The person's sign-in identities: their emails, now and as they were (lower case)."""
    values = [contact.email, *(changes.get("email") for changes in history)]
    return {v.strip().lower() for v in values if isinstance(v, str) and v.strip()}


def _scrub(value: Any, patterns: list[re.Pattern[str]]) -> Any:
    """``value`` with every mention replaced, through lists and objects."""
    if isinstance(value, str):
        for pattern in patterns:
            value = pattern.sub(ERASED, value)
        return value
    if isinstance(value, list):
        return [_scrub(v, patterns) for v in value]
    if isinstance(value, dict):
        return {k: _scrub(v, patterns) for k, v in value.items()}
    return value


def _scrub_attributes(
    record: Any, fields: tuple[str, ...], patterns: list[re.Pattern[str]]
) -> None:
    for field in fields:
        value = getattr(record, field)
        cleaned = _scrub(value, patterns)
        if cleaned != value:
            setattr(record, field, cleaned)


def _scrub_bytes(body: bytes, patterns: list[re.Pattern[str]]) -> bytes:
    try:
        return orjson.dumps(_scrub(orjson.loads(body), patterns))
    except orjson.JSONDecodeError:
        return _scrub(body.decode("utf-8", "replace"), patterns).encode()


def _is_identity(value: Any, identities: set[str]) -> bool:
    return isinstance(value, str) and value.strip().lower() in identities


async def erase_contact(
    *, session: AsyncSession, caller: Caller, contact_id: uuid.UUID
) -> tuple[Contact, datetime]:
    """Erase a person on request: the partner, or staff of a funder the partner shares with."""
    contact = await get_contact(session=session, caller=caller, contact_id=contact_id)
    partner_id, contact_key = contact.partner_id, str(contact.id)
    own_entries = await repository.audit_entries_of(
        session, entity_type="contact", entity_ids=[contact_key]
    )
    history = [e.changes for e in own_entries if isinstance(e.changes, dict)]
    patterns = _patterns(contact, history)
    identities = _identities(contact, history)

    for entry in own_entries:
        changed = sorted(entry.changes) if isinstance(entry.changes, dict) else []
        entry.changes = {"fields": changed, "erased": True}
        if _is_identity(entry.actor, identities):
            entry.actor = ERASED

    # What the person wrote themselves, found by the identity they signed in with.
    authored = []
    if identities:
        records = await repository.partner_records(session, partner_id)
        for record in records:
            author_field = AUTHOR_FIELDS.get(type(record))
            if author_field and _is_identity(getattr(record, author_field), identities):
                authored.append(record)
                _scrub_attributes(record, TEXT_FIELDS[type(record)], patterns)
                setattr(record, author_field, ERASED)
        sources = {r.id for r in authored}
        for record in records:
            if isinstance(record, TimelineEntry) and record.source_id in sources:
                authored.append(record)
                _scrub_attributes(record, TEXT_FIELDS[TimelineEntry], patterns)
    authored_ids = [str(r.id) for r in authored]
    for entry in await repository.audit_entries_of(
        session, entity_type="", entity_ids=authored_ids
    ):
        _scrub_attributes(entry, ("changes",), patterns)
    for entry in await repository.audit_entries_by(session, sorted(identities)):
        entry.actor = ERASED
    # Queued events and stored answers about the contact or what the person wrote.
    keys = [contact_key, *authored_ids]
    for message in await repository.outbox_mentioning(session, keys):
        _scrub_attributes(message, ("payload",), patterns)
    for stored in await repository.idempotency_mentioning(session, keys):
        if _is_identity(stored.owner, identities):
            stored.owner = ERASED
        if stored.body:
            cleaned = _scrub_bytes(stored.body, patterns)
            if cleaned != stored.body:
                stored.body = cleaned

    await session.delete(contact)
    await session.flush()
    erased_at = utcnow()
    audit.record(
        session,
        caller=caller,
        action="erase",
        entity_type="contact",
        entity_id=contact_key,
        changes={"partner_id": str(partner_id), "fields": list(PERSONAL_FIELDS)},
    )
    return contact, erased_at
