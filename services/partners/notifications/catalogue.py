"""The notifications Trellis sends by email, whom each is for, and how often one may choose."""

from dataclasses import dataclass
from typing import Literal

Audience = Literal["staff", "partner"]
Frequency = Literal["immediate", "daily"]
FREQUENCIES: tuple[str, ...] = ("immediate", "daily")
IMMEDIATE, DAILY = FREQUENCIES
#: The unsubscribe scope of a daily digest: it turns off every notification sent in it.
DIGEST = "digest"


@dataclass(frozen=True, slots=True)
class Kind:
    name: str
    audience: Audience
    description: str


KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind("update_received", "staff", "A partner sent your funder a reflective update."),
        Kind(
            "update_overdue",
            "staff",
            "An update has waited longer than the reply time your funder promised.",
        ),
        Kind("instalment_due", "staff", "An instalment is due in the next few days."),
        Kind("instalment_overdue", "staff", "An instalment is unpaid after its due date."),
        Kind("proposal_vote", "staff", "A proposal in a pooled fund awaits your funder's vote."),
        Kind("round_opened", "partner", "A funder invites your organisation to give feedback."),
        Kind("round_closing", "partner", "A feedback round you were invited to closes soon."),
        Kind("funder_replied", "partner", "Your funder replied to your update or wrote to you."),
        Kind("instalment_paid", "partner", "Your funder paid an instalment of a grant."),
    )
}
NAMES: tuple[str, ...] = tuple(KINDS)
NotificationName = Literal[
    "update_received",
    "update_overdue",
    "instalment_due",
    "instalment_overdue",
    "proposal_vote",
    "round_opened",
    "round_closing",
    "funder_replied",
    "instalment_paid",
]
