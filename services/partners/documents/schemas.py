"""Bodies of the documents API."""

import uuid
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from services.common.schemas import InputModel, TimestampedRecord, UpdateModel
from services.partners.access import check_web_url

DocumentKind = Literal["annual_report", "accounts", "strategy", "policy", "other"]
WebUrl = Annotated[
    str,
    Field(min_length=1, max_length=2000, description="An http:// or https:// link; never fetched"),
    AfterValidator(check_web_url),
]
Title = Annotated[str, Field(min_length=1, max_length=300)]
Year = Annotated[int, Field(ge=1900, le=2100, description="The year the document covers")]


class DocumentCreate(InputModel):
    """A link to a document the partner already has. No application form exists."""

    partner_id: uuid.UUID | None = Field(
        None, description="Required for funder staff; a partner may leave it out"
    )
    title: Title
    kind: DocumentKind
    year: Year | None = None
    url: WebUrl


class DocumentUpdate(UpdateModel):
    nullable = frozenset({"year"})

    read_only = UpdateModel.read_only | {"partner_id", "funder_id", "added_by", "added_by_funder"}

    title: Title | None = None
    kind: DocumentKind | None = None
    year: Year | None = None
    url: WebUrl | None = None


class Document(TimestampedRecord):
    partner_id: uuid.UUID
    funder_id: uuid.UUID | None = Field(
        description="The funder whose staff added this link; empty when the partner added it"
    )
    title: str
    kind: DocumentKind
    year: int | None
    url: str
    added_by: str
