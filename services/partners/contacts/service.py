"""The rules of contacts, and erasure. Keyword-only functions; they flush, never commit.

Erasure (``erase_contact``) removes a person's personal data everywhere this
service keeps it: the contact itself; its audit entries, which keep that a
change happened and which fields it touched but no longer the values; and any
place their name, email or phone was written about the same partner: the
partner's description, interactions (summaries, participants), updates and
replies, document titles, who recorded or sent them (a person may sign in
with their email), timeline lines, and the audit entries of those records
(values and actor), queued event payloads and stored idempotent answers.
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
from services.partners.organisations.models import Partner
from services.partners.timeline.models import TimelineEntry
from services.partners.updates.models import Reply, Update

NOT_FOUND = "There is no contact with this id."
ERASED = "[erased]"
PERSONAL_FIELDS = ("name", "role", "email", "phone")
MIN_NEEDLE = 3
#: Where free text about a partner is kept, by record type.
TEXT_FIELDS: dict[type, tuple[str, ...]] = {
    Partner: ("description",),
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


async def erase_contact(
    *, session: AsyncSession, caller: Caller, contact_id: uuid.UUID
) -> tuple[Contact, datetime]:
    """Erase a person on request: the partner, or staff of a funder the partner shares with."""
    contact = await get_contact(session=session, caller=caller, contact_id=contact_id)
    partner_id, contact_key = contact.partner_id, str(contact.id)
    own_entries = await repository.audit_entries_of(
        session, entity_type="contact", entity_ids=[contact_key]
    )
    patterns = _patterns(contact, [e.changes for e in own_entries if isinstance(e.changes, dict)])

    for entry in own_entries:
        changed = sorted(entry.changes) if isinstance(entry.changes, dict) else []
        entry.changes = {"fields": changed, "erased": True}
        _scrub_attributes(entry, ("actor",), patterns)

    records = [r for r in await repository.partner_records(session, partner_id) if r is not contact]
    for record in records:
        fields = TEXT_FIELDS.get(type(record))
        if fields:
            _scrub_attributes(record, fields, patterns)
    record_ids = sorted({str(partner_id), *(str(r.id) for r in records)})
    for entry in await repository.audit_entries_of(session, entity_type="", entity_ids=record_ids):
        _scrub_attributes(entry, ("changes", "actor"), patterns)
    # Stored answers and queued events name the partner, the contact, or an update's thread.
    keys = [str(partner_id), contact_key, *(str(r.id) for r in records if isinstance(r, Update))]
    for message in await repository.outbox_mentioning(session, keys):
        _scrub_attributes(message, ("payload",), patterns)
    for stored in await repository.idempotency_mentioning(session, keys):
        _scrub_attributes(stored, ("owner",), patterns)
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
