"""Bodies of the funder's own tags and learning notes."""

import uuid
from datetime import datetime
from typing import Annotated, ClassVar, Literal

from pydantic import Field

from services.common.schemas import InputModel, Record, TimestampedRecord, UpdateModel

TagSubject = Literal["update", "interaction", "thread", "learning_note"]
TagText = Annotated[
    str,
    Field(
        min_length=1,
        max_length=100,
        description="A theme in your own words, e.g. 'energy costs' or 'volunteers'",
        examples=["energy costs"],
    ),
]
Sources = Annotated[list[uuid.UUID], Field(max_length=200)]


class TagCreate(InputModel):
    """A theme for one record your funder reads. Private to your funder's staff."""

    subject_kind: TagSubject = Field(
        description="update (your funder's copy), interaction, thread (a feedback thread of "
        "your funder) or learning_note"
    )
    subject_id: uuid.UUID
    tag: TagText


class Tag(Record):
    """One theme on one record. Only the staff of the funder that wrote it ever read it."""

    funder_id: uuid.UUID
    subject_kind: TagSubject
    subject_id: uuid.UUID
    partner_id: uuid.UUID | None = Field(
        description="The partner the record concerns (empty for a learning note)"
    )
    tag: str
    created_by: str
    created_at: datetime


class LearningNoteCreate(InputModel):
    """What you learnt across partners, with the updates and interactions it draws on."""

    title: str = Field(min_length=1, max_length=300, examples=["Energy costs this winter"])
    body: str = Field(
        min_length=1,
        max_length=50000,
        examples=["Four partners told us heating the hall now takes a fifth of their income."],
    )
    update_ids: Sources = Field([], description="Your funder's copies of updates it draws on")
    interaction_ids: Sources = Field([], description="Your funder's interactions it draws on")


class LearningNoteUpdate(UpdateModel):
    """Change a note; ``update_ids`` / ``interaction_ids`` replace its sources when sent."""

    read_only: ClassVar[frozenset[str]] = UpdateModel.read_only | {
        "funder_id",
        "written_by",
        "partner_ids",
        "tags",
    }

    title: str | None = Field(None, min_length=1, max_length=300)
    body: str | None = Field(None, min_length=1, max_length=50000)
    update_ids: Sources | None = None
    interaction_ids: Sources | None = None


class LearningNote(TimestampedRecord):
    """A learning note of your funder's staff. Never shown to partners."""

    funder_id: uuid.UUID
    title: str
    body: str
    written_by: str
    update_ids: list[uuid.UUID]
    interaction_ids: list[uuid.UUID]
    partner_ids: list[uuid.UUID] = Field(description="The partners its sources concern")
    tags: list[str] = Field(description="Your funder's tags on this note")
