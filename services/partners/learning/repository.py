"""All SQL of the funder's own tags and learning notes."""

import uuid
from collections import defaultdict
from typing import Any

from sqlalchemy import ColumnElement, delete, exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.errors import BadRequest
from services.common.lists import ListQuery, Page, fetch_page, filter_values, where_ids
from services.partners.learning.models import TAG_SUBJECTS, LearningNote, NoteSource, Tag
from services.partners.search.models import ThreadMessageCopy

TAG_SORTS: dict[str, ColumnElement[Any]] = {"created_at": Tag.created_at, "tag": Tag.key}
NOTE_SORTS: dict[str, ColumnElement[Any]] = {
    "created_at": LearningNote.created_at,
    "updated_at": LearningNote.updated_at,
    "title": LearningNote.title,
}


def tag_key(tag: str) -> str:
    """A tag as it is matched: case folded, single spaces ("Energy  Costs" = "energy costs")."""
    return " ".join(tag.split()).casefold()


def tag_keys(value: Any) -> list[str]:
    """A ``tag`` filter value: one tag or a list of them."""
    values = value if isinstance(value, list) else [value]
    keys = [tag_key(v) for v in values if isinstance(v, str) and v.strip()]
    if len(keys) != len(values) or not keys:
        raise BadRequest(
            "The 'tag' filter takes a tag (text) or a list of them.",
            slug="bad-list-parameter",
            errors={"filter": ["tag must be text or a list of texts"]},
        )
    return keys


def tagged(
    funder_id: uuid.UUID, keys: list[str], subject_kind: str, subject_id: ColumnElement[Any]
) -> ColumnElement[bool]:
    """Whether the record ``subject_id`` has one of ``keys`` among ``funder_id``'s tags."""
    return exists().where(
        Tag.funder_id == funder_id,
        Tag.subject_kind == subject_kind,
        Tag.subject_id == subject_id,
        Tag.key.in_(keys),
    )


# Tags ---------------------------------------------------------------------------------------


async def get_tag(session: AsyncSession, tag_id: uuid.UUID) -> Tag | None:
    return await session.get(Tag, tag_id)


async def find_tag(
    session: AsyncSession,
    *,
    funder_id: uuid.UUID,
    subject_kind: str,
    subject_id: uuid.UUID,
    key: str,
) -> Tag | None:
    stmt = select(Tag).where(
        Tag.funder_id == funder_id,
        Tag.subject_kind == subject_kind,
        Tag.subject_id == subject_id,
        Tag.key == key,
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def list_tags(session: AsyncSession, query: ListQuery, *, funder_id: uuid.UUID) -> Page:
    stmt = select(Tag).where(Tag.funder_id == funder_id)
    f = query.filters
    stmt = where_ids(
        stmt,
        f,
        {
            "id": Tag.id,
            "funder_id": Tag.funder_id,
            "subject_id": Tag.subject_id,
            "partner_id": Tag.partner_id,
        },
    )
    if "subject_kind" in f:
        stmt = stmt.where(
            Tag.subject_kind.in_(filter_values("subject_kind", f["subject_kind"], TAG_SUBJECTS))
        )
    if "tag" in f:
        stmt = stmt.where(Tag.key.in_(tag_keys(f["tag"])))
    return await fetch_page(session, stmt, query, sort_columns=TAG_SORTS, id_column=Tag.id)


async def tags_on(
    session: AsyncSession, *, funder_id: uuid.UUID, subject_kind: str, ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[str]]:
    """The funder's tags on each of ``ids``, as written, in tag order."""
    if not ids:
        return {}
    stmt = (
        select(Tag.subject_id, Tag.tag)
        .where(
            Tag.funder_id == funder_id, Tag.subject_kind == subject_kind, Tag.subject_id.in_(ids)
        )
        .order_by(Tag.key)
    )
    found: dict[uuid.UUID, list[str]] = defaultdict(list)
    for subject_id, tag in await session.execute(stmt):
        found[subject_id].append(tag)
    return found


async def delete_tags_on(
    session: AsyncSession, *, subject_kind: str, subject_id: uuid.UUID
) -> None:
    await session.execute(
        delete(Tag).where(Tag.subject_kind == subject_kind, Tag.subject_id == subject_id)
    )


async def thread_owners(
    session: AsyncSession, thread_id: uuid.UUID
) -> tuple[uuid.UUID, uuid.UUID] | None:
    """A feedback thread's funder and partner, from the messages feedback announced."""
    stmt = (
        select(ThreadMessageCopy.funder_id, ThreadMessageCopy.partner_id)
        .where(ThreadMessageCopy.thread_id == thread_id)
        .limit(1)
    )
    row = (await session.execute(stmt)).first()
    return (row[0], row[1]) if row is not None else None


# Learning notes -----------------------------------------------------------------------------


async def get_note(session: AsyncSession, note_id: uuid.UUID) -> LearningNote | None:
    return await session.get(LearningNote, note_id)


async def list_notes(session: AsyncSession, query: ListQuery, *, funder_id: uuid.UUID) -> Page:
    stmt = select(LearningNote).where(LearningNote.funder_id == funder_id)
    f = query.filters
    stmt = where_ids(stmt, f, {"id": LearningNote.id, "funder_id": LearningNote.funder_id})
    for name, kind, column in (
        ("update_id", "update", NoteSource.source_id),
        ("interaction_id", "interaction", NoteSource.source_id),
        ("partner_id", None, NoteSource.partner_id),
    ):
        if name in f:
            ids = where_ids(select(NoteSource.note_id), f, {name: column})
            if kind is not None:
                ids = ids.where(NoteSource.source_kind == kind)
            stmt = stmt.where(LearningNote.id.in_(ids))
    if "tag" in f:
        stmt = stmt.where(tagged(funder_id, tag_keys(f["tag"]), "learning_note", LearningNote.id))
    return await fetch_page(
        session, stmt, query, sort_columns=NOTE_SORTS, id_column=LearningNote.id
    )


async def sources_of(
    session: AsyncSession, note_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[NoteSource]]:
    if not note_ids:
        return {}
    stmt = (
        select(NoteSource)
        .where(NoteSource.note_id.in_(note_ids))
        .order_by(NoteSource.source_kind, NoteSource.source_id)
    )
    found: dict[uuid.UUID, list[NoteSource]] = defaultdict(list)
    for source in (await session.execute(stmt)).scalars():
        found[source.note_id].append(source)
    return found


async def replace_sources(
    session: AsyncSession, *, note_id: uuid.UUID, sources: list[NoteSource]
) -> None:
    await session.execute(delete(NoteSource).where(NoteSource.note_id == note_id))
    session.add_all(sources)
    await session.flush()
