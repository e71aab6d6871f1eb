"""The rules of awarding a core grant: its approval by a decision, and a pool's grants.

Approval gives a grant its 360Giving id and its payment schedule (the default one,
or the instalments the decision names, reconciled to the penny). A pool's approved
proposal becomes a grant here too, its money committed from the pool's ledger.
Keyword-only functions; they flush, never commit.
"""

import uuid
from datetime import date
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.common import audit, outbox
from services.common.auth import Caller
from services.common.errors import Conflict, NotFound, Unprocessable
from services.common.http import ServiceClient
from services.funding.finance import service as finance
from services.funding.grants import repository
from services.funding.grants.models import (
    Grant,
    GrantFundingOrganisation,
)
from services.funding.grants.schedule import (
    default_schedule,
)
from services.funding.grants.schemas import (
    Approval,
)
from services.funding.grants.service import (
    check_term,
    check_transition,
    event_grant,
    new_instalment,
    reconcile,
    staff_grant,
    text_or_none,
    today,
)


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
    grant = await staff_grant(session, caller, grant_id, if_match)
    check_transition(grant, "approve")
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
    reconcile(grant, target=grant.amount_awarded, paid=0, lines=lines)
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
        session.add(new_instalment(grant, sequence, due, amount))
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
            **event_grant(grant),
            "funder_ids": [str(o.funder_id) for o in grant.funding_organisations],
            "pool_id": text_or_none(grant.pool_id),
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
    check_term(planned_start_date, planned_end_date)
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
