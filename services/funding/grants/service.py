"""The rules of core grants. Keyword-only functions; they flush, never commit.

A core grant funds an organisation for 1 to 10 years with no KPIs, targets or
restrictions. It is proposed, approved by a decision (when it gets its
360Giving id and a payment schedule), active once paying, then completed; or
withdrawn before completion. Its schedule always reconciles to the penny with
the amount awarded; variations change it only with their own decision.
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
    GrantFundingOrganisation,
    Instalment,
    Payment,
    Variation,
)
from services.funding.grants.schedule import (
    add_months,
    default_schedule,
    describe,
    ends_on_anniversary,
    last_day_of_term,
    spread_increase,
    take_from_last,
)
from services.funding.grants.schemas import (
    Approval,
    GrantCreate,
    GrantUpdate,
    InstalmentUpdate,
    PaymentCreate,
    ScheduleUpdate,
    Transition,
    VariationCreate,
    Withdrawal,
)
from services.funding.pools import ledger
from services.funding.requests import service as requests_service
from services.funding.runs import repository as runs_repository

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


def _s(value: Any) -> str | None:
    return None if value is None else str(value)


def _check_transition(grant: Grant, action: str) -> None:
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


def _term_words(months: int) -> str:
    years, rest = divmod(months, 12)
    parts = [f"{years} year{'s' if years != 1 else ''}"] if years else []
    parts += [f"{rest} month{'s' if rest != 1 else ''}"] if rest else []
    return " and ".join(parts)


def check_term(start: date, end: date) -> None:
    """A core grant runs for 1 to 10 years (422 otherwise); pooled proposals use it too."""
    _check_term(start, end)


def _visible(caller: Caller, grant: Any, funder_ids: list[uuid.UUID] | None = None) -> bool:
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
    if grant is None or not _visible(caller, grant):
        raise NotFound("There is no grant with this id.")
    return grant


async def read_grant(
    *, session: AsyncSession, caller: Caller, grant_id: uuid.UUID
) -> repository.GrantRead:
    """``get_grant`` for answering only: the same rule, one query, no ORM object."""
    read = await repository.read_grant(session, grant_id)
    if read is None or not _visible(caller, read.grant, read.funder_ids):
        raise NotFound("There is no grant with this id.")
    return read


def _check_pool_host(caller: Caller, grant: Grant) -> None:
    """A pooled grant is administered (paid, varied, withdrawn) by the pool's host."""
    if grant.pool_id is not None and caller.staff_funder_id != grant.funder_id:
        raise Forbidden(
            "This is a pooled grant: its host funder records its payments, schedule changes, "
            "variations and withdrawal. Members read it here and in the pool's books.",
            slug="pool-host-only",
        )


async def _staff_grant(
    session: AsyncSession, caller: Caller, grant_id: uuid.UUID, if_match: str | None = None
) -> Grant:
    grant = await get_grant(session=session, caller=caller, grant_id=grant_id, for_update=True)
    _check_pool_host(caller, grant)
    check_if_match(if_match, grant)
    return grant


async def _check_partner(
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
    await _check_partner(partners, funder_id=caller.staff_funder_id, partner_id=data.partner_id)
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
    grant = await _staff_grant(session, caller, grant_id, if_match)
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
        await _check_partner(partners, funder_id=grant.funder_id, partner_id=changes["partner_id"])
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
        changes={k: _s(v) if not isinstance(v, int | str) else v for k, v in changes.items()},
    )
    return grant


def _event_grant(grant: Grant) -> dict[str, Any]:
    return {"grant_id": str(grant.id), "funder_id": str(grant.funder_id)}


async def approve_grant(
    *,
    session: AsyncSession,
    caller: Caller,
    partners: ServiceClient,
    grant_id: uuid.UUID,
    data: Approval,
    if_match: str | None,
) -> Grant:
    """Record the award decision, give the grant its 360Giving id and its payment schedule."""
    grant = await _staff_grant(session, caller, grant_id, if_match)
    _check_transition(grant, "approve")
    funder = await partners.get_json(f"/internal/funders/{grant.funder_id}")
    if funder is None:
        raise NotFound("Your funder is not known to the partners service.")
    await finance.check_approval_limit(session=session, caller=caller, grant=grant)
    grant.payment_frequency = data.payment_frequency or grant.payment_frequency
    lines = _approval_schedule(grant, data)
    return await _award(
        session,
        caller=caller,
        grant=grant,
        prefix=funder["prefix_360giving"],
        decided_on=data.decided_on,
        decided_by=data.decided_by,
        reference=data.reference,
        changes=data.model_dump(mode="json"),
        lines=lines,
    )


def _approval_schedule(grant: Grant, data: Approval) -> list[tuple[date, int]] | None:
    """The custom schedule given with an approval, checked; None for a regular frequency."""
    if grant.payment_frequency != "custom":
        if data.instalments is not None:
            raise Unprocessable(
                f"This grant is paid {grant.payment_frequency}: its schedule is made for you. "
                "Send 'instalments' only with payment_frequency 'custom'.",
                slug="custom-schedule-needs-custom-frequency",
                errors={"instalments": ["only for payment_frequency 'custom'"]},
            )
        return None
    if not data.instalments:
        raise Unprocessable(
            "A custom schedule is given with the approval: send 'instalments' (due_date and "
            "amount of each) adding up to the award.",
            slug="custom-schedule-missing",
            errors={"instalments": ["required for payment_frequency 'custom'"]},
        )
    lines = sorted((i.due_date, i.amount) for i in data.instalments)
    outside = [
        d.isoformat()
        for d, _ in lines
        if d < grant.planned_start_date or d > grant.planned_end_date
    ]
    if outside:
        raise Unprocessable(
            f"Instalments must fall within the term {grant.planned_start_date.isoformat()} to "
            f"{grant.planned_end_date.isoformat()}; {', '.join(outside)} do not.",
            slug="instalment-outside-term",
            errors={"instalments": [f"{d} is outside the term" for d in outside]},
        )
    _reconcile(grant, target=grant.amount_awarded, paid=0, lines=lines)
    return lines


async def _award(
    session: AsyncSession,
    *,
    caller: Caller,
    grant: Grant,
    prefix: str,
    decided_on: date,
    decided_by: str,
    reference: str,
    changes: dict[str, Any],
    lines: list[tuple[date, int]] | None = None,
    proposed_on: date | None = None,
) -> Grant:
    """Award a grant: its decision, 360Giving id, schedule (the default one unless ``lines``
    are given), audit and grant.approved (which says when the grant was proposed, so the
    funder's days from a proposal to its decision can be measured)."""
    grant.status = "approved"
    grant.approved_on = decided_on
    grant.approved_by = decided_by
    grant.decision_reference = reference
    grant.list_date = decided_on
    grant.grant_360_id = f"{prefix}-{grant.reference}".replace(" ", "_")
    grant.original_amount = grant.amount_awarded
    grant.original_start_date = grant.planned_start_date
    grant.original_end_date = grant.planned_end_date
    await finance.replan(session=session, grant=grant)
    if lines is None:
        lines = default_schedule(
            grant.amount_awarded,
            grant.planned_start_date,
            grant.planned_end_date,
            grant.payment_frequency,
        )
    for sequence, (due, amount) in enumerate(lines, start=1):
        session.add(_instalment(grant, sequence, due, amount))
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict(
            f"The 360Giving id {grant.grant_360_id} is used by another grant; "
            "change this grant's reference first."
        ) from exc
    audit.record(
        session,
        caller=caller,
        action="approve",
        entity_type="grant",
        entity_id=grant.id,
        changes={
            **changes,
            "grant_360_id": grant.grant_360_id,
            "schedule": [[d.isoformat(), a] for d, a in lines],
        },
    )
    outbox.emit(
        session,
        "grant.approved",
        {
            **_event_grant(grant),
            "funder_ids": [str(o.funder_id) for o in grant.funding_organisations],
            "pool_id": _s(grant.pool_id),
            "partner_id": str(grant.partner_id),
            "title": grant.title,
            "amount_awarded": grant.amount_awarded,
            "currency": grant.currency,
            "approved_on": decided_on.isoformat(),
            "proposed_on": (proposed_on or grant.created_at.date()).isoformat(),
            "grant_360_id": grant.grant_360_id,
        },
    )
    return grant


async def create_pooled_grant(
    *,
    session: AsyncSession,
    caller: Caller,
    pool_id: uuid.UUID,
    host_funder_id: uuid.UUID,
    prefix: str,
    partner_id: uuid.UUID,
    title: str,
    description: str,
    amount: int,
    currency: str,
    planned_start_date: date,
    planned_end_date: date,
    payment_frequency: str,
    reference: str | None,
    decided_on: date,
    decided_by: str,
    decision_reference: str,
    shares: list[tuple[uuid.UUID, int]],
    proposed_on: date | None = None,
) -> Grant:
    """A pool's decision made a core grant: awarded at once (same lifecycle, schedule,
    payments and events as any grant), with the host as deciding funder and every member
    funder as a funding organisation with its share (host first, then by share)."""
    _check_term(planned_start_date, planned_end_date)
    grant_id = uuid.uuid4()
    ref = (reference or f"{today().year}-{grant_id.hex[:10].upper()}").replace(" ", "_")
    if await repository.reference_taken(session, funder_id=host_funder_id, reference=ref):
        raise Conflict(
            f"The pool's host already has a grant with the reference '{ref}'; choose another.",
            errors={"reference": ["is already used"]},
        )
    grant = Grant(
        id=grant_id,
        funder_id=host_funder_id,
        pool_id=pool_id,
        partner_id=partner_id,
        title=title,
        description=description,
        amount_awarded=amount,
        currency=currency,
        planned_start_date=planned_start_date,
        planned_end_date=planned_end_date,
        payment_frequency=payment_frequency,
        reference=ref,
        status="proposed",
        list_date=decided_on,
        version=1,
        funding_organisations=[
            GrantFundingOrganisation(
                grant_id=grant_id, funder_id=funder_id, position=position, share_amount=share
            )
            for position, (funder_id, share) in enumerate(
                sorted(shares, key=lambda s: (s[0] != host_funder_id, -s[1], str(s[0])))
            )
        ],
    )
    session.add(grant)
    await session.flush()
    return await _award(
        session,
        caller=caller,
        grant=grant,
        prefix=prefix,
        decided_on=decided_on,
        decided_by=decided_by,
        reference=decision_reference,
        changes={
            "pool_id": str(pool_id),
            "amount_awarded": amount,
            "shares": {str(f): a for f, a in shares},
        },
        proposed_on=proposed_on,
    )


def _instalment(grant: Grant, sequence: int, due: date, amount: int) -> Instalment:
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
    grant = await _staff_grant(session, caller, grant_id, if_match)
    _check_transition(grant, "activate")
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
    grant = await _staff_grant(session, caller, grant_id, if_match)
    _check_transition(grant, "complete")
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
            **_event_grant(grant),
            "funder_ids": [str(o.funder_id) for o in grant.funding_organisations],
            "pool_id": _s(grant.pool_id),
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
    grant = await _staff_grant(session, caller, grant_id, if_match)
    _check_transition(grant, "withdraw")
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
                **_event_grant(grant),
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


# Schedules ---------------------------------------------------------------------------------


async def get_schedule(
    *, session: AsyncSession, caller: Caller, grant_id: uuid.UUID
) -> tuple[Grant, list[Instalment]]:
    grant = await get_grant(session=session, caller=caller, grant_id=grant_id)
    return grant, await repository.instalments_of(session, grant.id)


def _reconcile(grant: Grant, *, target: int, paid: int, lines: list[tuple[date, int]]) -> None:
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


async def _replace_unpaid(
    session: AsyncSession, grant: Grant, lines: list[tuple[date, int]], *, on: date
) -> None:
    """Make the unpaid schedule ``lines``, reusing today's unpaid rows in order."""
    instalments = await repository.instalments_of(session, grant.id)
    unpaid = [i for i in instalments if i.status == "scheduled"]
    sequence = max((i.sequence for i in instalments), default=0)
    lines = sorted((line for line in lines if line[1] > 0), key=lambda line: line[0])
    for index, (due, amount) in enumerate(lines):
        if index < len(unpaid):
            row = unpaid[index]
            if row.due_date != due:
                row.overdue_notified_at = row.due_soon_notified_at = None
            row.due_date, row.amount = due, amount
        else:
            sequence += 1
            session.add(_instalment(grant, sequence, due, amount))
    for row in unpaid[len(lines) :]:
        row.status = "cancelled"
        row.cancelled_on = on
    grant.updated_at = utcnow()
    await session.flush()


def _paid(instalments: list[Instalment]) -> int:
    return sum(i.amount for i in instalments if i.status == "paid")


def _snapshot(instalments: list[Instalment]) -> list[dict[str, Any]]:
    return [
        {"due_date": i.due_date.isoformat(), "amount": i.amount, "status": i.status}
        for i in instalments
        if i.status != "cancelled"
    ]


def _check_live(grant: Grant, doing: str) -> None:
    if grant.status not in LIVE:
        raise Conflict(
            f"This grant is {grant.status}: {doing} needs an approved or active grant.",
            slug="illegal-transition",
            extra={"status": grant.status},
        )


async def replace_schedule(
    *,
    session: AsyncSession,
    caller: Caller,
    grant_id: uuid.UUID,
    data: ScheduleUpdate,
    if_match: str | None,
) -> tuple[Grant, list[Instalment]]:
    """Replace the unpaid instalments; paid ones stay. The total must still reconcile."""
    grant = await _staff_grant(session, caller, grant_id, if_match)
    _check_live(grant, "editing the schedule")
    instalments = await repository.instalments_of(session, grant.id)
    lines = [(line.due_date, line.amount) for line in data.instalments]
    _reconcile(grant, target=grant.amount_awarded, paid=_paid(instalments), lines=lines)
    before = _snapshot(instalments)
    await _replace_unpaid(session, grant, lines, on=today())
    after = await repository.instalments_of(session, grant.id)
    audit.record(
        session,
        caller=caller,
        action="reschedule",
        entity_type="grant",
        entity_id=grant.id,
        changes={"before": before, "after": _snapshot(after)},
    )
    return grant, after


async def get_instalment(
    *, session: AsyncSession, caller: Caller, instalment_id: uuid.UUID, for_update: bool = False
) -> tuple[Instalment, Grant]:
    instalment = await repository.get_instalment(session, instalment_id, for_update=for_update)
    if instalment is not None:
        grant = await repository.get_grant(session, instalment.grant_id, for_update=for_update)
        if grant is not None and _visible(caller, grant):
            return instalment, grant
    raise NotFound("There is no instalment with this id.")


async def update_instalment(
    *,
    session: AsyncSession,
    caller: Caller,
    instalment_id: uuid.UUID,
    data: InstalmentUpdate,
    if_match: str | None,
) -> Instalment:
    """Move an unpaid instalment's due date. Its amount can change only if the schedule still
    reconciles, which for a single instalment means it stays the same."""
    instalment, grant = await get_instalment(
        session=session, caller=caller, instalment_id=instalment_id, for_update=True
    )
    _check_pool_host(caller, grant)
    check_if_match(if_match, instalment)
    if instalment.status != "scheduled":
        raise Conflict(
            f"This instalment is {instalment.status}; only a scheduled instalment can be edited.",
            extra={"status": instalment.status},
        )
    _check_live(grant, "editing the schedule")
    changes = {k: v for k, v in data.changes().items() if v is not None}
    if "amount" in changes and changes["amount"] != instalment.amount:
        instalments = await repository.instalments_of(session, grant.id)
        lines = [
            (i.due_date, changes["amount"] if i.id == instalment.id else i.amount)
            for i in instalments
            if i.status == "scheduled"
        ]
        _reconcile(grant, target=grant.amount_awarded, paid=_paid(instalments), lines=lines)
    if "due_date" in changes and changes["due_date"] != instalment.due_date:
        instalment.overdue_notified_at = instalment.due_soon_notified_at = None
    for field, value in changes.items():
        setattr(instalment, field, value)
    await session.flush()
    audit.record(
        session,
        caller=caller,
        action="update",
        entity_type="instalment",
        entity_id=instalment.id,
        changes={k: _s(v) for k, v in changes.items()},
    )
    return instalment


async def list_instalments(*, session: AsyncSession, caller: Caller, query: ListQuery) -> Page:
    if caller.has("funder_staff"):
        return await repository.list_instalments(
            session, query, today=today(), funder_id=caller.staff_funder_id
        )
    return await repository.list_instalments(
        session, query, today=today(), partner_id=caller.own_partner_id
    )


# Payments ----------------------------------------------------------------------------------


async def record_payment(
    *,
    session: AsyncSession,
    caller: Caller,
    data: PaymentCreate,
    in_run: uuid.UUID | None = None,
) -> Payment:
    """Pay one instalment in full. Never twice, never more than it is; one held by an open
    payment run is paid by that run (``in_run``) only."""
    instalment, grant = await get_instalment(
        session=session, caller=caller, instalment_id=data.instalment_id, for_update=True
    )
    _check_pool_host(caller, grant)
    held_by = await runs_repository.claim_of(session, instalment.id)
    if held_by is not None and held_by != in_run:
        raise Conflict(
            f"This instalment is in payment run {held_by}: it is paid when that run is marked "
            "paid (or cancel the run to pay it on its own).",
            slug="instalment-in-payment-run",
            extra={"payment_run_id": str(held_by)},
        )
    if instalment.status == "paid":
        paid = await repository.payment_of(session, instalment.id)
        when = f" on {paid.paid_on.isoformat()}" if paid else ""
        raise Conflict(
            f"This instalment was already paid{when}; it cannot be paid twice.",
            slug="already-paid",
            extra={"payment_id": _s(paid.id if paid else None)},
        )
    if instalment.status == "cancelled":
        raise Conflict(
            "This instalment was cancelled; it cannot be paid.",
            slug="instalment-cancelled",
            extra={"status": instalment.status},
        )
    _check_live(grant, "recording a payment")
    amount = data.amount if data.amount is not None else instalment.amount
    if amount > instalment.amount:
        raise Unprocessable(
            f"This would over-pay the instalment by "
            f"{describe(amount - instalment.amount, instalment.currency)}: it is "
            f"{describe(instalment.amount, instalment.currency)}. To pay more, record an uplift "
            "variation first.",
            slug="over-payment",
            errors={"amount": [f"must be {instalment.amount}"]},
        )
    if amount < instalment.amount:
        raise Unprocessable(
            f"Instalments are paid in full ({describe(instalment.amount, instalment.currency)}). "
            "To pay less now, re-profile the schedule first.",
            slug="part-payment",
            errors={"amount": [f"must be {instalment.amount}"]},
        )
    if data.paid_on > today():
        raise Unprocessable(
            "paid_on is in the future: record a payment once it has been made.",
            errors={"paid_on": ["cannot be in the future"]},
        )
    payment = Payment(
        instalment_id=instalment.id,
        grant_id=grant.id,
        funder_id=grant.funder_id,
        partner_id=grant.partner_id,
        amount=amount,
        currency=instalment.currency,
        due_date=instalment.due_date,
        paid_on=data.paid_on,
        reference=data.reference,
        recorded_by=caller.actor,
    )
    session.add(payment)
    instalment.status = "paid"
    instalment.paid_on = data.paid_on
    if grant.status == "approved":
        grant.status = "active"
        grant.activated_on = data.paid_on
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict(
            "This instalment was paid by another request just now; it cannot be paid twice.",
            slug="already-paid",
        ) from exc
    if grant.pool_id is not None:
        await ledger.pay(
            session,
            grant=grant,
            amount=amount,
            paid_on=data.paid_on,
            payment_id=payment.id,
            recorded_by=caller.actor,
        )
    audit.record(
        session,
        caller=caller,
        action="pay",
        entity_type="instalment",
        entity_id=instalment.id,
        changes={"amount": amount, "paid_on": data.paid_on.isoformat(), "ref": data.reference},
    )
    outbox.emit(
        session,
        "instalment.paid",
        {
            "instalment_id": str(instalment.id),
            **_event_grant(grant),
            "partner_id": str(grant.partner_id),
            "amount": amount,
            "currency": instalment.currency,
            "due_date": instalment.due_date.isoformat(),
            "paid_on": data.paid_on.isoformat(),
        },
    )
    return payment


async def get_payment(*, session: AsyncSession, caller: Caller, payment_id: uuid.UUID) -> Payment:
    payment = await repository.get_payment(session, payment_id)
    if payment is not None:
        grant = await repository.get_grant(session, payment.grant_id)
        if grant is not None and _visible(caller, grant):
            return payment
    raise NotFound("There is no payment with this id.")


async def list_payments(*, session: AsyncSession, caller: Caller, query: ListQuery) -> Page:
    if caller.has("funder_staff"):
        return await repository.list_payments(session, query, funder_id=caller.staff_funder_id)
    return await repository.list_payments(session, query, partner_id=caller.own_partner_id)


# Variations --------------------------------------------------------------------------------


def _refuse_field(field: str, kind: str, hint: str) -> Unprocessable:
    return Unprocessable(
        f"A{'n' if kind[0] in 'aeiou' else ''} {kind} does not take '{field}': {hint}",
        slug="variation-fields",
        errors={field: [f"not used by a{'n' if kind[0] in 'aeiou' else ''} {kind}"]},
    )


async def create_variation(
    *,
    session: AsyncSession,
    caller: Caller,
    grant_id: uuid.UUID,
    data: VariationCreate,
    if_match: str | None,
) -> Variation:
    """Apply an approved variation: amount, dates and unpaid instalments in one transaction."""
    grant = await _staff_grant(session, caller, grant_id, if_match)
    _check_live(grant, "a variation")
    request = (
        await requests_service.claim_open(
            session, caller=caller, request_id=data.request_id, grant_id=grant.id
        )
        if data.request_id is not None
        else None
    )
    instalments = await repository.instalments_of(session, grant.id)
    paid = _paid(instalments)
    unpaid = [i for i in instalments if i.status == "scheduled"]
    amount_before, end_before = grant.amount_awarded, grant.planned_end_date
    amount_after, end_after = amount_before, end_before
    kind = data.kind
    if kind in ("uplift", "reduction"):
        if data.amount is None:
            raise Unprocessable(
                f"A{'n' if kind == 'uplift' else ''} {kind} needs 'amount': by how much the "
                "award changes, in minor units.",
                slug="variation-fields",
                errors={"amount": ["is required"]},
            )
        if data.planned_end_date is not None:
            raise _refuse_field("planned_end_date", kind, "record an extension for new dates.")
        amount_after = amount_before + (data.amount if kind == "uplift" else -data.amount)
        if kind == "reduction" and amount_after < paid:
            raise Unprocessable(
                f"Only {describe(amount_before - paid, grant.currency)} is unpaid; a reduction "
                f"cannot take back the {describe(paid, grant.currency)} already paid.",
                slug="reduction-too-large",
                errors={"amount": [f"must be at most {amount_before - paid}"]},
            )
        if kind == "reduction" and amount_after == 0:
            raise Unprocessable(
                "A reduction cannot bring the award to nothing; withdraw the grant instead.",
                slug="reduction-too-large",
                errors={"amount": ["must leave something awarded"]},
            )
    elif kind == "extension":
        if data.amount is not None:
            raise _refuse_field("amount", kind, "record an uplift to change the amount.")
        if data.planned_end_date is None or data.planned_end_date <= end_before:
            raise Unprocessable(
                f"An extension needs a planned_end_date after the current end, "
                f"{end_before.isoformat()}.",
                slug="variation-fields",
                errors={"planned_end_date": [f"must be after {end_before.isoformat()}"]},
            )
        end_after = data.planned_end_date
        _check_term(grant.planned_start_date, end_after)
    else:
        if data.amount is not None:
            raise _refuse_field("amount", kind, "it moves money between instalments only.")
        if data.planned_end_date is not None:
            raise _refuse_field("planned_end_date", kind, "record an extension for new dates.")
        if data.instalments is None:
            raise Unprocessable(
                "A reprofile needs 'instalments': the new unpaid schedule.",
                slug="variation-fields",
                errors={"instalments": ["is required"]},
            )
    if data.instalments is not None:
        lines = [(line.due_date, line.amount) for line in data.instalments]
    elif kind == "uplift":
        assert data.amount is not None
        if unpaid:
            amounts = spread_increase([i.amount for i in unpaid], data.amount)
            lines = [(i.due_date, a) for i, a in zip(unpaid, amounts, strict=True)]
        else:
            lines = [(max(data.decided_on, today()), data.amount)]
    elif kind == "reduction":
        assert data.amount is not None
        amounts = take_from_last([i.amount for i in unpaid], data.amount)
        lines = [(i.due_date, a) for i, a in zip(unpaid, amounts, strict=True)]
    else:
        lines = [(i.due_date, i.amount) for i in unpaid]
    _reconcile(grant, target=amount_after, paid=paid, lines=lines)
    before = _snapshot(instalments)
    if grant.pool_id is not None and amount_after != amount_before:
        memo = f"{kind.capitalize()} of grant {grant.reference} ({data.reference})"
        if amount_after > amount_before:
            parts = await ledger.commit_more(
                session,
                grant=grant,
                amount=amount_after - amount_before,
                on=data.decided_on,
                recorded_by=caller.actor,
                memo=memo,
            )
            ledger.change_shares(grant, parts, sign=1)
        else:
            parts = await ledger.release(
                session,
                grant=grant,
                amount=amount_before - amount_after,
                on=data.decided_on,
                recorded_by=caller.actor,
                memo=memo,
            )
            ledger.change_shares(grant, parts, sign=-1)
    grant.amount_awarded = amount_after
    grant.planned_end_date = end_after
    await _replace_unpaid(session, grant, lines, on=data.decided_on)
    after = _snapshot(await repository.instalments_of(session, grant.id))
    variation = Variation(
        grant_id=grant.id,
        funder_id=grant.funder_id,
        partner_id=grant.partner_id,
        kind=kind,
        decided_on=data.decided_on,
        decided_by=data.decided_by,
        decision_reference=data.reference,
        reason=data.reason,
        currency=grant.currency,
        amount_before=amount_before,
        amount_after=amount_after,
        start_date_before=grant.planned_start_date,
        start_date_after=grant.planned_start_date,
        end_date_before=end_before,
        end_date_after=end_after,
        schedule_before=before,
        schedule_after=after,
        recorded_by=caller.actor,
    )
    session.add(variation)
    await session.flush()
    audit.record(
        session,
        caller=caller,
        action="vary",
        entity_type="grant",
        entity_id=grant.id,
        changes={"variation_id": str(variation.id), **data.model_dump(mode="json")},
    )
    outbox.emit(
        session,
        "grant.varied",
        {
            **_event_grant(grant),
            "partner_id": str(grant.partner_id),
            "variation_id": str(variation.id),
            "kind": kind,
            "amount_awarded": grant.amount_awarded,
            "currency": grant.currency,
            "planned_end_date": grant.planned_end_date.isoformat(),
            "decided_on": data.decided_on.isoformat(),
        },
    )
    if request is not None:
        await requests_service.decide(
            session, caller=caller, request=request, status="varied", variation_id=variation.id
        )
    return variation


async def get_variation(
    *, session: AsyncSession, caller: Caller, variation_id: uuid.UUID
) -> Variation:
    variation = await repository.get_variation(session, variation_id)
    if variation is not None:
        grant = await repository.get_grant(session, variation.grant_id)
        if grant is not None and _visible(caller, grant):
            return variation
    raise NotFound("There is no variation with this id.")


async def grant_history(
    *, session: AsyncSession, caller: Caller, grant_id: uuid.UUID
) -> tuple[Grant, list[Variation]]:
    grant = await get_grant(session=session, caller=caller, grant_id=grant_id)
    return grant, await repository.variations_of(session, grant.id)


async def list_variations(*, session: AsyncSession, caller: Caller, query: ListQuery) -> Page:
    if caller.has("funder_staff"):
        return await repository.list_variations(session, query, funder_id=caller.staff_funder_id)
    return await repository.list_variations(session, query, partner_id=caller.own_partner_id)
