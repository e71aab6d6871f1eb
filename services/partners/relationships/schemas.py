"""Request and response bodies for relationships."""

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

from services.common.schemas import Record, TimestampedRecord, UpdateModel

RelationshipStatus = Literal["exploring", "active", "paused", "ended"]
Sharing = Literal["pending", "accepted", "declined", "stopped"]
SHARING_TEXT = (
    "Whether the organisation shares its own data (contacts, its documents, its "
    "description) with this funder: pending until it answers, then accepted, declined "
    "or stopped"
)


class Relationship(TimestampedRecord):
    funder_id: uuid.UUID
    partner_id: uuid.UUID
    status: RelationshipStatus
    since: date
    steward: str | None
    sharing: Sharing = Field(description=SHARING_TEXT)
    sharing_changed_at: datetime | None


class RelationshipUpdate(UpdateModel):
    nullable = frozenset({"steward"})

    read_only = UpdateModel.read_only | {
        "funder_id",
        "partner_id",
        "sharing",
        "sharing_changed_at",
    }

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


class FunderSharing(BaseModel):
    """A funder that has a relationship with your organisation, as your organisation sees it."""

    id: uuid.UUID = Field(description="The funder's id (react-admin's record id)")
    funder_id: uuid.UUID
    funder_name: str
    sharing: Sharing = Field(description=SHARING_TEXT)
    sharing_changed_at: datetime | None
    related_since: datetime = Field(description="When the funder recorded the relationship")


class SharingUpdate(UpdateModel):
    """Accept a funder, decline it, or stop sharing with it (the record may be echoed whole)."""

    read_only = frozenset({"id", "funder_id", "funder_name", "sharing_changed_at", "related_since"})

    sharing: Literal["accepted", "declined", "stopped"] = Field(
        description="accepted: the funder sees your contacts, your documents and your "
        "description; declined: it does not (answer to a pending funder); stopped: it no "
        "longer does (after accepting)"
    )
