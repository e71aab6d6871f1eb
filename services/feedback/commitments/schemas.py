"""Request and response bodies of commitments."""

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from services.common.schemas import InputModel, TimestampedRecord, UpdateModel

Measure = Literal[
    "instalments_paid_on_time",
    "days_to_first_reply",
    "days_to_decision",
    "updates_replied_in_time",
    "rounds_published_with_actions",
]
Title = Field(min_length=1, max_length=300)
PROMISED_DAYS = (
    'The days the funder promises, where its words name a time ("we reply to every update '
    'within 14 days" is 14): its reminders and its home page hold it to this.'
)


class CommitmentCreate(InputModel):
    title: str = Title
    description: str | None = Field(None, max_length=5000)
    position: int = Field(0, ge=0, le=10_000, description="Order on the charter (lowest first)")
    measure: Measure | None = Field(
        None, description="The measure of the funder's own behaviour that evidences it"
    )
    promised_days: int | None = Field(None, ge=1, le=366, description=PROMISED_DAYS)
    status: Literal["draft", "published"] = Field(
        "draft", description="Create as a draft, or publish it at once"
    )


class CommitmentUpdate(UpdateModel):
    """Change a commitment. New words on a published commitment make a new version."""

    nullable = frozenset({"description", "measure", "promised_days"})

    read_only = UpdateModel.read_only | {
        "funder_id",
        "status",
        "current_version",
        "published_at",
        "retired_at",
    }

    title: str | None = Field(None, min_length=1, max_length=300)
    description: str | None = Field(None, max_length=5000)
    position: int | None = Field(None, ge=0, le=10_000)
    measure: Measure | None = None
    promised_days: int | None = Field(None, ge=1, le=366, description=PROMISED_DAYS)


class Commitment(TimestampedRecord):
    funder_id: uuid.UUID
    title: str
    description: str | None
    position: int
    status: Literal["draft", "published", "retired"]
    current_version: int = Field(description="Number of the version shown now")
    measure: Measure | None
    promised_days: int | None = Field(None, description=PROMISED_DAYS)
    published_at: datetime | None
    retired_at: datetime | None


class CommitmentVersion(BaseModel):
    id: uuid.UUID
    commitment_id: uuid.UUID
    number: int
    title: str
    description: str | None
    created_at: datetime
    published_at: datetime | None


class PublicCommitment(BaseModel):
    """A commitment as the public reads it."""

    id: uuid.UUID
    title: str
    description: str | None
    position: int
    version: int
    measure: Measure | None
    promised_days: int | None = Field(None, description=PROMISED_DAYS)
    published_at: datetime | None
