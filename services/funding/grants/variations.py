"""The rules of variations: a change to a live grant's amount, term or schedule, by decision.

Each variation is its own record with the decision behind it, and the grant's
schedule reconciles again with the new amount. Keyword-only functions; they
flush, never commit.
"""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from services.common import audit, outbox
from services.common.auth import Caller
from services.common.errors import NotFound, Unprocessable
from services.common.lists import ListQuery, Page
from services.funding.grants import repository
from services.funding.grants.instalments import check_live, paid_of, replace_unpaid, snapshot
from services.funding.grants.models import (
    Grant,
    Variation,
)
from services.funding.grants.schedule import (
    describe,
    spread_increase,
    take_from_last,
)
from services.funding.grants.schemas import (
    VariationCreate,
)
from services.funding.grants.service import (
    check_term,
    event_grant,
    get_grant,
    reconcile,
    staff_grant,
    today,
    visible,
)
from services.funding.pools import ledger
from services.funding.requests import service as requests_service


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
    grant = await staff_grant(session, caller, grant_id, if_match)
    check_live(grant, "a variation")
    request = (
        await requests_service.claim_open(
            session, caller=caller, request_id=data.request_id, grant_id=grant.id
        )
        if data.request_id is not None
        else None
    )
    instalments = await repository.instalments_of(session, grant.id)
    paid = paid_of(instalments)
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
        check_term(grant.planned_start_date, end_after)
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
    reconcile(grant, target=amount_after, paid=paid, lines=lines)
    before = snapshot(instalments)
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
    await replace_unpaid(session, grant, lines, on=data.decided_on)
    after = snapshot(await repository.instalments_of(session, grant.id))
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
            **event_grant(grant),
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
        if grant is not None and visible(caller, grant):
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
