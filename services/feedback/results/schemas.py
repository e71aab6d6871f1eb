"""Bodies of results: figures per commitment and round, withheld below k."""

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field

Kind = Literal["all", "named", "anonymous"]


class Result(BaseModel):
    """What partners said about one commitment in one round. Any figure based on fewer
    than k responses is ``null`` and ``withheld`` names the reason."""

    id: uuid.UUID
    round_id: uuid.UUID
    round_title: str
    closes_on: date
    opened_at: datetime | None
    commitment_id: uuid.UUID
    commitment_version_id: uuid.UUID
    commitment_version: int
    title: str
    position: int
    kind: Kind = Field(description="Which responses: all, named only, or anonymous only")
    k: int = Field(description="The round's anonymity threshold, fixed when it opened")
    responses: int | None = Field(description="How many responses rated this commitment")
    dont_know: int | None
    mean: Decimal | None = Field(description="Mean of the 1 to 5 ratings, exact to 2 places")
    distribution: dict[str, int] | None = Field(description="How many gave each rating 1 to 5")
    withheld: list[str] = Field(description="Why figures are withheld (empty when none are)")


class Comment(BaseModel):
    commitment_id: uuid.UUID | None = Field(description="null for an overall comment")
    comment: str
    partner_id: uuid.UUID | None = None
    partner_name: str | None = None


class RoundComments(BaseModel):
    """Comments of a closed round: named ones with their partner; anonymous ones only when
    at least k of the round's answers are anonymous."""

    round_id: uuid.UUID
    k: int
    named: list[Comment]
    anonymous: list[Comment] | None
    anonymous_withheld: str | None
