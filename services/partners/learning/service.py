"""The rules of the funder's own tags and learning notes. Keyword-only; they flush only.

Tags and notes belong to one funder and are read by its staff alone: every
operation takes a staff token, every lookup is by the caller's funder, and nothing
here reaches a partner's answer, timeline, webhook or export. A tag is a theme the
funder wants to find again ("energy costs", "volunteers"), never a judgement of a
partner; Trellis does not police the words, but it never turns tags into scores,
counts per partner or rankings either.

A tag's subject must be a record the caller's funder reads: its copy of an update,
its interaction, one of its learning notes, or a thread of the feedback service
whose messages feedback announced (``thread.message``) with the caller's funder as
the thread's funder. A learning note links its funder's own updates and interactions.
"""

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.common import audit
from services.common.auth import Caller
from services.common.concurrency import check_if_match
from services.common.db import utcnow
from services.common.errors import Conflict, NotFound, Unprocessable
from services.common.lists import ListQuery, Page
from services.partners.access import actor_name
from services.partners.interactions import repository as interactions_repository
from services.partners.learning import repository
from services.partners.learning.models import LearningNote, NoteSource, Tag
from services.partners.learning.schemas import LearningNote as LearningNoteOut
from services.partners.learning.schemas import (
    LearningNoteCreate,
    LearningNoteUpdate,
    TagCreate,
)
from services.partners.updates import repository as updates_repository

TAG_NOT_FOUND = "There is no tag with this id."
NOTE_NOT_FOUND = "There is no learning note with this id."


def _funder(caller: Caller) -> uuid.UUID:
    funder_id = caller.staff_funder_id
    assert funder_id is not None
    return funder_id


async def _subject_partner(
    session: AsyncSession, funder_id: uuid.UUID, kind: str, subject_id: uuid.UUID
) -> uuid.UUID | bool | None:
    """The partner a subject concerns (None for a note), or False if the funder cannot read it."""
    if kind == "update":
        update = await updates_repository.get(session, subject_id)
        return update.partner_id if update and update.funder_id == funder_id else False
    if kind == "interaction":
        interaction = await interactions_repository.get(session, subject_id)
        ok = interaction is not None and interaction.funder_id == funder_id
        return interaction.partner_id if ok and interaction else False
    if kind == "thread":
        owners = await repository.thread_owners(session, subject_id)
        return owners[1] if owners and owners[0] == funder_id else False
    note = await repository.get_note(session, subject_id)
    return None if note is not None and note.funder_id == funder_id else False


async def add_tag(*, session: AsyncSession, caller: Caller, data: TagCreate) -> Tag:
    """Tag a record your funder reads with a theme (409 if it already has that tag)."""
    funder_id = _funder(caller)
    partner_id = await _subject_partner(session, funder_id, data.subject_kind, data.subject_id)
    if partner_id is False:
        message = (
            f"There is no {data.subject_kind.replace('_', ' ')} with this id among your "
            "funder's records."
        )
        if data.subject_kind == "thread":
            message += " (A thread is known here a few seconds after its first message.)"
        raise Unprocessable(message, errors={"subject_id": [message]})
    text = " ".join(data.tag.split())
    key = repository.tag_key(text)
    existing = await repository.find_tag(
        session,
        funder_id=funder_id,
        subject_kind=data.subject_kind,
        subject_id=data.subject_id,
        key=key,
    )
    if existing is not None:
        raise Conflict(
            f"This {data.subject_kind.replace('_', ' ')} already has the tag '{existing.tag}'.",
            slug="already-tagged",
            extra={"tag_id": str(existing.id)},
        )
    tag = Tag(
        funder_id=funder_id,
        subject_kind=data.subject_kind,
        subject_id=data.subject_id,
        partner_id=partner_id if isinstance(partner_id, uuid.UUID) else None,
        tag=text,
        key=key,
        created_by=actor_name(caller),
    )
    session.add(tag)
    await session.flush()
    audit.record(
        session,
        caller=caller,
        action="create",
        entity_type="tag",
        entity_id=tag.id,
        partner_id=None,
        changes={"subject_kind": tag.subject_kind, "subject_id": str(tag.subject_id)},
    )
    return tag


async def get_tag(*, session: AsyncSession, caller: Caller, tag_id: uuid.UUID) -> Tag:
    tag = await repository.get_tag(session, tag_id)
    if tag is None or tag.funder_id != caller.staff_funder_id:
        raise NotFound(TAG_NOT_FOUND)
    return tag


async def list_tags(*, session: AsyncSession, caller: Caller, query: ListQuery) -> Page:
    return await repository.list_tags(session, query, funder_id=_funder(caller))


async def remove_tag(*, session: AsyncSession, caller: Caller, tag_id: uuid.UUID) -> Tag:
    tag = await get_tag(session=session, caller=caller, tag_id=tag_id)
    await session.delete(tag)
    await session.flush()
    audit.record(
        session,
        caller=caller,
        action="delete",
        entity_type="tag",
        entity_id=tag.id,
        partner_id=None,
        changes={"subject_kind": tag.subject_kind, "subject_id": str(tag.subject_id)},
    )
    return tag


# Learning notes -----------------------------------------------------------------------------


async def _sources(
    session: AsyncSession,
    funder_id: uuid.UUID,
    note_id: uuid.UUID,
    update_ids: list[uuid.UUID],
    interaction_ids: list[uuid.UUID],
) -> list[NoteSource]:
    """The note's sources; each must be its funder's own update copy or interaction (422)."""
    sources = []
    for kind, field, ids in (
        ("update", "update_ids", update_ids),
        ("interaction", "interaction_ids", interaction_ids),
    ):
        for source_id in dict.fromkeys(ids):
            partner_id = await _subject_partner(session, funder_id, kind, source_id)
            if not isinstance(partner_id, uuid.UUID):
                message = f"There is no {kind} with the id {source_id} among your funder's."
                raise Unprocessable(message, errors={field: [message]})
            sources.append(
                NoteSource(
                    note_id=note_id, source_kind=kind, source_id=source_id, partner_id=partner_id
                )
            )
    return sources


async def notes_out(
    *, session: AsyncSession, caller: Caller, notes: list[LearningNote]
) -> list[LearningNoteOut]:
    """Notes as the API shows them: with their sources, partners and the funder's tags."""
    ids = [n.id for n in notes]
    sources = await repository.sources_of(session, ids)
    tags = await repository.tags_on(
        session, funder_id=_funder(caller), subject_kind="learning_note", ids=ids
    )
    out = []
    for note in notes:
        mine = sources.get(note.id, [])
        out.append(
            LearningNoteOut(
                id=note.id,
                created_at=note.created_at,
                updated_at=note.updated_at,
                version=note.version,
                funder_id=note.funder_id,
                title=note.title,
                body=note.body,
                written_by=note.written_by,
                update_ids=[s.source_id for s in mine if s.source_kind == "update"],
                interaction_ids=[s.source_id for s in mine if s.source_kind == "interaction"],
                partner_ids=sorted({s.partner_id for s in mine}, key=str),
                tags=tags.get(note.id, []),
            )
        )
    return out


def _audit_note(note: LearningNote, sources: list[NoteSource] | None) -> dict[str, Any]:
    changes: dict[str, Any] = {"title": note.title}
    if sources is not None:
        changes["sources"] = [f"{s.source_kind}:{s.source_id}" for s in sources]
    return changes


async def create_note(
    *, session: AsyncSession, caller: Caller, data: LearningNoteCreate
) -> LearningNote:
    funder_id = _funder(caller)
    note = LearningNote(
        funder_id=funder_id,
        title=data.title,
        body=data.body,
        written_by=actor_name(caller),
        version=1,
    )
    session.add(note)
    await session.flush()
    sources = await _sources(session, funder_id, note.id, data.update_ids, data.interaction_ids)
    await repository.replace_sources(session, note_id=note.id, sources=sources)
    audit.record(
        session,
        caller=caller,
        action="create",
        entity_type="learning_note",
        entity_id=note.id,
        partner_id=None,
        changes=_audit_note(note, sources),
    )
    return note


async def get_note(*, session: AsyncSession, caller: Caller, note_id: uuid.UUID) -> LearningNote:
    note = await repository.get_note(session, note_id)
    if note is None or note.funder_id != caller.staff_funder_id:
        raise NotFound(NOTE_NOT_FOUND)
    return note


async def list_notes(*, session: AsyncSession, caller: Caller, query: ListQuery) -> Page:
    return await repository.list_notes(session, query, funder_id=_funder(caller))


async def update_note(
    *,
    session: AsyncSession,
    caller: Caller,
    note_id: uuid.UUID,
    data: LearningNoteUpdate,
    if_match: str | None,
) -> LearningNote:
    note = await get_note(session=session, caller=caller, note_id=note_id)
    check_if_match(if_match, note)
    changes = data.changes()
    for field in ("title", "body"):
        if field in changes:
            setattr(note, field, changes[field])
    sources = None
    if "update_ids" in changes or "interaction_ids" in changes:
        current = (await repository.sources_of(session, [note.id])).get(note.id, [])
        update_ids = changes.get("update_ids")
        interaction_ids = changes.get("interaction_ids")
        sources = await _sources(
            session,
            note.funder_id,
            note.id,
            update_ids
            if update_ids is not None
            else [s.source_id for s in current if s.source_kind == "update"],
            interaction_ids
            if interaction_ids is not None
            else [s.source_id for s in current if s.source_kind == "interaction"],
        )
        await repository.replace_sources(session, note_id=note.id, sources=sources)
        # A change of sources is a change of the note: its version and ETag move.
        note.updated_at = utcnow()
    await session.flush()
    audit.record(
        session,
        caller=caller,
        action="update",
        entity_type="learning_note",
        entity_id=note.id,
        partner_id=None,
        changes=_audit_note(note, sources),
    )
    return note


async def delete_note(
    *, session: AsyncSession, caller: Caller, note_id: uuid.UUID, if_match: str | None
) -> LearningNoteOut:
    note = await get_note(session=session, caller=caller, note_id=note_id)
    check_if_match(if_match, note)
    [out] = await notes_out(session=session, caller=caller, notes=[note])
    await repository.delete_tags_on(session, subject_kind="learning_note", subject_id=note.id)
    await repository.replace_sources(session, note_id=note.id, sources=[])
    await session.delete(note)
    await session.flush()
    audit.record(
        session,
        caller=caller,
        action="delete",
        entity_type="learning_note",
        entity_id=note.id,
        partner_id=None,
        changes={"title": note.title},
    )
    return out
