"""Request and response bodies for people, memberships, invitations and password resets."""

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field, model_validator

from services.common.schemas import InputModel, Record


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


class Membership(Record):
    person_id: uuid.UUID
    role: Literal["platform_admin", "funder_staff", "partner"]
    funder_id: uuid.UUID | None
    partner_id: uuid.UUID | None
    created_at: datetime
    created_by: str
    removed_at: datetime | None


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
