"""Import reports: what a file would create, link or refuse, row by row, and why."""

import uuid
from typing import Literal

from pydantic import BaseModel, Field

from services.common.schemas import InputModel

Action = Literal["create", "link", "exists", "refuse"]


class ImportRow(BaseModel):
    """One row of the file and what the import does with it."""

    row: int = Field(description="The row's number in the file (the header is row 1)")
    name: str | None
    org_id: str | None
    action: Action = Field(
        description="create (a new organisation and your relationship with it); link (an "
        "organisation already known here: your relationship with it, nothing of its own data "
        "until it accepts you); exists (already yours: nothing to do); refuse (see reasons)"
    )
    partner_id: uuid.UUID | None = Field(None, description="The partner, once imported")
    reasons: list[str] = Field(default_factory=list, description="Why a row is refused")


class ImportCounts(BaseModel):
    """How many rows each action takes."""

    create: int = 0
    link: int = 0
    exists: int = 0
    refuse: int = 0


class ImportReport(BaseModel):
    """What an import did (or, in a dry run, would do)."""

    dry_run: bool
    rows: list[ImportRow]
    counts: ImportCounts


class Recipient(InputModel):
    """An organisation another service needs as one of a funder's partners."""

    name: str = Field(min_length=1, max_length=300)
    org_id: str | None = Field(None, max_length=100)
    charity_number: str | None = Field(None, max_length=20)
    company_number: str | None = Field(None, max_length=20)
    status: Literal["exploring", "active", "paused", "ended"] = "ended"


class EnsureRecipients(InputModel):
    """Recipients of grants a funder imports, and who at the funder runs the import."""

    actor: str = Field(min_length=1, max_length=200)
    recipients: list[Recipient] = Field(max_length=10_000)


class Ensured(BaseModel):
    """Where each recipient stands (or would stand) among the funder's partners."""

    action: Action
    partner_id: uuid.UUID | None
    reasons: list[str] = Field(default_factory=list)
