"""Whom a round asks: its audience, checked when set and resolved when the round opens.

Whatever the audience, a round invites only organisations that have claimed their own
record and accepted the funder (``directory.countable``): only they count towards k.
An end-of-grant round is offered (a draft) when the funding service says a grant has
completed; each completed grant's partner joins it until staff open it.
"""

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.db import utcnow
from services.common.errors import Conflict, Unprocessable
from services.common.events import Event
from services.common.http import ServiceClient
from services.feedback import directory
from services.feedback.models import ORIGIN_GRANT_COMPLETED, Round
from services.feedback.rounds import repository

#: Days an offered end-of-grant round stays open, once staff open it.
OFFERED_ROUND_DAYS = 28
OFFERED_TITLE = "End-of-grant feedback"
OFFERED_DESCRIPTION = (
    "Offered by Trellis when grants completed: the partners whose grants have ended are "
    "asked how the funder lived up to its commitments. Open it when you are ready; it "
    "invites those that have claimed their record and accepted your funder."
)


def _refuse(field: str, message: str) -> Unprocessable:
    return Unprocessable(message, errors={field: [message]})


async def check(
    *,
    partners: ServiceClient,
    funding: ServiceClient,
    funder_id: uuid.UUID,
    audience: str,
    organisation_ids: list[uuid.UUID] | None,
    pool_id: uuid.UUID | None,
) -> None:
    """Refuse an audience that cannot be resolved, saying which field to fix."""
    if audience != "chosen" and organisation_ids is not None:
        raise _refuse(
            "organisation_ids",
            f"organisation_ids is for a 'chosen' audience; leave it out for '{audience}', "
            "or set audience to 'chosen'.",
        )
    if audience != "pool" and pool_id is not None:
        raise _refuse(
            "pool_id",
            f"pool_id is for a 'pool' audience; leave it out for '{audience}', "
            "or set audience to 'pool'.",
        )
    if audience == "chosen":
        if not organisation_ids:
            raise _refuse(
                "organisation_ids",
                "A 'chosen' audience needs organisation_ids: the organisations to ask.",
            )
        found = await directory.partners_of_funder(partners, funder_id, ids=organisation_ids)
        unknown = sorted(set(organisation_ids) - {uuid.UUID(p["id"]) for p in found}, key=str)
        if unknown:
            raise Unprocessable(
                "Only organisations your funder has a relationship with (of any status: "
                "ended, declined, never funded) can be chosen; record the others first "
                "(POST /api/v1/partners). Unknown: " + ", ".join(str(u) for u in unknown),
                errors={
                    "organisation_ids": [
                        f"{u} has no relationship with your funder" for u in unknown
                    ]
                },
            )
    if audience == "pool":
        if pool_id is None:
            raise _refuse("pool_id", "A 'pool' audience needs pool_id: the pooled fund to ask.")
        if await directory.pool_partner_ids(funding, pool_id, funder_id) is None:
            raise _refuse(
                "pool_id",
                "There is no pooled fund with this id that your funder is, or was, a member of.",
            )


async def candidates(
    *, session: AsyncSession, partners: ServiceClient, funding: ServiceClient, round_: Round
) -> list[dict[str, Any]]:
    """The organisations the round's audience names now, as the partners service knows them
    (with ``claimed`` and ``sharing``); 409 when it names none."""
    funder_id = round_.funder_id
    if round_.audience in {"active", "ended"}:
        found = await directory.partners_of_funder(partners, funder_id, status=round_.audience)
        if not found:
            raise Conflict(
                f"Your funder has no partners in an {round_.audience} relationship to invite; "
                "a round needs at least one."
            )
        return found
    if round_.audience == "pool":
        assert round_.pool_id is not None
        ids = await directory.pool_partner_ids(funding, round_.pool_id, funder_id)
        if ids is None:
            raise Conflict("Your funder is no longer a member of this round's pooled fund.")
    else:
        ids = (await repository.chosen_of(session, [round_.id])).get(round_.id, [])
    found = await directory.partners_of_funder(partners, funder_id, ids=ids) if ids else []
    if not found:
        raise Conflict(
            "None of the organisations this round asks has a relationship with your funder; "
            "a round needs at least one."
        )
    return found


async def on_grant_completed(*, session: AsyncSession, event: Event) -> None:
    """Offer an end-of-grant round: add the grant's partner to the funder's offered draft,
    or offer a new one. A duplicate event adds nothing; a late one joins the next draft."""
    data = event.data
    funder_id = uuid.UUID(str(data["funder_id"]))
    partner_id = uuid.UUID(str(data["partner_id"]))
    round_ = await repository.offered_draft(session, funder_id, ORIGIN_GRANT_COMPLETED)
    if round_ is None:
        today = utcnow().date()
        round_ = Round(
            funder_id=funder_id,
            title=OFFERED_TITLE,
            description=OFFERED_DESCRIPTION,
            opens_on=today,
            closes_on=today + timedelta(days=OFFERED_ROUND_DAYS),
            status="draft",
            audience="chosen",
            origin=ORIGIN_GRANT_COMPLETED,
            version=1,
        )
        session.add(round_)
        await session.flush()
    await repository.choose(session, round_.id, [partner_id], replace=False)
    await session.flush()
