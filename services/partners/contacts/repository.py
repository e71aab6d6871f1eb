"""All SQL of contacts, and the queries erasure needs to find where personal data is kept."""

import uuid
from typing import Any

from sqlalchemy import ColumnElement, Text, cast, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.lists import ListQuery, Page, fetch_page, parse_uuid_list
from services.common.models import AuditEntry, IdempotencyRecord, OutboxMessage
from services.partners.contacts.models import Contact
from services.partners.documents.models import Document
from services.partners.interactions.models import Interaction
from services.partners.organisations.models import Partner
from services.partners.relationships.models import SHARING_ACCEPTED, Relationship
from services.partners.timeline.models import TimelineEntry
from services.partners.updates.models import Reply, Update

SORTS: dict[str, ColumnElement[Any]] = {
    "name": Contact.name,
    "created_at": Contact.created_at,
    "updated_at": Contact.updated_at,
}


async def get(session: AsyncSession, contact_id: uuid.UUID) -> Contact | None:
    return await session.get(Contact, contact_id)


async def list_contacts(
    session: AsyncSession,
    query: ListQuery,
    *,
    funder_id: uuid.UUID | None = None,
    partner_id: uuid.UUID | None = None,
) -> Page:
    stmt = select(Contact)
    if funder_id is not None:
        # Only organisations that share their own data with this funder.
        partners = select(Relationship.partner_id).where(
            Relationship.funder_id == funder_id, Relationship.sharing == SHARING_ACCEPTED
        )
        stmt = stmt.where(Contact.partner_id.in_(partners))
    if partner_id is not None:
        stmt = stmt.where(Contact.partner_id == partner_id)
    filters = query.filters
    if "id" in filters:
        stmt = stmt.where(Contact.id.in_(parse_uuid_list("id", filters["id"])))
    if "partner_id" in filters:
        stmt = stmt.where(
            Contact.partner_id.in_(parse_uuid_list("partner_id", filters["partner_id"]))
        )
    if filters.get("q"):
        needle = str(filters["q"]).lower()
        stmt = stmt.where(
            or_(
                func.lower(Contact.name).contains(needle, autoescape=True),
                func.lower(Contact.role).contains(needle, autoescape=True),
            )
        )
    return await fetch_page(session, stmt, query, sort_columns=SORTS, id_column=Contact.id)


# Where a contact's personal data may be kept ------------------------------------------------


async def audit_entries_of(
    session: AsyncSession, *, entity_type: str, entity_ids: list[str]
) -> list[AuditEntry]:
    found: list[AuditEntry] = []
    for start in range(0, len(entity_ids), 500):
        chunk = entity_ids[start : start + 500]
        stmt = select(AuditEntry).where(AuditEntry.entity_id.in_(chunk))
        if entity_type:
            stmt = stmt.where(AuditEntry.entity_type == entity_type)
        found.extend((await session.execute(stmt)).scalars())
    return found


async def audit_entries_by(session: AsyncSession, actors: list[str]) -> list[AuditEntry]:
    """Audit entries whose actor is one of ``actors`` (compared without case)."""
    if not actors:
        return []
    stmt = select(AuditEntry).where(func.lower(AuditEntry.actor).in_(actors))
    return list((await session.execute(stmt)).scalars())


async def partner_records(session: AsyncSession, partner_id: uuid.UUID) -> list[Any]:
    """Every record about one partner that holds free text: where a name may be written."""
    records: list[Any] = []
    partner = await session.get(Partner, partner_id)
    if partner is not None:
        records.append(partner)
    for model in (Interaction, Document, Update, TimelineEntry, Contact):
        stmt = select(model).where(model.partner_id == partner_id)  # type: ignore[attr-defined]
        records.extend((await session.execute(stmt)).scalars())
    stmt = (
        select(Reply)
        .join(Update, Update.id == Reply.update_id)
        .where(Update.partner_id == partner_id)
    )
    records.extend((await session.execute(stmt)).scalars())
    return records


async def outbox_mentioning(session: AsyncSession, keys: list[str]) -> list[OutboxMessage]:
    text = cast(OutboxMessage.payload, Text)
    stmt = select(OutboxMessage).where(or_(*(text.contains(k, autoescape=True) for k in keys)))
    return list((await session.execute(stmt)).scalars())


async def idempotency_mentioning(session: AsyncSession, keys: list[str]) -> list[IdempotencyRecord]:
    """Stored first answers (JSON bytes) that mention one of ``keys``."""
    if session.get_bind().dialect.name == "postgresql":
        text: Any = func.convert_from(IdempotencyRecord.body, "UTF8")
    else:
        text = cast(IdempotencyRecord.body, Text)
    stmt = select(IdempotencyRecord).where(
        IdempotencyRecord.body.is_not(None), or_(*(text.contains(k, autoescape=True) for k in keys))
    )
    return list((await session.execute(stmt)).scalars())
