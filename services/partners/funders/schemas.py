"""Request and response bodies for funders."""

from pydantic import Field

from services.common.schemas import SLUG_PATTERN, InputModel, TimestampedRecord, UpdateModel
from services.partners.organisations.schemas import Name, OrgId


class FunderCreate(InputModel):
    name: Name
    slug: str = Field(pattern=SLUG_PATTERN, description="Short name used in URLs")
    prefix_360giving: str = Field(
        pattern=r"^360G-[A-Za-z0-9]+$",
        description="The funder's registered 360Giving prefix, e.g. 360G-exampletrust",
    )
    org_id: OrgId | None = None


class FunderUpdate(UpdateModel):
    nullable = frozenset({"org_id"})
    # The slug is in URLs and cannot change; react-admin's <Edit> sends it back unchanged.
    read_only = UpdateModel.read_only | {"slug"}

    name: Name | None = None
    prefix_360giving: str | None = Field(None, pattern=r"^360G-[A-Za-z0-9]+$")
    org_id: OrgId | None = None


class Funder(TimestampedRecord):
    name: str
    slug: str
    prefix_360giving: str
    org_id: str | None
