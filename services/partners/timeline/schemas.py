"""Bodies of the timeline API and the grant events it consumes."""

import uuid
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from services.common.schemas import Record

EntryKind = Literal[
    "interaction",
    "update",
    "reply",
    "document",
    "grant.approved",
    "grant.varied",
    "instalment.paid",
    "grant.withdrawn",
    "relationship",
    "gathering",
]


class TimelineEntry(Record):
    """One thing that happened between a partner and its funders, newest first in the list."""

    partner_id: uuid.UUID
    funder_id: uuid.UUID | None
    kind: EntryKind
    occurred_at: datetime
    title: str
    summary: str | None
    source_id: uuid.UUID
    grant_id: uuid.UUID | None
    data: dict[str, Any]


class _GrantEvent(BaseModel):
    model_config = ConfigDict(extra="allow")

    grant_id: uuid.UUID
    funder_id: uuid.UUID
    partner_id: uuid.UUID


class GrantApproved(_GrantEvent):
    funder_ids: list[uuid.UUID] = []
    pool_id: uuid.UUID | None = None
    title: str | None = None
    amount_awarded: int
    currency: str
    approved_on: date
    grant_360_id: str | None = None


class GrantVaried(_GrantEvent):
    variation_id: uuid.UUID
    kind: str
    amount_awarded: int | None = None
    currency: str | None = None
    planned_end_date: date | None = None
    decided_on: date


class GrantWithdrawn(_GrantEvent):
    reason: str | None = None
    withdrawn_on: date


class InstalmentPaid(_GrantEvent):
    instalment_id: uuid.UUID
    amount: int
    currency: str
    due_date: date | None = None
    paid_on: date
