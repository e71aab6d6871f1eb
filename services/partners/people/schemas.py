"""Request and response bodies for people, memberships, invitations and password resets."""

import uuid
from datetime import datetime
from typing import Annotated, ClassVar, Literal

from pydantic import AfterValidator, BaseModel, Field, model_validator

from services.common.money import Currency
from services.common.schemas import (
    MAX_AMOUNT,
    READ_ONLY_FIELDS,
    InputModel,
    Record,
    UpdateModel,
)


def _email(value: str) -> str:
    """An address with one ``@``, something either side and no spaces: mail tells the rest."""
    local, at, domain = value.strip().rpartition("@")
    if not at or not local or ("." not in domain.strip(".") and domain != "localhost"):
        raise ValueError("must be an email address like name@example.org")
    if any(c.isspace() for c in value.strip()) or len(value) > 320:
        raise ValueError("must be an email address like name@example.org")
    return value.strip()


EmailStr = Annotated[str, AfterValidator(_email)]


class Person(Record):
    email: str
    name: str
    email_verified_at: datetime | None
    created_at: datetime
    disabled_at: datetime | None


Capability = Literal["finance", "trustee", "staff_admin"]


class Membership(Record):
    person_id: uuid.UUID
    role: Literal["platform_admin", "funder_staff", "partner"]
    funder_id: uuid.UUID | None
    partner_id: uuid.UUID | None
    created_at: datetime
    created_by: str
    removed_at: datetime | None
    capabilities: list[Capability] = Field(
        description="A funder's staff member's capabilities beyond the staff role, as roles "
        "in their access token: finance (budgets, payment runs, bank details), trustee "
        "(decisions above the limit), staff_admin (sets these for colleagues)"
    )
    decision_limit: int | None = Field(
        description="The most this person may approve alone, in minor units of "
        "decision_limit_currency; null: the funder's staff approval limit"
    )
    decision_limit_currency: str | None


class MembershipUpdate(UpdateModel):
    """What a funder's staff admin sets on a colleague's membership."""

    read_only: ClassVar[frozenset[str]] = READ_ONLY_FIELDS | {
        "person_id",
        "role",
        "funder_id",
        "partner_id",
        "created_by",
        "removed_at",
    }
    nullable: ClassVar[frozenset[str]] = frozenset({"decision_limit", "decision_limit_currency"})

    capabilities: list[Capability] | None = Field(
        None, description="The whole set (replaces the current one)", max_length=3
    )
    decision_limit: int | None = Field(
        None, ge=0, le=MAX_AMOUNT, description="Minor units; null: no personal limit"
    )
    decision_limit_currency: Currency | None = None

    @model_validator(mode="after")
    def _limit_with_currency(self) -> "MembershipUpdate":
        limit_set = "decision_limit" in self.model_fields_set
        if limit_set and (self.decision_limit is None) != (self.decision_limit_currency is None):
            raise ValueError(
                "give decision_limit and decision_limit_currency together (both null: no "
                "personal limit, the funder's staff approval limit applies)"
            )
        return self


class InvitationCreate(InputModel):
    email: EmailStr = Field(description="Where the one-time invitation link is sent.")
    role: Literal["funder_staff", "partner", "platform_admin"] = Field(
        description=(
            "funder_staff: a colleague at your funder (or, for platform admins, at funder_id). "
            "partner: a colleague at your organisation, or, for a funder's staff, an "
            "organisation you know, through one of its contacts' emails."
        )
    )
    funder_id: uuid.UUID | None = None
    partner_id: uuid.UUID | None = None

    @model_validator(mode="after")
    def _names_only_its_own_kind(self) -> "InvitationCreate":
        """A staff invitation names no organisation, and an organisation's names no funder."""
        stray = {"funder_staff": "partner_id", "partner": "funder_id"}.get(self.role)
        strays = [stray] if stray else ["funder_id", "partner_id"]
        given = [name for name in strays if getattr(self, name) is not None]
        if given:
            message = f"A {self.role} invitation does not take {' or '.join(given)}; leave it out."
            raise ValueError(message)
        return self

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "email": "sam@hillside.example",
                    "role": "partner",
                    "partner_id": str(uuid.UUID(int=1)),
                }
            ]
        }
    }


class Invitation(Record):
    kind: Literal["colleague", "organisation"]
    email: str
    role: str
    funder_id: uuid.UUID | None
    partner_id: uuid.UUID | None
    invited_by: str
    created_at: datetime
    expires_at: datetime
    accepted_at: datetime | None
    accepted_by_person_id: uuid.UUID | None
    withdrawn_at: datetime | None


class PasswordResetRequest(InputModel):
    email: EmailStr


class PasswordResetRequested(BaseModel):
    detail: str = (
        "If there is an account with this email, a link to choose a new password is on its way."
    )
