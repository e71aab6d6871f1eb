"""Bodies of the search API."""

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

SearchKind = Literal["update", "reply", "interaction", "document"]


class SearchHit(BaseModel):
    """One record that matched, with the words around the match.

    ``id`` is the record's own id (fetch it at ``/api/v1/updates/{id}``,
    ``/api/v1/interactions/{id}`` or ``/api/v1/documents/{id}``; a reply's thread is
    at ``/api/v1/updates/{update_id}/replies``).
    """

    id: uuid.UUID = Field(description="The matching record's id.")
    kind: SearchKind
    partner_id: uuid.UUID
    funder_id: uuid.UUID | None = Field(
        description="The funder whose copy or record it is; empty for a partner's own document."
    )
    update_id: uuid.UUID | None = Field(
        description="For an update or a reply: the update (thread) it belongs to."
    )
    at: datetime = Field(
        description="When it was sent, written or happened (an interaction's occurred_at)."
    )
    title: str = Field(description="A document's title or an interaction's kind; else empty.")
    snippet: str = Field(
        description="The words around the match, HTML-escaped, with <mark>…</mark> around "
        "each matched word."
    )
    relevance: float = Field(
        description="How well the text matches the words searched for (higher is better); "
        "it says nothing about the partner."
    )
