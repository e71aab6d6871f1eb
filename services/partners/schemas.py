"""Request and response bodies of the partners service."""

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field, HttpUrl

from services.common.orgid import check_charity_number, check_company_number, check_org_id
from services.common.schemas import InputModel, Record, TimestampedRecord, UpdateModel

RelationshipStatus = Literal["exploring", "active", "paused", "ended"]
OrgId = Annotated[str, AfterValidator(check_org_id)]
CharityNumber = Annotated[str, AfterValidator(check_charity_number)]
CompanyNumber = Annotated[str, AfterValidator(check_company_number)]
Name = Annotated[str, Field(min_length=1, max_length=300)]


class FunderCreate(InputModel):
    name: Name
    slug: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,62}$", description="Short name used in URLs")
    prefix_360giving: str = Field(
        pattern=r"^360G-[A-Za-z0-9]+$",
        description="The funder's registered 360Giving prefix, e.g. 360G-exampletrust",
    )
    org_id: OrgId | None = None


class FunderUpdate(UpdateModel):
    name: Name | None = None
    prefix_360giving: str | None = Field(None, pattern=r"^360G-[A-Za-z0-9]+$")
    org_id: OrgId | None = None


class Funder(TimestampedRecord):
    name: str
    slug: str
    prefix_360giving: str
    org_id: str | None


class RelationshipFields(BaseModel):
    status: RelationshipStatus = "exploring"
    since: date | None = Field(None, description="When the relationship began (today if omitted)")
    steward: str | None = Field(
        None, max_length=200, description="Who at the funder looks after it"
    )


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


class PartnerFields(InputModel):
    name: Name
    org_id: OrgId | None = Field(None, description="org-id such as GB-CHC-1164883")
    charity_number: CharityNumber | None = None
    company_number: CompanyNumber | None = None
    website: HttpUrl | None = None
    region: str | None = Field(None, max_length=100)
    description: str | None = Field(None, max_length=5000)


class PartnerCreate(PartnerFields):
    """A partner organisation and the caller's funder's relationship with it."""

    status: RelationshipStatus = "exploring"
    since: date | None = None
    steward: str | None = Field(None, max_length=200)


DESCRIPTIVE_FIELDS = frozenset({"name", "website", "region", "description"})


class PartnerUpdate(UpdateModel):
    read_only = UpdateModel.read_only | {"relationship"}

    name: Name | None = None
    org_id: OrgId | None = None
    charity_number: CharityNumber | None = None
    company_number: CompanyNumber | None = None
    website: HttpUrl | None = None
    region: str | None = Field(None, max_length=100)
    description: str | None = Field(None, max_length=5000)


class Partner(TimestampedRecord):
    name: str
    org_id: str | None
    charity_number: str | None
    company_number: str | None
    website: str | None
    region: str | None
    description: str | None
    relationship: Relationship | None = Field(
        None, description="The caller's funder's relationship with this partner (staff only)"
    )


class ApiClientCreate(InputModel):
    name: str = Field(
        min_length=1, max_length=200, description="What the system is, e.g. 'Our CRM'"
    )


class ApiClient(Record):
    client_id: str
    partner_id: uuid.UUID
    name: str
    created_by: str
    created_at: datetime
    revoked_at: datetime | None


class ApiClientWithSecret(ApiClient):
    client_secret: str = Field(description="Shown once. Keep it in the partner system's secrets.")


class TokenResponse(BaseModel):
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int
    scope: str


class PartnerSummary(BaseModel):
    """What other services learn of a partner and one funder's relationship with it."""

    id: uuid.UUID
    name: str
    org_id: str | None
    charity_number: str | None
    company_number: str | None
    region: str | None
    relationship_status: RelationshipStatus | None = None
    relationship_since: date | None = None
