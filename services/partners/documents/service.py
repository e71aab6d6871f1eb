"""The rules of documents. Keyword-only functions; they flush, never commit."""

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.common import audit
from services.common.auth import Caller
from services.common.concurrency import check_if_match
from services.common.errors import BadRequest, Forbidden, NotFound
from services.common.lists import ListQuery, Page
from services.partners.access import (
    actor_name,
    can_see_partner,
    check_partner_field,
    own_partner_id,
    shares_with_caller,
)
from services.partners.documents import repository
from services.partners.documents.models import Document
from services.partners.documents.schemas import DocumentCreate, DocumentUpdate
from services.partners.timeline import service as timeline_service

NOT_FOUND = "There is no document with this id."
KIND_WORDS = {
    "annual_report": "Annual report",
    "accounts": "Accounts",
    "strategy": "Strategy",
    "policy": "Policy",
    "other": "Document",
}


def _fields(document: Document) -> dict[str, Any]:
    return {
        "partner_id": str(document.partner_id),
        "title": document.title,
        "kind": document.kind,
        "year": document.year,
        "url": document.url,
    }


async def _sync_timeline(session: AsyncSession, document: Document) -> None:
    year = f" {document.year}" if document.year else ""
    await timeline_service.record(
        session,
        kind="document",
        source_id=document.id,
        partner_id=document.partner_id,
        funder_id=document.funder_id,
        occurred_at=document.created_at,
        title=f"{KIND_WORDS[document.kind]}{year}: {document.title}",
        summary=None,
        data={"kind": document.kind, "year": document.year, "url": document.url},
    )


async def create_document(
    *, session: AsyncSession, caller: Caller, data: DocumentCreate
) -> Document:
    """A partner adds a link to its own document; staff may add a link they found."""
    if caller.own_partner_id is not None:
        partner_id = own_partner_id(caller, data.partner_id)
        funder_id = None
    else:
        if data.partner_id is None:
            message = "Say which partner this document belongs to."
            raise BadRequest(message, errors={"partner_id": [message]})
        await check_partner_field(session, caller, data.partner_id)
        partner_id, funder_id = data.partner_id, caller.staff_funder_id
    document = Document(
        partner_id=partner_id,
        funder_id=funder_id,
        title=data.title,
        kind=data.kind,
        year=data.year,
        url=data.url,
        added_by=actor_name(caller),
        version=1,
    )
    session.add(document)
    await session.flush()
    audit.record(
        session,
        caller=caller,
        action="create",
        entity_type="document",
        entity_id=document.id,
        changes=_fields(document),
    )
    await _sync_timeline(session, document)
    return document


async def get_document(
    *, session: AsyncSession, caller: Caller, document_id: uuid.UUID
) -> Document:
    """A partner sees every document about itself; staff see the links their funder added
    (partners in relationship with their funder) and the partner's own documents once the
    partner shares with their funder."""
    document = await repository.get(session, document_id)
    if document is not None:
        if caller.own_partner_id is not None and document.partner_id == caller.own_partner_id:
            return document
        funder_id = caller.staff_funder_id
        if funder_id is not None:
            if document.funder_id == funder_id and await can_see_partner(
                session, caller, document.partner_id
            ):
                return document
            if document.funder_id is None and await shares_with_caller(
                session, caller, document.partner_id
            ):
                return document
    raise NotFound(NOT_FOUND)


async def list_documents(*, session: AsyncSession, caller: Caller, query: ListQuery) -> Page:
    partner_id = caller.own_partner_id
    if partner_id is not None:
        return await repository.list_documents(session, query, partner_id=partner_id)
    funder_id = caller.staff_funder_id
    assert funder_id is not None
    return await repository.list_documents(session, query, funder_id=funder_id)


async def _editable(session: AsyncSession, caller: Caller, document_id: uuid.UUID) -> Document:
    document = await get_document(session=session, caller=caller, document_id=document_id)
    added_by_partner = document.funder_id is None
    by_partner = caller.own_partner_id is not None
    if by_partner and not added_by_partner:
        raise Forbidden("Your funder's staff added this link; ask them to change or remove it.")
    if not by_partner and added_by_partner:
        raise Forbidden("The partner added this document; only the partner changes or removes it.")
    return document


async def update_document(
    *,
    session: AsyncSession,
    caller: Caller,
    document_id: uuid.UUID,
    data: DocumentUpdate,
    if_match: str | None,
) -> Document:
    document = await _editable(session, caller, document_id)
    check_if_match(if_match, document)
    changes = {k: v for k, v in data.changes().items() if v is not None or k == "year"}
    for field, value in changes.items():
        setattr(document, field, value)
    await session.flush()
    audit.record(
        session,
        caller=caller,
        action="update",
        entity_type="document",
        entity_id=document.id,
        changes=changes,
    )
    await _sync_timeline(session, document)
    return document


async def delete_document(
    *, session: AsyncSession, caller: Caller, document_id: uuid.UUID, if_match: str | None
) -> Document:
    document = await _editable(session, caller, document_id)
    check_if_match(if_match, document)
    await session.delete(document)
    await session.flush()
    audit.record(
        session,
        caller=caller,
        action="delete",
        entity_type="document",
        entity_id=document.id,
        changes={"partner_id": str(document.partner_id)},
    )
    await timeline_service.remove(session, kind="document", source_ids=[document.id])
    return document
