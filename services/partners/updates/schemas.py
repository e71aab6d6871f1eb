"""Bodies of the reflective updates API."""

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from services.common.schemas import InputModel, Record
from services.partners.documents.schemas import Title, WebUrl

Prompt = Annotated[str, Field(max_length=20000)]


class Link(InputModel):
    """A link to something the partner wants the funder to read (http/https, never fetched)."""

    title: Title
    url: WebUrl


class UpdateCreate(InputModel):
    """A partner's reflective update, in its own words. Every part is optional, but at least
    one must have text. There is no schedule: send one when you choose."""

    funder_ids: list[uuid.UUID] | None = Field(
        None,
        max_length=20,
        description="The funders to share it with (each gets its own copy). "
        "May be left out when you have one funder.",
    )
    what_changed: Prompt | None = Field(None, description="What has changed")
    what_we_learned: Prompt | None = Field(None, description="What we have learned")
    what_was_hard: Prompt | None = Field(None, description="What has been hard or gone wrong")
    want_you_to_know: Prompt | None = Field(None, description="What we want you to know")
    document_ids: list[uuid.UUID] = Field(
        [], max_length=50, description="Your own documents (from /documents) to point to"
    )
    links: list[Link] = Field([], max_length=20, description="Other links, http(s) only")


class UpdateCopy(BaseModel):
    update_id: uuid.UUID
    funder_id: uuid.UUID


class Update(Record):
    """One funder's copy of a reflective update, with where its thread stands."""

    partner_id: uuid.UUID
    funder_id: uuid.UUID
    sent_at: datetime
    sent_by: str
    what_changed: str | None
    what_we_learned: str | None
    what_was_hard: str | None
    want_you_to_know: str | None
    document_ids: list[uuid.UUID]
    links: list[dict[str, str]]
    first_reply_at: datetime | None = Field(description="When the funder first replied")
    reply_seconds: int | None = Field(
        description="Seconds from sending to the funder's first reply"
    )
    reply_count: int
    last_activity_at: datetime
    shared_with: list[UpdateCopy] | None = Field(
        None,
        description="Shown to the partner only: every copy of this update, one per funder",
    )


class ReplyCreate(InputModel):
    body: str = Field(min_length=1, max_length=20000, description="The message, in plain words")


class Reply(Record):
    update_id: uuid.UUID
    author_side: Literal["funder", "partner"]
    author: str
    body: str
    created_at: datetime
