"""Request and response bodies for relationships."""

import uuid
from datetime import date
from typing import Literal

from pydantic import Field

from services.common.schemas import TimestampedRecord, UpdateModel

RelationshipStatus = Literal["exploring", "active", "paused", "ended"]


class Relationship(TimestampedRecord):
    funder_id: uuid.UUID
    partner_id: uuid.UUID
    status: RelationshipStatus
    since: date
    steward: str | None


class RelationshipUpdate(UpdateModel):
    nullable = frozenset({"steward"})

    read_only = UpdateModel.read_only | {"funder_id", "partner_id"}

    status: RelationshipStatus | None = None
    since: date | None = None
    steward: str | None = Field(None, max_length=200)
