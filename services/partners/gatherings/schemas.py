"""Bodies of the gatherings API."""

import uuid
from datetime import datetime
from typing import Annotated, ClassVar, Literal

from pydantic import AfterValidator, BaseModel, Field

from services.common.db import as_utc
from services.common.schemas import InputModel, TimestampedRecord, UpdateModel

GatheringKind = Literal["learning_day", "network_meeting", "other"]
When = Annotated[
    datetime,
    AfterValidator(as_utc),
    Field(description="When it was held (ISO 8601; without an offset it is taken as UTC)"),
]
PartnerIds = Annotated[list[uuid.UUID], Field(max_length=500)]
Notes = Annotated[str, Field(max_length=50000)]


class GatheringCreate(InputModel):
    """A learning day, a partner network meeting or another event with many partners."""

    kind: GatheringKind
    title: str = Field(min_length=1, max_length=300, examples=["Spring learning day"])
    held_at: When
    place: str | None = Field(None, max_length=300)
    invited_partner_ids: PartnerIds = Field(
        description="The partners invited: each in a relationship with your funder"
    )
    attended_partner_ids: PartnerIds = Field(
        [], description="Those who came: each one of the invited"
    )
    shared_notes: Notes | None = Field(None, description="Read by every partner that came")
    private_notes: Notes | None = Field(
        None, description="Your funder's own notes: never shown to a partner"
    )


class GatheringUpdate(UpdateModel):
    """Change a gathering; the partner lists replace the current ones when sent."""

    read_only: ClassVar[frozenset[str]] = UpdateModel.read_only | {
        "funder_id",
        "recorded_by",
        "invitees",
    }
    nullable: ClassVar[frozenset[str]] = frozenset({"place", "shared_notes", "private_notes"})

    kind: GatheringKind | None = None
    title: str | None = Field(None, min_length=1, max_length=300)
    held_at: When | None = None
    place: str | None = Field(None, max_length=300)
    invited_partner_ids: PartnerIds | None = None
    attended_partner_ids: PartnerIds | None = None
    shared_notes: Notes | None = None
    private_notes: Notes | None = None


class GatheringInvitee(BaseModel):
    partner_id: uuid.UUID
    attended: bool


class Gathering(TimestampedRecord):
    """A gathering as the caller may see it.

    Staff see every invitee and the private notes. A partner sees only its own
    invitation (no other partner is named), the shared notes once it came, and never
    the private notes (always empty for a partner).
    """

    funder_id: uuid.UUID
    kind: GatheringKind
    title: str
    held_at: datetime
    place: str | None
    recorded_by: str
    invitees: list[GatheringInvitee] = Field(
        description="Staff: every partner invited and whether it came. A partner: itself."
    )
    shared_notes: str | None = Field(description="For staff and the partners that came")
    private_notes: str | None = Field(description="Staff only; always empty for a partner")
