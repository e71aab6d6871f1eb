"""Bodies of the search API."""

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

SearchKind = Literal["update", "reply", "interaction", "document", "thread", "learning_note"]


class ThreadMessageEvent(BaseModel):
    """The part of feedback's ``thread.message`` event search keeps."""

    model_config = ConfigDict(extra="ignore")

    thread_id: uuid.UUID
    message_id: uuid.UUID
    funder_id: uuid.UUID
    partner_id: uuid.UUID
    subject: str = Field("", max_length=300)
    body: str
    created_at: datetime


class SearchHit(BaseModel):
    """One record that matched, with the words around the match.

    ``id`` is the record's own id (fetch it at ``/api/v1/updates/{id}``,
    ``/api/v1/interactions/{id}``, ``/api/v1/documents/{id}`` or
    ``/api/v1/learning-notes/{id}``; a reply's thread is at
    ``/api/v1/updates/{update_id}/replies``, a thread message at
    ``/api/v1/threads/{thread_id}/messages/{id}``).
    """

    id: uuid.UUID = Field(description="The matching record's id.")
    kind: SearchKind
    partner_id: uuid.UUID | None = Field(
        description="The partner it concerns; empty for a learning note (it spans partners)."
    )
    funder_id: uuid.UUID | None = Field(
        description="The funder whose copy or record it is; empty for a partner's own document."
    )
    update_id: uuid.UUID | None = Field(
        description="For an update or a reply: the update (thread) it belongs to."
    )
    thread_id: uuid.UUID | None = Field(
        None, description="For a thread message: the feedback thread it belongs to."
    )
    at: datetime = Field(
        description="When it was sent, written or happened (an interaction's occurred_at)."
    )
    title: str = Field(
        description="A document's or learning note's title, a thread's subject or an "
        "interaction's kind; else empty."
    )
    snippet: str = Field(
        description="The words around the match, HTML-escaped, with <mark>…</mark> around "
        "each matched word."
    )
    relevance: float = Field(
        description="How well the text matches the words searched for (higher is better); "
        "it says nothing about the partner."
    )
