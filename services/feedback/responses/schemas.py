"""Request and response bodies of responses to feedback rounds."""

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from services.common.schemas import InputModel, UpdateModel

RatingValue = Literal[1, 2, 3, 4, 5, "dont_know"]
RECEIPT_HEADER = "X-Response-Receipt"


class RatingIn(InputModel):
    commitment_id: uuid.UUID
    rating: RatingValue = Field(description='1 (poorly) to 5 (very well), or "dont_know"')
    comment: str | None = Field(None, max_length=5000)


class ResponseCreate(InputModel):
    """A partner's answer to a round: every commitment rated, named or anonymous."""

    anonymous: bool = Field(
        False,
        description="Must be false: an anonymous answer is cast with a ballot at "
        "/rounds/{round_id}/anonymous-responses, without a token.",
    )
    ratings: list[RatingIn] = Field(min_length=1)
    comment: str | None = Field(None, max_length=10000, description="An overall comment")


class ResponseChange(UpdateModel):
    """New ratings and comments for a response you gave (named stays named, anonymous anonymous)."""

    read_only = UpdateModel.read_only | {
        "round_id",
        "anonymous",
        "partner_id",
        "partner_name",
        "submitted_at",
        "changed_at",
        "receipt",
    }
    nullable = frozenset({"comment"})

    ratings: list[RatingIn] = Field(min_length=1)
    comment: str | None = Field(None, max_length=10000)


class RatingOut(BaseModel):
    commitment_id: uuid.UUID
    commitment_version_id: uuid.UUID
    rating: RatingValue
    comment: str | None


class NamedResponse(BaseModel):
    id: uuid.UUID
    round_id: uuid.UUID
    anonymous: Literal[False] = False
    partner_id: uuid.UUID
    partner_name: str | None
    comment: str | None
    ratings: list[RatingOut]
    submitted_at: datetime | None
    changed_at: datetime | None


class AnonymousResponse(BaseModel):
    """An anonymous answer as its ballot holder sees it: no id, no time, no partner."""

    round_id: uuid.UUID
    anonymous: Literal[True] = True
    comment: str | None
    ratings: list[RatingOut]
    receipt: str | None = Field(
        None,
        description="Always null now: the ballot you cast with is what reads or changes the "
        f"answer. Receipts given before ballots still work in the {RECEIPT_HEADER} header.",
    )
