"""The rules of core grants. Keyword-only functions; they flush, never commit.

A core grant funds an organisation for 1 to 10 years with no KPIs, targets or
restrictions. It is proposed, approved by a decision (when it gets its
360Giving id and a payment schedule), active once paying, then completed; or
withdrawn before completion. Its schedule always reconciles to the penny with
the amount awarded; variations change it only with their own decision.

This module holds a grant's life and the checks the others share; awarding is in
``awards``, the schedule in ``instalments``, payments in ``payments`` and
variations in ``variations``.
"""

import uuid
from datetime import date, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.common import audit, outbox
from services.common.auth import Caller
from services.common.concurrency import check_if_match
from services.common.db import utcnow
from services.common.errors import Conflict, Forbidden, NotFound, Unprocessable
from services.common.http import ServiceClient
from services.common.lists import ListQuery, Page
from services.funding.finance import service as finance
from services.funding.grants import repository
from services.funding.grants.models import (
    Grant,
    Instalment,
)
from services.funding.grants.schedule import (
    add_months,
    describe,
    ends_on_anniversary,
    last_day_of_term,
)
from services.funding.grants.schemas import (
    GrantCreate,
    GrantUpdate,
    Transition,
    Withdrawal,
)
from services.funding.pools import ledger

LIVE = ("approved", "active")
ALLOWED = {
    "approve": ("proposed",),
    "activate": ("approved",),
    "complete": ("active",),
    "withdraw": ("proposed", "approved", "active"),
}
VERB = {
    "approve": "approved",
    "activate": "made active",
    "complete": "completed",
    "withdraw": "withdrawn",
}


def today() -> date:
    """Today in UTC: due dates and overdue are judged by it."""
    return utcnow().date()


def text_or_none(value: Any) -> str | None:
    """``str(value)``, keeping ``None`` (for the old and new values an audit entry records)."""
    return None if value is None else str(value)


def check_transition(grant: Grant, action: str) -> None:
    """Refuse, naming the current state, a transition the grant's status does not allow."""
    if grant.status in ALLOWED[action]:
        return
    allowed = " or ".join(ALLOWED[action])
    raise Conflict(
        f"This grant is {grant.status}, so it cannot be {VERB[action]}: "
        f"only a {allowed} grant can.",
        slug="illegal-transition",
        extra={"status": grant.status},
    )


def _check_term(start: date, end: date) -> None:
    if end < last_day_of_term(start, 1) or end > last_day_of_term(start, 10):
        raise Unprocessable(
            "A core grant runs for 1 to 10 years: planned_end_date must be between "
            f"{last_day_of_term(start, 1).isoformat()} and {last_day_of_term(start, 10).isoformat()} "
            f"for a start on {start.isoformat()}.",
            slug="grant-term",
            errors={"planned_end_date": ["the term must be 1 to 10 years"]},
        )
    months = ends_on_anniversary(start, end)
    if months:
        last = add_months(start, months) - timedelta(days=1)
        raise Unprocessable(
            f"planned_end_date is the last day of the term: a grant from {start.isoformat()} "
            f"for {_term_words(months)} ends on {last.isoformat()}. {end.isoformat()} would add "
            "one day of a new period (and an instalment for it); send "
            f"{last.isoformat()} instead.",
            slug="grant-term-ends-on-its-last-day",
            errors={"planned_end_date": [f"the last day of the term, e.g. {last.isoformat()}"]},
        )


def reconcile(grant: Grant, *, target: int, paid: int, lines: list[tuple[date, int]]) -> None:
    """Refuse (422, saying by how much) a schedule whose unpaid lines and ``paid`` miss ``target``."""
    planned = sum(amount for _, amount in lines)
    off = paid + planned - target
    if off:
        words = "more" if off > 0 else "less"
        raise Unprocessable(
            f"The schedule does not reconcile: it is off by {describe(abs(off), grant.currency)} "
            f"({abs(off)} in minor units). The unpaid instalments come to "
            f"{describe(planned, grant.currency)}, {words} than the "
            f"{describe(target - paid, grant.currency)} still to pay of "
            f"{describe(target, grant.currency)} awarded "
            f"({describe(paid, grant.currency)} paid already).",
            slug="schedule-does-not-reconcile",
            errors={"instalments": [f"off by {off:+d} minor units"]},
            extra={"off_by": off},
        )


def _term_words(months: int) -> str:
    years, rest = divmod(months, 12)
    parts = [f"{years} year{'s' if years != 1 else ''}"] if years else []
    parts += [f"{rest} month{'s' if rest != 1 else ''}"] if rest else []
    return " and ".join(parts)


def check_term(start: date, end: date) -> None:
    """A core grant runs for 1 to 10 years (422 otherwise); pooled proposals use it too."""
    _check_term(start, end)


def visible(caller: Caller, grant: Any, funder_ids: list[uuid.UUID] | None = None) -> bool:
    """Whether the caller sees the grant: staff of a funder of it, or its partner once awarded."""
    if caller.has("funder_staff") and caller.staff_funder_id is not None:
        if funder_ids is None:
            funder_ids = [org.funder_id for org in grant.funding_organisations]
        return grant.funder_id == caller.staff_funder_id or caller.staff_funder_id in funder_ids
    if caller.has("partner") and caller.own_partner_id is not None:
        return grant.partner_id == caller.own_partner_id and grant.approved_on is not None
    return False


async def get_grant(
    *, session: AsyncSession, caller: Caller, grant_id: uuid.UUID, for_update: bool = False
) -> Grant:
    """A grant the caller may see: staff of its funder, or its partner once it is awarded."""
    grant = await repository.get_grant(session, grant_id, for_update=for_update)
    if grant is None or not visible(caller, grant):
        raise NotFound("There is no grant with this id.")
    return grant


async def read_grant(
    *, session: AsyncSession, caller: Caller, grant_id: uuid.UUID
) -> repository.GrantRead:
    """``get_grant`` for answering only: the same rule, one query, no ORM object."""
    read = await repository.read_grant(session, grant_id)
    if read is None or not visible(caller, read.grant, read.funder_ids):
        raise NotFound("There is no grant with this id.")
    return read


def check_pool_host(caller: Caller, grant: Grant) -> None:
    """A pooled grant is administered (paid, varied, withdrawn) by the pool's host."""
    if grant.pool_id is not None and caller.staff_funder_id != grant.funder_id:
        raise Forbidden(
            "This is a pooled grant: its host funder records its payments, schedule changes, "
            "variations and withdrawal. Members read it here and in the pool's books.",
            slug="pool-host-only",
        )


async def staff_grant(
    session: AsyncSession, caller: Caller, grant_id: uuid.UUID, if_match: str | None = None
) -> Grant:
    """A grant its funder\'s staff may change: locked, pooled ones by the host only, If-Match checked."""
    grant = await get_grant(session=session, caller=caller, grant_id=grant_id, for_update=True)
    check_pool_host(caller, grant)
    check_if_match(if_match, grant)
    return grant


async def check_partner(
    partners: ServiceClient, *, funder_id: uuid.UUID, partner_id: uuid.UUID
) -> dict[str, Any]:
    """Ask the partners service whether the partner is in a relationship with the funder."""
    summary = await partners.get_json(f"/internal/funders/{funder_id}/partners/{partner_id}")
    if summary is None:
        raise Unprocessable(
            "Your funder has no relationship with this partner. Record the partner "
            "(POST /api/v1/partners) before making it a grant.",
            slug="unknown-partner",
            errors={"partner_id": ["is not a partner of your funder"]},
        )
    if summary.get("relationship_status") == "ended":
        raise Unprocessable(
            "Your funder's relationship with this partner has ended; reopen it before "
            "making a new grant.",
            slug="relationship-ended",
            errors={"partner_id": ["the relationship has ended"]},
        )
    return summary


# Grants ------------------------------------------------------------------------------------


async def create_grant(
    *, session: AsyncSession, caller: Caller, partners: ServiceClient, data: GrantCreate
) -> Grant:
    """Propose a core grant. The partner is checked with the partners service first."""
    assert caller.staff_funder_id is not None
    _check_term(data.planned_start_date, data.planned_end_date)
    await check_partner(partners, funder_id=caller.staff_funder_id, partner_id=data.partner_id)
    grant_id = uuid.uuid4()
    reference = (data.reference or f"{today().year}-{grant_id.hex[:10].upper()}").replace(" ", "_")
    if await repository.reference_taken(
        session, funder_id=caller.staff_funder_id, reference=reference
    ):
        raise Conflict(
            f"Your funder already has a grant with the reference '{reference}'; choose another.",
            errors={"reference": ["is already used"]},
        )
    grant = Grant(
        id=grant_id,
        funder_id=caller.staff_funder_id,
        pool_id=None,
        partner_id=data.partner_id,
        title=data.title,
        description=data.description,
        amount_awarded=data.amount_awarded,
        currency=data.currency,
        planned_start_date=data.planned_start_date,
        planned_end_date=data.planned_end_date,
        payment_frequency=data.payment_frequency or "annual",
        reference=reference,
        status="proposed",
        list_date=today(),
        version=1,
    )
    session.add(grant)
    await session.flush()
    await repository.add_funding_organisation(
        session, grant_id=grant.id, funder_id=caller.staff_funder_id
    )
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict("A grant with this reference was just made; choose another.") from exc
    await finance.replan(session=session, grant=grant)
    audit.record(
        session,
        caller=caller,
        action="create",
        entity_type="grant",
        entity_id=grant.id,
        changes=data.model_dump(mode="json"),
    )
    return await get_grant(session=session, caller=caller, grant_id=grant.id)


async def update_grant(
    *,
    session: AsyncSession,
    caller: Caller,
    partners: ServiceClient,
    grant_id: uuid.UUID,
    data: GrantUpdate,
    if_match: str | None,
) -> Grant:
    """Change a grant's words at any time; its terms only while it is proposed."""
    grant = await staff_grant(session, caller, grant_id, if_match)
    changes = {k: v for k, v in data.changes().items() if v is not None}
    terms = {
        "partner_id",
        "amount_awarded",
        "currency",
        "planned_start_date",
        "planned_end_date",
        "payment_frequency",
        "reference",
    }
    changed_terms = sorted(f for f in terms & set(changes) if changes[f] != getattr(grant, f))
    if changed_terms and grant.status != "proposed":
        raise Conflict(
            f"This grant is {grant.status}: its {', '.join(changed_terms)} can no longer be "
            "edited. Record a variation with its decision (POST /api/v1/grants/{id}/variations).",
            slug="use-a-variation",
            extra={"status": grant.status},
        )
    if "reference" in changes:
        changes["reference"] = changes["reference"].replace(" ", "_")
        if changes["reference"] != grant.reference and await repository.reference_taken(
            session, funder_id=grant.funder_id, reference=changes["reference"]
        ):
            raise Conflict(
                f"Your funder already has a grant with the reference '{changes['reference']}'.",
                errors={"reference": ["is already used"]},
            )
    start = changes.get("planned_start_date", grant.planned_start_date)
    end = changes.get("planned_end_date", grant.planned_end_date)
    if start != grant.planned_start_date or end != grant.planned_end_date:
        _check_term(start, end)
    if "partner_id" in changes and changes["partner_id"] != grant.partner_id:
        await check_partner(partners, funder_id=grant.funder_id, partner_id=changes["partner_id"])
    for field, value in changes.items():
        setattr(grant, field, value)
    await session.flush()
    if changed_terms:
        await finance.replan(session=session, grant=grant)
    audit.record(
        session,
        caller=caller,
        action="update",
        entity_type="grant",
        entity_id=grant.id,
        changes={
            k: text_or_none(v) if not isinstance(v, int | str) else v for k, v in changes.items()
        },
    )
    return grant


def event_grant(grant: Grant) -> dict[str, Any]:
    """The grant's ids, as every event about it carries them."""
    return {"grant_id": str(grant.id), "funder_id": str(grant.funder_id)}


def new_instalment(grant: Grant, sequence: int, due: date, amount: int) -> Instalment:
    """A scheduled instalment of the grant, not yet added to the session."""
    return Instalment(
        grant_id=grant.id,
        funder_id=grant.funder_id,
        partner_id=grant.partner_id,
        sequence=sequence,
        due_date=due,
        amount=amount,
        currency=grant.currency,
        status="scheduled",
        version=1,
    )


async def activate_grant(
    *,
    session: AsyncSession,
    caller: Caller,
    grant_id: uuid.UUID,
    data: Transition,
    if_match: str | None,
) -> Grant:
    """An approved grant starts: it becomes active (paying its first instalment does this too)."""
    grant = await staff_grant(session, caller, grant_id, if_match)
    check_transition(grant, "activate")
    grant.status = "active"
    grant.activated_on = data.on or today()
    await session.flush()
    audit.record(
        session,
        caller=caller,
        action="activate",
        entity_type="grant",
        entity_id=grant.id,
        changes={"activated_on": grant.activated_on.isoformat()},
    )
    return grant


async def complete_grant(
    *,
    session: AsyncSession,
    caller: Caller,
    grant_id: uuid.UUID,
    data: Transition,
    if_match: str | None,
) -> Grant:
    """An active grant whose instalments are all paid is completed."""
    grant = await staff_grant(session, caller, grant_id, if_match)
    check_transition(grant, "complete")
    unpaid = [
        i for i in await repository.instalments_of(session, grant.id) if i.status == "scheduled"
    ]
    if unpaid:
        owed = sum(i.amount for i in unpaid)
        raise Conflict(
            f"{len(unpaid)} instalment{'s' if len(unpaid) != 1 else ''} "
            f"({describe(owed, grant.currency)}) {'are' if len(unpaid) != 1 else 'is'} still "
            "unpaid: pay them, or record a reduction, before completing the grant.",
            slug="unpaid-instalments",
            extra={"status": grant.status},
        )
    grant.status = "completed"
    grant.completed_on = data.on or today()
    await session.flush()
    audit.record(
        session,
        caller=caller,
        action="complete",
        entity_type="grant",
        entity_id=grant.id,
        changes={"completed_on": grant.completed_on.isoformat()},
    )
    # The feedback service offers an end-of-grant round to the partner.
    outbox.emit(
        session,
        "grant.completed",
        {
            **event_grant(grant),
            "funder_ids": [str(o.funder_id) for o in grant.funding_organisations],
            "pool_id": text_or_none(grant.pool_id),
            "partner_id": str(grant.partner_id),
            "title": grant.title,
            "completed_on": grant.completed_on.isoformat(),
        },
    )
    return grant


async def withdraw_grant(
    *,
    session: AsyncSession,
    caller: Caller,
    grant_id: uuid.UUID,
    data: Withdrawal,
    if_match: str | None,
) -> Grant:
    """Withdraw a grant before completion; its unpaid instalments are cancelled."""
    grant = await staff_grant(session, caller, grant_id, if_match)
    check_transition(grant, "withdraw")
    on = data.on or today()
    cancelled = []
    for instalment in await repository.instalments_of(session, grant.id):
        if instalment.status == "scheduled":
            instalment.status = "cancelled"
            instalment.cancelled_on = on
            cancelled.append(str(instalment.id))
    grant.status = "withdrawn"
    grant.withdrawn_on = on
    grant.withdrawal_reason = data.reason
    await session.flush()
    await finance.replan(session=session, grant=grant)
    if grant.pool_id is not None:
        await ledger.release(
            session,
            grant=grant,
            amount=None,
            on=on,
            recorded_by=caller.actor,
            memo=f"Grant {grant.reference} withdrawn: unpaid commitment returned to the pool",
        )
    audit.record(
        session,
        caller=caller,
        action="withdraw",
        entity_type="grant",
        entity_id=grant.id,
        changes={"reason": data.reason, "on": on.isoformat(), "cancelled": cancelled},
    )
    if grant.approved_on is not None:
        outbox.emit(
            session,
            "grant.withdrawn",
            {
                **event_grant(grant),
                "partner_id": str(grant.partner_id),
                "reason": data.reason,
                "withdrawn_on": on.isoformat(),
            },
        )
    return grant


async def list_grants(*, session: AsyncSession, caller: Caller, query: ListQuery) -> Page:
    """Staff see their funder's grants; a partner sees its own awarded grants."""
    if caller.has("funder_staff"):
        return await repository.list_grants(
            session, query, today=today(), funder_id=caller.staff_funder_id
        )
    return await repository.list_grants(
        session, query, today=today(), partner_id=caller.own_partner_id, awarded_only=True
    )
