"""Bodies of the grant requests API."""

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import Field, model_validator

from services.common.errors import Unprocessable
from services.common.schemas import InputModel, TimestampedRecord
from services.funding.grants.schemas import NoKpiInput
from services.funding.requests.models import REQUEST_KINDS

RequestKind = Literal["extension", "reprofile", "uplift"]
RequestStatus = Literal["open", "varied", "declined", "answered"]
ReplyOutcome = Literal["declined", "answered"]

NOTHING_TO_ASK = (
    "How your organisation spends its unrestricted grant needs no request: a core grant funds "
    "the organisation, not a budget, and you may change how you use the money as your world "
    "changes. There is nothing to ask. A request is for a change to the grant itself: "
    "extension (more time), reprofile (different payment timing) or uplift (more money)."
)
UNKNOWN_KIND = (
    "A request asks for a change to the grant itself: extension (more time), reprofile "
    "(different payment timing) or uplift (more money); '{kind}' is not one of them. How you "
    "spend unrestricted money needs no request."
)
#: Words for what is not a change to the grant: spending its money is the partner's call.
SPENDING_WORDS = ("spend", "budget", "realloc", "virement", "cost", "restrict")


def _refuse_kind(kind: Any) -> None:
    if not isinstance(kind, str) or kind in REQUEST_KINDS:
        return
    lowered = kind.lower()
    spending = any(word in lowered for word in SPENDING_WORDS)
    message = NOTHING_TO_ASK if spending else UNKNOWN_KIND.format(kind=kind[:40])
    raise Unprocessable(
        message,
        slug="nothing-to-ask" if spending else "unknown-request-kind",
        title="Spending needs no request" if spending else "Not a kind of request",
        errors={"kind": ["must be extension, reprofile or uplift"]},
    )


class GrantRequestCreate(NoKpiInput):
    """What a partner asks to change about its grant, and why, in its own words."""

    kind: RequestKind = Field(
        description="extension (more time), reprofile (different payment timing) or uplift "
        "(more money). Spending needs no request."
    )
    reasons: str = Field(
        min_length=1,
        max_length=20000,
        description="Why, in your own words: what has changed for you",
        examples=[
            "Our building works slipped by six months; we would like the grant to "
            "run until the end of March 2034."
        ],
    )

    @model_validator(mode="before")
    @classmethod
    def _kind_is_a_change_to_the_grant(cls, data: Any) -> Any:
        if isinstance(data, dict):
            _refuse_kind(data.get("kind"))
            for field in data:
                if isinstance(field, str) and any(
                    word in field.lower() for word in ("budget", "spend")
                ):
                    raise Unprocessable(
                        NOTHING_TO_ASK,
                        slug="nothing-to-ask",
                        title="Spending needs no request",
                        errors={field: ["how you spend the grant needs no request"]},
                    )
        return data


class GrantRequestReply(InputModel):
    """The funder's answer without a variation: declined (with the reason) or answered."""

    outcome: ReplyOutcome = Field(
        description="declined (with the reason in reply) or answered (the reply says what "
        "happens next, e.g. that nothing needs to change)"
    )
    reply: str = Field(min_length=1, max_length=20000, description="In plain words, to the partner")


class GrantRequest(TimestampedRecord):
    """A partner's request to change its grant, and how and when the funder decided."""

    grant_id: uuid.UUID
    funder_id: uuid.UUID
    partner_id: uuid.UUID
    kind: RequestKind
    reasons: str
    requested_by: str
    requested_at: datetime
    status: RequestStatus = Field(
        description="open until decided; varied (a variation answers it: variation_id), "
        "declined or answered (see reply)"
    )
    reply: str | None
    decided_at: datetime | None
    decided_by: str | None
    variation_id: uuid.UUID | None
    days_to_decision: int | None = Field(
        description="Calendar days (UTC) from requested_at to decided_at: the funder's own "
        "measure of how long a partner waits. Empty while open."
    )
