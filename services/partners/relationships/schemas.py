"""Request and response bodies for relationships."""

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import Field

from services.common.schemas import Record, TimestampedRecord, UpdateModel

RelationshipStatus = Literal["exploring", "active", "paused", "ended"]


class Relationship(TimestampedRecord):
    funder_id: uuid.UUID
    partner_id: uuid.UUID
    status: RelationshipStatus
    since: date
    steward: str | None


class RelationshipUpdate(UpdateModel):
    read_only = UpdateModel.read_only | {"funder_id", "partner_id"}

    status: RelationshipStatus | None = None
    since: date | None = None
    steward: str | None = Field(None, max_length=200)


class RelationshipChange(Record):
    """One step of a relationship's history."""

    relationship_id: uuid.UUID
    funder_id: uuid.UUID
    partner_id: uuid.UUID
    status: RelationshipStatus
    previous_status: RelationshipStatus | None = Field(
        description="The stage before; empty for the relationship's beginning"
    )
    since: date
    changed_at: datetime
    changed_by: str = Field(description="Who at the funder moved it")
