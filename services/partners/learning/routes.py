"""HTTP routes of the funder's own tags and learning notes (funder staff only)."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Response

from services.common.auth import StaffDep
from services.common.concurrency import IfMatchDep, etag
from services.common.db import SessionDep
from services.common.idempotency import IdempotencyDep
from services.common.lists import ListQuery, list_query
from services.common.service_app import problem_responses
from services.partners.learning import service
from services.partners.learning.schemas import (
    LearningNote,
    LearningNoteCreate,
    LearningNoteUpdate,
    Tag,
    TagCreate,
)

router = APIRouter(tags=["learning"])

TagQuery = Annotated[
    ListQuery,
    Depends(
        list_query(
            "tags",
            sortable=["created_at", "tag"],
            filterable=["subject_kind", "subject_id", "partner_id", "funder_id", "tag"],
            default_sort=("created_at", "DESC"),
        )
    ),
]
NoteQuery = Annotated[
    ListQuery,
    Depends(
        list_query(
            "learning-notes",
            sortable=["created_at", "updated_at", "title"],
            filterable=["update_id", "interaction_id", "partner_id", "funder_id", "tag"],
            default_sort=("created_at", "DESC"),
        )
    ),
]


@router.post("/tags", status_code=201, response_model=Tag, responses=problem_responses(409))
async def add_tag(
    body: TagCreate, session: SessionDep, caller: StaffDep, idem: IdempotencyDep
) -> Response:
    """Tag an update, interaction, thread or learning note with a theme of your own
    (funder staff). Example: ``{"subject_kind": "update", "subject_id": "…",
    "tag": "energy costs"}``.

    Tags are your funder's: only its staff ever read them, and no partner's answer,
    timeline, webhook or export carries them. They are themes to find what partners
    told you again (filter ``tag`` on ``/updates``, ``/interactions``,
    ``/learning-notes`` and ``/search``), not judgements of a partner. The same tag
    twice on one record is a 409 (tags match regardless of case and spacing).
    Accepts ``Idempotency-Key``.
    """
    tag = await service.add_tag(session=session, caller=caller, data=body)
    return await idem.respond(
        session, Tag.model_validate(tag), headers={"Location": f"/api/v1/tags/{tag.id}"}
    )


@router.get("/tags", response_model=list[Tag])
async def list_tags(
    session: SessionDep, caller: StaffDep, query: TagQuery, response: Response
) -> list[Tag]:
    """Your funder's tags. Filters: ``subject_kind``, ``subject_id``, ``partner_id``,
    ``tag`` (one or a list), ``id``."""
    page = await service.list_tags(session=session, caller=caller, query=query)
    page.apply(response, "tags")
    return [Tag.model_validate(t) for t in page.items]


@router.get("/tags/{tag_id}", response_model=Tag, responses=problem_responses(404))
async def get_tag(tag_id: uuid.UUID, session: SessionDep, caller: StaffDep) -> Tag:
    """One of your funder's tags."""
    return Tag.model_validate(await service.get_tag(session=session, caller=caller, tag_id=tag_id))


@router.delete("/tags/{tag_id}", response_model=Tag, responses=problem_responses(404))
async def remove_tag(tag_id: uuid.UUID, session: SessionDep, caller: StaffDep) -> Tag:
    """Take a tag off its record; answers the deleted tag."""
    tag = await service.remove_tag(session=session, caller=caller, tag_id=tag_id)
    return Tag.model_validate(tag)


@router.post(
    "/learning-notes",
    status_code=201,
    response_model=LearningNote,
    responses=problem_responses(409),
)
async def create_note(
    body: LearningNoteCreate, session: SessionDep, caller: StaffDep, idem: IdempotencyDep
) -> Response:
    """Write down what you learnt across partners (funder staff), linking the updates and
    interactions it draws on. Example::

        {"title": "Energy costs this winter",
         "body": "Four partners told us heating now takes a fifth of their income…",
         "update_ids": ["…", "…"], "interaction_ids": ["…"]}

    Each source must be your funder's own copy of an update or its own interaction
    (422 naming the id otherwise). Notes are your funder's: partners never read them.
    They are found by ``/search`` (kind ``learning_note``). Accepts ``Idempotency-Key``.
    """
    note = await service.create_note(session=session, caller=caller, data=body)
    [out] = await service.notes_out(session=session, caller=caller, notes=[note])
    return await idem.respond(
        session,
        out,
        headers={"Location": f"/api/v1/learning-notes/{note.id}", "ETag": etag(note)},
    )


@router.get("/learning-notes", response_model=list[LearningNote])
async def list_notes(
    session: SessionDep, caller: StaffDep, query: NoteQuery, response: Response
) -> list[LearningNote]:
    """Your funder's learning notes, newest first. Filters: ``update_id``,
    ``interaction_id``, ``partner_id`` (notes drawing on them), ``tag``, ``id``."""
    page = await service.list_notes(session=session, caller=caller, query=query)
    page.apply(response, "learning-notes")
    return await service.notes_out(session=session, caller=caller, notes=page.items)


@router.get(
    "/learning-notes/{note_id}", response_model=LearningNote, responses=problem_responses(404)
)
async def get_note(
    note_id: uuid.UUID, session: SessionDep, caller: StaffDep, response: Response
) -> LearningNote:
    """One learning note, with its sources and tags."""
    note = await service.get_note(session=session, caller=caller, note_id=note_id)
    response.headers["ETag"] = etag(note)
    [out] = await service.notes_out(session=session, caller=caller, notes=[note])
    return out


@router.put(
    "/learning-notes/{note_id}",
    response_model=LearningNote,
    responses=problem_responses(404, 412),
)
async def update_note(
    note_id: uuid.UUID,
    body: LearningNoteUpdate,
    session: SessionDep,
    caller: StaffDep,
    if_match: IfMatchDep,
    response: Response,
) -> LearningNote:
    """Change a note; ``update_ids`` / ``interaction_ids`` replace its sources when sent.
    Send ``If-Match`` to be safe from lost updates."""
    note = await service.update_note(
        session=session, caller=caller, note_id=note_id, data=body, if_match=if_match
    )
    response.headers["ETag"] = etag(note)
    [out] = await service.notes_out(session=session, caller=caller, notes=[note])
    return out


@router.delete(
    "/learning-notes/{note_id}",
    response_model=LearningNote,
    responses=problem_responses(404, 412),
)
async def delete_note(
    note_id: uuid.UUID, session: SessionDep, caller: StaffDep, if_match: IfMatchDep
) -> LearningNote:
    """Delete a learning note and its tags; answers the deleted note."""
    return await service.delete_note(
        session=session, caller=caller, note_id=note_id, if_match=if_match
    )
