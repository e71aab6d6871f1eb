"""Request and response bodies of funder settings (publishing open data)."""

import uuid
from datetime import datetime

from pydantic import BaseModel, Field

from services.common.schemas import UpdateModel


class FunderSettingsUpdate(UpdateModel):
    """What a funder chooses about its funding data."""

    read_only = UpdateModel.read_only | {"funder_id", "funder_slug", "public_url"}

    publish_360giving: bool = Field(
        description="Publish your approved grants as 360Giving open data, without a token"
    )


class FunderSettings(BaseModel):
    id: uuid.UUID = Field(description="Your funder's id")
    funder_id: uuid.UUID
    funder_slug: str | None
    publish_360giving: bool
    public_url: str | None = Field(description="Where the public reads your grants, if published")
    version: int
    updated_at: datetime | None
