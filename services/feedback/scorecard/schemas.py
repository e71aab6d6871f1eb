"""Bodies of the scorecard and the feedback settings behind it."""

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field

from services.common.schemas import UpdateModel
from services.feedback.actions.schemas import PublicAction
from services.feedback.measures.schemas import Measure


class Settings(BaseModel):
    funder_id: uuid.UUID
    k_threshold: int = Field(
        description="Figures from fewer responses are withheld (3 or more). Each round keeps "
        "the k it opened with: a change applies to rounds opened afterwards."
    )
    scorecard_published: bool
    scorecard_published_at: datetime | None
    version: int


class SettingsUpdate(UpdateModel):
    read_only = UpdateModel.read_only | {"funder_id", "scorecard_published_at"}

    k_threshold: int | None = Field(
        None, le=1000, description="At least 3; 5 by default. Applies to rounds opened from now on."
    )
    scorecard_published: bool | None = None


class TrendPoint(BaseModel):
    round_id: uuid.UUID
    round_title: str
    closes_on: date
    commitment_version: int
    k: int = Field(description="The round's anonymity threshold, fixed when it opened")
    responses: int | None
    dont_know: int | None
    mean: Decimal | None
    distribution: dict[str, int] | None
    withheld: list[str]


class ScorecardCommitment(BaseModel):
    id: uuid.UUID
    title: str
    description: str | None
    position: int
    version: int
    measure: Measure | None = Field(description="The measured behaviour that evidences it")
    latest: TrendPoint | None = Field(description="Its result in the latest published round")
    trend: list[TrendPoint] = Field(
        description="Its results in every published round, oldest first"
    )
    actions: list[PublicAction]


class ScorecardRound(BaseModel):
    id: uuid.UUID
    title: str
    opens_on: date
    closes_on: date
    published_at: datetime | None
    invited: int
    k: int = Field(description="The round's anonymity threshold, fixed when it opened")
    responses: int | None = Field(
        description="How many answered; null when showing it would reveal a group below k"
    )
    answer: str | None = Field(description="The funder's answer to what partners said")


class Scorecard(BaseModel):
    """A page-ready account of how the funder keeps its commitments."""

    funder: dict[str, Any]
    published_at: datetime | None
    k: int = Field(description="The funder's k for rounds it opens from now on")
    commitments: list[ScorecardCommitment]
    rounds: list[ScorecardRound]
    actions: list[PublicAction] = Field(description="Every published action")
    measures: list[Measure]
