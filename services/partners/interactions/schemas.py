"""Bodies of the interactions API."""

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from services.common.db import as_utc
from services.common.schemas import InputModel, TimestampedRecord, UpdateModel

InteractionKind = Literal["visit", "call", "meeting", "event", "other"]
When = Annotated[
    datetime,
    AfterValidator(as_utc),
    Field(description="When it happened (ISO 8601; without an offset it is taken as UTC)"),
]
Summary = Annotated[str, Field(min_length=1, max_length=20000)]
Participant = Annotated[str, Field(min_length=1, max_length=200)]
Participants = Annotated[
    list[Participant], Field(max_length=50, description="Who took part, in plain words")
]
Reason = Annotated[str, Field(max_length=2000)]


class InteractionCreate(InputModel):
    """A visit, call, meeting, event or other contact with a partner."""

    partner_id: uuid.UUID
    kind: InteractionKind
    occurred_at: When
    summary: Summary
    participants: Participants = []
    private: bool = Field(
        False, description="Hide it from the partner (shared by default); needs private_reason"
    )
    private_reason: Reason | None = None


class InteractionUpdate(UpdateModel):
    nullable = frozenset({"private_reason"})

    read_only = UpdateModel.read_only | {"partner_id", "funder_id", "recorded_by"}

    kind: InteractionKind | None = None
    occurred_at: When | None = None
    summary: Summary | None = None
    participants: Participants | None = None
    private: bool | None = None
    private_reason: Reason | None = None


class Interaction(TimestampedRecord):
    funder_id: uuid.UUID
    partner_id: uuid.UUID
    kind: InteractionKind
    occurred_at: datetime
    summary: str
    participants: list[str]
    recorded_by: str
    private: bool
    private_reason: str | None
