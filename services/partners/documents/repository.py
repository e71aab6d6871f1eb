"""All SQL of documents."""

import uuid
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.errors import BadRequest
from services.common.lists import ListQuery, Page, fetch_page, filter_values, parse_uuid_list
from services.partners.access import check_boolean_filter, date_bound
from services.partners.documents.models import DOCUMENT_KINDS, Document
from services.partners.relationships.models import SHARING_ACCEPTED, Relationship

SORTS: dict[str, ColumnElement[Any]] = {
    "created_at": Document.created_at,
    "updated_at": Document.updated_at,
    "year": Document.year,
    "title": Document.title,
    "kind": Document.kind,
}


def _years(value: Any) -> list[int]:
    """A ``year`` filter value: one year or a list of them, each 1900 to 2100 as documents."""
    values = value if isinstance(value, list) else [value]
    years = []
    for item in values:
        text = str(item) if isinstance(item, int | str) and not isinstance(item, bool) else ""
        if not (text.isascii() and text.isdigit() and 1900 <= int(text) <= 2100):
            raise BadRequest(
                "The 'year' filter takes a year from 1900 to 2100, or a list of them.",
                slug="bad-list-parameter",
                errors={"filter": ["year must be a year from 1900 to 2100"]},
            )
        years.append(int(text))
    return years


async def get(session: AsyncSession, document_id: uuid.UUID) -> Document | None:
    return await session.get(Document, document_id)


async def of_partner(session: AsyncSession, partner_id: uuid.UUID) -> list[Document]:
    stmt = select(Document).where(Document.partner_id == partner_id)
    return list((await session.execute(stmt)).scalars())


async def partner_documents(
    session: AsyncSession, *, partner_id: uuid.UUID, ids: list[uuid.UUID]
) -> list[Document]:
    """The partner's own documents (added by the partner) among ``ids``."""
    if not ids:
        return []
    stmt = select(Document).where(
        Document.id.in_(ids), Document.partner_id == partner_id, Document.funder_id.is_(None)
    )
    return list((await session.execute(stmt)).scalars())


async def list_documents(
    session: AsyncSession,
    query: ListQuery,
    *,
    funder_id: uuid.UUID | None = None,
    partner_id: uuid.UUID | None = None,
) -> Page:
    """Documents a funder's staff may see, or all documents about one partner."""
    stmt = select(Document)
    if funder_id is not None:
        # The links this funder added, about partners it relates to; the partners' own
        # documents only of partners that share with this funder.
        partners = select(Relationship.partner_id).where(Relationship.funder_id == funder_id)
        sharing = select(Relationship.partner_id).where(
            Relationship.funder_id == funder_id, Relationship.sharing == SHARING_ACCEPTED
        )
        stmt = stmt.where(
            or_(
                and_(Document.funder_id == funder_id, Document.partner_id.in_(partners)),
                and_(Document.funder_id.is_(None), Document.partner_id.in_(sharing)),
            )
        )
    if partner_id is not None:
        stmt = stmt.where(Document.partner_id == partner_id)
    filters = query.filters
    if "id" in filters:
        stmt = stmt.where(Document.id.in_(parse_uuid_list("id", filters["id"])))
    if "partner_id" in filters:
        stmt = stmt.where(
            Document.partner_id.in_(parse_uuid_list("partner_id", filters["partner_id"]))
        )
    if "kind" in filters:
        stmt = stmt.where(Document.kind.in_(filter_values("kind", filters["kind"], DOCUMENT_KINDS)))
    if "year" in filters:
        stmt = stmt.where(Document.year.in_(_years(filters["year"])))
    if "added_by_partner" in filters:
        by_partner = check_boolean_filter("added_by_partner", filters["added_by_partner"])
        column = Document.funder_id
        stmt = stmt.where(column.is_(None) if by_partner else column.is_not(None))
    if "created_at_gte" in filters:
        bound = date_bound("created_at_gte", filters["created_at_gte"], upper=False)
        stmt = stmt.where(Document.created_at >= bound)
    if "created_at_lte" in filters:
        bound = date_bound("created_at_lte", filters["created_at_lte"], upper=True)
        stmt = stmt.where(Document.created_at <= bound)
    return await fetch_page(session, stmt, query, sort_columns=SORTS, id_column=Document.id)
