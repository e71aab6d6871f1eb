"""Request and response bodies of feedback rounds."""

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

from services.common.schemas import InputModel, TimestampedRecord, UpdateModel

RoundStatus = Literal["draft", "open", "closed", "published"]


class RoundCreate(InputModel):
    title: str = Field(min_length=1, max_length=300)
    description: str | None = Field(None, max_length=5000)
    opens_on: date
    closes_on: date


class RoundUpdate(UpdateModel):
    nullable = frozenset({"description", "answer"})

    read_only = UpdateModel.read_only | {
        "funder_id",
        "status",
        "opened_at",
        "closed_at",
        "published_at",
        "commitments",
        "invited_count",
        "response_count",
        "answered",
        "k_threshold",
        "ballot_key_id",
    }

    title: str | None = Field(None, min_length=1, max_length=300)
    description: str | None = Field(None, max_length=5000)
    opens_on: date | None = None
    closes_on: date | None = None
    answer: str | None = Field(
        None,
        max_length=20000,
        description="The funder's answer to what partners said; shown when the round is published",
    )


class RoundPublish(InputModel):
    answer: str | None = Field(None, max_length=20000)


class RoundCommitment(BaseModel):
    """A commitment as the round asks about it: the version fixed when the round opened."""

    commitment_id: uuid.UUID
    commitment_version_id: uuid.UUID
    version: int
    title: str
    description: str | None
    position: int


class Round(TimestampedRecord):
    funder_id: uuid.UUID
    title: str
    description: str | None
    opens_on: date
    closes_on: date
    status: RoundStatus
    opened_at: datetime | None
    closed_at: datetime | None
    published_at: datetime | None
    answer: str | None = Field(description="The funder's answer (partners see it once published)")
    commitments: list[RoundCommitment]
    k_threshold: int | None = Field(
        None, description="The anonymity threshold k, fixed when the round opened"
    )
    ballot_key_id: str | None = Field(
        None,
        description="SHA-256 of the round's one ballot key; your client checks the key it is "
        "given without a token is this one",
    )
    invited_count: int | None = Field(None, description="Partners invited (staff)")
    response_count: int | None = Field(
        None,
        description="Responses received (staff, once the round has closed); null when "
        "showing it would reveal a group below k",
    )
    answered: bool | None = Field(
        None, description="Whether you have answered by name or taken your ballot (partner)"
    )
