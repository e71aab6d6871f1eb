"""What each notification says: drafted from an event's fields and the names Trellis keeps.

Words only of what the recipient may already read in Trellis, and never who answered
a feedback round or when: round emails name the funder, the round and its dates.
An update's or a message's own words are not copied into email; the link opens them.
"""

import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from services.common.money import describe

CONSOLE_HOME = "/"


@dataclass(frozen=True)
class Draft:
    """A notification to queue for everyone it concerns."""

    kind: str
    subject_key: str
    title: str
    body: str
    link: str
    funder_ids: list[uuid.UUID] = field(default_factory=list)
    partner_ids: list[uuid.UUID] = field(default_factory=list)


@dataclass(frozen=True)
class Names:
    """Names of the funders and partners an event mentions (``?`` stands in for a stranger)."""

    funders: dict[uuid.UUID, str]
    partners: dict[uuid.UUID, str]

    def funder(self, value: Any) -> str:
        return self.funders.get(as_id(value), "Your funder") if value else "Your funder"

    def partner(self, value: Any) -> str:
        return self.partners.get(as_id(value), "A partner") if value else "A partner"


def as_id(value: Any) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def ids(*values: Any) -> list[uuid.UUID]:
    """The ids among event fields (a single id or a list of them); anything else is skipped."""
    out: list[uuid.UUID] = []
    for value in values:
        for item in value if isinstance(value, list) else [value]:
            if item is None:
                continue
            try:
                out.append(as_id(item))
            except ValueError:
                continue
    return list(dict.fromkeys(out))


def _day(value: str | date) -> str:
    day = value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
    return f"{day:%A} {day.day} {day:%B %Y}"


def _funders(data: dict[str, Any]) -> list[uuid.UUID]:
    return ids(data.get("funder_id"), data.get("funder_ids") or [])


def update_received(data: dict[str, Any], names: Names) -> Draft:
    partner = names.partner(data["partner_id"])
    return Draft(
        kind="update_received",
        subject_key=str(data["update_id"]),
        title=f"A reflective update from {partner}",
        body=f"{partner} sent {names.funder(data['funder_id'])} a reflective update. "
        "Read it, and reply when you can.",
        link=f"/#/updates/{data['update_id']}/show",
        funder_ids=_funders(data),
    )


def update_replied(data: dict[str, Any], names: Names) -> Draft:
    funder = names.funder(data["funder_id"])
    return Draft(
        kind="funder_replied",
        subject_key=f"update:{data['update_id']}",
        title=f"{funder} replied to your update",
        body=f"{funder} replied to the reflective update you sent them.",
        link=f"/#/updates/{data['update_id']}/show",
        partner_ids=ids(data.get("partner_id")),
    )


def thread_message(data: dict[str, Any], names: Names) -> Draft | None:
    if data.get("author_role") != "funder":
        return None
    funder = names.funder(data["funder_id"])
    return Draft(
        kind="funder_replied",
        subject_key=f"message:{data['message_id']}",
        title=f"{funder} wrote to you",
        body=f"{funder} wrote a message to your organisation in Trellis.",
        link=CONSOLE_HOME,
        partner_ids=ids(data.get("partner_id")),
    )


def _instalment(data: dict[str, Any]) -> str:
    return describe(int(data["amount"]), str(data["currency"]))


def _instalment_notice(kind: str, data: dict[str, Any], names: Names) -> Draft:
    partner = names.partner(data.get("partner_id"))
    amount, day = _instalment(data), _day(data["due_date"])
    if kind == "instalment_due":
        title = f"An instalment to {partner} is due on {day}"
        body = (
            f"An instalment of {amount} to {partner} is due on {day}. Paying on the date "
            "promised is one of the things a funder is held to."
        )
    else:
        title = f"An instalment to {partner} is overdue"
        body = (
            f"An instalment of {amount} to {partner} was due on {day} and is not recorded as paid."
        )
    return Draft(
        kind=kind,
        subject_key=f"{data['instalment_id']}:{data['due_date']}",
        title=title,
        body=body,
        link=f"/#/grants/{data['grant_id']}/show",
        funder_ids=_funders(data),
    )


def instalment_due(data: dict[str, Any], names: Names) -> Draft:
    return _instalment_notice("instalment_due", data, names)


def instalment_overdue(data: dict[str, Any], names: Names) -> Draft:
    return _instalment_notice("instalment_overdue", data, names)


def instalment_paid(data: dict[str, Any], names: Names) -> Draft:
    funder = names.funder(data.get("funder_id"))
    return Draft(
        kind="instalment_paid",
        subject_key=str(data["instalment_id"]),
        title=f"{funder} paid an instalment of {_instalment(data)}",
        body=f"{funder} paid an instalment of {_instalment(data)} of your grant on "
        f"{_day(data['paid_on'])}.",
        link=f"/#/grants/{data['grant_id']}/show",
        partner_ids=ids(data.get("partner_id")),
    )


def proposal_opened(data: dict[str, Any], names: Names) -> Draft:
    pool = str(data.get("pool_name") or "a pooled fund")
    return Draft(
        kind="proposal_vote",
        subject_key=str(data["proposal_id"]),
        title=f"A proposal in {pool} awaits your vote",
        body=f"{data.get('title') or 'A grant'} ({_instalment(data)}) was proposed in {pool}. "
        "The members decide together: your funder's vote is awaited.",
        link=f"/#/pools/{data['pool_id']}/show",
        funder_ids=_funders(data),
    )


def round_opened(data: dict[str, Any], names: Names) -> Draft:
    funder = names.funder(data.get("funder_id"))
    return Draft(
        kind="round_opened",
        subject_key=str(data["round_id"]),
        title=f"{funder} asks for your feedback",
        body=f'{funder} opened the feedback round "{data.get("title")}" and invites your '
        f"organisation to rate it against its commitments, anonymously if you wish. "
        f"It closes on {_day(data['closes_on'])}.",
        link="/#/rounds",
        partner_ids=ids(data.get("partner_ids") or []),
    )


def round_closing(
    *, round_id: uuid.UUID, funder: str, title: str, closes_on: date, partner_ids: list[Any]
) -> Draft:
    return Draft(
        kind="round_closing",
        subject_key=str(round_id),
        title=f"{funder}'s feedback round closes on {_day(closes_on)}",
        body=f'The feedback round "{title}" of {funder} closes on {_day(closes_on)}. '
        "If you mean to give feedback, there is still time; if you have, thank you.",
        link="/#/rounds",
        partner_ids=ids(partner_ids),
    )


def update_overdue(
    *,
    update_id: uuid.UUID,
    funder_id: uuid.UUID,
    partner: str,
    sent_on: date,
    days: int,
    promise: str,
) -> Draft:
    return Draft(
        kind="update_overdue",
        subject_key=str(update_id),
        title=f"The update from {partner} has waited more than {days} days",
        body=f"{partner} sent a reflective update on {_day(sent_on)} and has had no reply. "
        f"{promise}",
        link=f"/#/updates/{update_id}/show",
        funder_ids=[funder_id],
    )
