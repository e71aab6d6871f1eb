"""The report of a 360Giving import: each grant of the file, what happens to it and why."""

import uuid
from typing import Literal

from pydantic import BaseModel, Field

Action = Literal["create", "exists", "refuse"]
PartnerAction = Literal["create", "link", "exists"]


class ImportedGrant(BaseModel):
    row: int = Field(description="The grant's place in the file (CSV: its row; JSON: from 1)")
    identifier: str | None = Field(description="Its 360Giving id")
    title: str | None
    recipient: str | None = Field(description="The recipient's name")
    action: Action = Field(
        description="create (a new grant); exists (this grant is here already: nothing to do); "
        "refuse (see reasons)"
    )
    partner_action: PartnerAction | None = Field(
        None,
        description="For its recipient: create (a new partner), link (an organisation known "
        "here, which shares nothing of its own with you until it accepts), exists",
    )
    grant_id: uuid.UUID | None = None
    partner_id: uuid.UUID | None = None
    reasons: list[str] = Field(default_factory=list)


class GrantImportCounts(BaseModel):
    """How many grants each action takes."""

    create: int = 0
    exists: int = 0
    refuse: int = 0


class GrantImportReport(BaseModel):
    """What an import did (or, in a dry run, would do)."""

    dry_run: bool
    grants: list[ImportedGrant]
    counts: GrantImportCounts
