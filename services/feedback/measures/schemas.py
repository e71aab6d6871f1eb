"""Bodies of measures: the funder's own behaviour, measured from events."""

from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field


class Measure(BaseModel):
    id: str = Field(
        description="instalments_paid_on_time, days_to_first_reply, days_to_decision, "
        "updates_replied_in_time or rounds_published_with_actions (a commitment's ``measure``)"
    )
    name: str
    based_on: int = Field(
        description="How many instalments, updates, decisions or rounds the figure rests on"
    )
    value: Decimal | None = Field(description="null until there is something to measure")
    unit: str
    details: dict[str, Any]
