"""The rules of payments: an instalment paid, in full, once, by its grant's funder.

A pooled grant's payment moves the pool's money too (see ``pools.ledger``).
Keyword-only functions; they flush, never commit.
"""

import uuid

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.common import audit, outbox
from services.common.auth import Caller
from services.common.errors import Conflict, NotFound, Unprocessable
from services.common.lists import ListQuery, Page
from services.funding.grants import repository
from services.funding.grants.instalments import check_live, get_instalment
from services.funding.grants.models import (
    Payment,
)
from services.funding.grants.schedule import (
    describe,
)
from services.funding.grants.schemas import (
    PaymentCreate,
)
from services.funding.grants.service import (
    check_pool_host,
    event_grant,
    text_or_none,
    today,
    visible,
)
from services.funding.pools import ledger
from services.funding.runs import repository as runs_repository


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
    check_pool_host(caller, grant)
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
            extra={"payment_id": text_or_none(paid.id if paid else None)},
        )
    if instalment.status == "cancelled":
        raise Conflict(
            "This instalment was cancelled; it cannot be paid.",
            slug="instalment-cancelled",
            extra={"status": instalment.status},
        )
    check_live(grant, "recording a payment")
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
            **event_grant(grant),
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
        if grant is not None and visible(caller, grant):
            return payment
    raise NotFound("There is no payment with this id.")


async def list_payments(*, session: AsyncSession, caller: Caller, query: ListQuery) -> Page:
    if caller.has("funder_staff"):
        return await repository.list_payments(session, query, funder_id=caller.staff_funder_id)
    return await repository.list_payments(session, query, partner_id=caller.own_partner_id)
