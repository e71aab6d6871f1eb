"""Bodies of actions: what the funder will do, or did, in response to feedback."""

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

from services.common.schemas import InputModel, TimestampedRecord, UpdateModel

ActionStatus = Literal["planned", "in_progress", "done", "not_doing"]


class ActionCreate(InputModel):
    title: str = Field(min_length=1, max_length=300, description="What we will do")
    description: str | None = Field(None, max_length=10000)
    round_id: uuid.UUID | None = Field(None, description="The round whose feedback it answers")
    commitment_id: uuid.UUID | None = Field(None, description="The commitment it is about")
    status: ActionStatus = "planned"
    reason: str | None = Field(
        None, max_length=5000, description="Why not, when the status is not_doing"
    )
    due_on: date | None = Field(None, description="When we expect it done")
    done_on: date | None = None
    published: bool = Field(False, description="Show it to partners, and on the public scorecard")


class ActionUpdate(UpdateModel):
    nullable = frozenset(
        {"description", "round_id", "commitment_id", "reason", "due_on", "done_on"}
    )

    read_only = UpdateModel.read_only | {"funder_id", "published_at"}

    title: str | None = Field(None, min_length=1, max_length=300)
    description: str | None = Field(None, max_length=10000)
    round_id: uuid.UUID | None = None
    commitment_id: uuid.UUID | None = None
    status: ActionStatus | None = None
    reason: str | None = Field(None, max_length=5000)
    due_on: date | None = None
    done_on: date | None = None
    published: bool | None = None


class Action(TimestampedRecord):
    funder_id: uuid.UUID
    title: str
    description: str | None
    round_id: uuid.UUID | None
    commitment_id: uuid.UUID | None
    status: ActionStatus
    reason: str | None
    due_on: date | None
    done_on: date | None
    published: bool
    published_at: datetime | None


class PublicAction(BaseModel):
    id: uuid.UUID
    title: str
    description: str | None
    round_id: uuid.UUID | None
    commitment_id: uuid.UUID | None
    status: ActionStatus
    reason: str | None
    due_on: date | None
    done_on: date | None
    published_at: datetime | None
