"""Request and response bodies of feedback rounds."""

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

from services.common.schemas import InputModel, TimestampedRecord, UpdateModel

RoundStatus = Literal["draft", "open", "closed", "published"]
Audience = Literal["active", "ended", "chosen", "pool"]
AUDIENCE_TEXT = (
    "Whom the round invites when it opens (only organisations that have claimed their own "
    "record and accepted your funder are invited, and only they count towards k): "
    "``active`` (default) partners in an active relationship; ``ended`` those whose "
    "relationship has ended; ``chosen`` the organisations in ``organisation_ids`` (any "
    "relationship: ended, declined, never funded); ``pool`` the organisations a pooled fund "
    "in ``pool_id`` granted or had proposed to, that have a relationship with your funder"
)
OrganisationIds = Field(
    None,
    min_length=1,
    max_length=1000,
    description="The organisations a ``chosen`` round asks (each must have a relationship "
    "with your funder)",
)


class RoundCreate(InputModel):
    title: str = Field(min_length=1, max_length=300)
    description: str | None = Field(None, max_length=5000)
    opens_on: date
    closes_on: date
    audience: Audience = Field("active", description=AUDIENCE_TEXT)
    organisation_ids: list[uuid.UUID] | None = OrganisationIds
    pool_id: uuid.UUID | None = Field(
        None, description="The pooled fund whose organisations a ``pool`` round asks"
    )


class RoundUpdate(UpdateModel):
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
        "origin",
    }
    nullable = frozenset({"description", "answer", "organisation_ids", "pool_id"})

    title: str | None = Field(None, min_length=1, max_length=300)
    description: str | None = Field(None, max_length=5000)
    opens_on: date | None = None
    closes_on: date | None = None
    answer: str | None = Field(
        None,
        max_length=20000,
        description="The funder's answer to what partners said; shown when the round is published",
    )
    audience: Audience | None = Field(None, description=AUDIENCE_TEXT)
    organisation_ids: list[uuid.UUID] | None = OrganisationIds
    pool_id: uuid.UUID | None = None


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
    audience: Audience = Field("active", description=AUDIENCE_TEXT)
    organisation_ids: list[uuid.UUID] | None = Field(
        None, description="The organisations a ``chosen`` round asks (staff; null for partners)"
    )
    pool_id: uuid.UUID | None = Field(None, description="The pool a ``pool`` round asks (staff)")
    origin: Literal["grant_completed"] | None = Field(
        None,
        description="``grant_completed``: the end-of-grant round Trellis offers (a draft) when "
        "grants complete; each completed grant's partner is added to it until it opens",
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
