"""Request and response bodies for partner organisations."""

import uuid
from datetime import date, datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field, HttpUrl

from services.common.orgid import check_charity_number, check_company_number, check_org_id
from services.common.schemas import InputModel, TimestampedRecord, UpdateModel
from services.partners.relationships.schemas import Relationship, RelationshipStatus, Sharing

OrgId = Annotated[str, AfterValidator(check_org_id)]
CharityNumber = Annotated[str, AfterValidator(check_charity_number)]
CompanyNumber = Annotated[str, AfterValidator(check_company_number)]
Name = Annotated[str, Field(min_length=1, max_length=300)]


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


class PartnerUpdate(UpdateModel):
    nullable = frozenset(
        {"org_id", "charity_number", "company_number", "website", "region", "description"}
    )

    read_only = UpdateModel.read_only | {"relationship", "claimed_at"}

    name: Name | None = None
    org_id: OrgId | None = None
    charity_number: CharityNumber | None = None
    company_number: CompanyNumber | None = None
    website: HttpUrl | None = None
    region: str | None = Field(None, max_length=100)
    description: str | None = Field(None, max_length=5000)


#: The organisation's own descriptive fields, shown to a funder only once the organisation
#: has accepted it. Its name and registry identifiers (org-id, charity and company numbers)
#: are public and shown to every funder in relationship with it.
SHARED_ONLY_FIELDS = ("website", "region", "description")


class Partner(TimestampedRecord):
    name: str
    org_id: str | None
    charity_number: str | None
    company_number: str | None
    website: str | None
    region: str | None
    description: str | None
    claimed_at: datetime | None = Field(
        None,
        description="When the organisation's own people claimed its record; empty while "
        "unclaimed (the funder that added it may still edit it)",
    )
    relationship: Relationship | None = Field(
        None,
        description="The caller's funder's relationship with this partner (staff only). "
        "Until its sharing is accepted, website, region and description are left empty.",
    )


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
    sharing: Sharing | None = None
    claimed: bool = Field(
        False, description="Whether the organisation's own people have claimed its record"
    )
