"""The rules of payment runs: four eyes, one run per instalment, paid all at once.

A finance person prepares a run (every unpaid instalment of the funder's live
grants due by a day, overdue ones too, that no other open run holds); a
*different* finance person approves it; the bank file is exported; marking it
paid records every payment in one transaction with the same ``instalment.paid``
events as a single payment. Marking a paid run paid again changes nothing.
"""

import uuid
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from services.common import audit
from services.common.auth import Caller
from services.common.db import utcnow
from services.common.errors import Conflict, Forbidden, NotFound, Unprocessable
from services.common.http import ServiceClient
from services.common.lists import ListQuery, Page
from services.funding.finance import repository as finance_repository
from services.funding.grants import payments as grant_payments
from services.funding.grants import service as grants
from services.funding.grants.schedule import describe
from services.funding.grants.schemas import PaymentCreate
from services.funding.runs import bankfile, repository
from services.funding.runs.models import PaymentRun, PaymentRunItem
from services.funding.runs.schemas import PaymentRunCreate, PaymentRunPaid


def _finance(caller: Caller, doing: str) -> uuid.UUID:
    if not (caller.has("finance") and caller.has("funder_staff") and caller.funder_id):
        raise Forbidden(f"{doing} needs the finance role of your funder.")
    return caller.funder_id


def _staff(caller: Caller) -> uuid.UUID:
    assert caller.funder_id is not None
    return caller.funder_id


async def get_run(*, session: AsyncSession, caller: Caller, run_id: uuid.UUID) -> PaymentRun:
    run = await repository.get_run(session, _staff(caller), run_id)
    if run is None:
        raise NotFound("No such payment run.")
    return run


async def items_of(*, session: AsyncSession, run: PaymentRun) -> list[PaymentRunItem]:
    return await repository.items_of(session, run.id)


async def list_runs(*, session: AsyncSession, caller: Caller, query: ListQuery) -> Page:
    return await repository.list_runs(session, _staff(caller), query)


async def prepare(*, session: AsyncSession, caller: Caller, data: PaymentRunCreate) -> PaymentRun:
    """A run of what is due; an instalment another open run holds is left to that run."""
    funder_id = _finance(caller, "Preparing a payment run")
    run = PaymentRun(
        funder_id=funder_id,
        currency=data.currency,
        due_by=data.due_by,
        status="prepared",
        payment_count=0,
        total=0,
        prepared_by=caller.actor,
        version=1,
    )
    session.add(run)
    await session.flush()
    await repository.claim_due(
        session, run_id=run.id, funder_id=funder_id, currency=data.currency, due_by=data.due_by
    )
    run.payment_count, run.total = await repository.totals(session, run.id)
    if not run.payment_count:
        raise Unprocessable(
            f"Nothing to pay: no unpaid {data.currency} instalment of your awarded grants is due "
            f"by {data.due_by.isoformat()} outside another open payment run.",
            slug="payment-run-empty",
            errors={"due_by": ["no instalment due by this day"]},
        )
    await session.flush()
    audit.record(
        session,
        caller=caller,
        action="prepare",
        entity_type="payment_run",
        entity_id=run.id,
        changes={
            "due_by": data.due_by.isoformat(),
            "currency": data.currency,
            "payment_count": run.payment_count,
            "total": run.total,
        },
    )
    return run


async def approve(*, session: AsyncSession, caller: Caller, run_id: uuid.UUID) -> PaymentRun:
    """The second pair of eyes: a finance person other than the one who prepared it."""
    _finance(caller, "Approving a payment run")
    run = await get_run(session=session, caller=caller, run_id=run_id)
    if run.prepared_by == caller.actor:
        raise Forbidden(
            "You prepared this payment run, so another finance person must approve it: every "
            "run needs two people.",
            slug="four-eyes",
            title="Two people for every payment run",
        )
    moved = await repository.move(
        session,
        run.id,
        source="prepared",
        values={"status": "approved", "approved_by": caller.actor, "approved_at": utcnow()},
    )
    run = await get_run(session=session, caller=caller, run_id=run_id)
    if not moved:
        raise Conflict(
            f"This payment run is {run.status}; only a prepared run can be approved.",
            slug="payment-run-state",
            extra={"status": run.status},
        )
    audit.record(
        session, caller=caller, action="approve", entity_type="payment_run", entity_id=run.id
    )
    return run


async def cancel(*, session: AsyncSession, caller: Caller, run_id: uuid.UUID) -> PaymentRun:
    """Give up a run not yet paid; its instalments can go into another run."""
    _finance(caller, "Cancelling a payment run")
    run = await get_run(session=session, caller=caller, run_id=run_id)
    moved = False
    for source in ("prepared", "approved"):
        moved = moved or await repository.move(
            session,
            run.id,
            source=source,
            values={"status": "cancelled", "cancelled_by": caller.actor},
        )
    run = await get_run(session=session, caller=caller, run_id=run_id)
    if not moved:
        raise Conflict(
            f"This payment run is {run.status}; it can no longer be cancelled.",
            slug="payment-run-state",
            extra={"status": run.status},
        )
    await repository.release(session, run.id)
    audit.record(
        session, caller=caller, action="cancel", entity_type="payment_run", entity_id=run.id
    )
    return run


async def mark_paid(
    *, session: AsyncSession, caller: Caller, run_id: uuid.UUID, data: PaymentRunPaid
) -> PaymentRun:
    """Record every payment of an approved run in this one transaction; again: no change."""
    _finance(caller, "Marking a payment run paid")
    run = await get_run(session=session, caller=caller, run_id=run_id)
    if data.paid_on > grants.today():
        raise Unprocessable(
            "paid_on is in the future: mark the run paid once the bank has paid it.",
            errors={"paid_on": ["cannot be in the future"]},
        )
    moved = await repository.move(
        session,
        run.id,
        source="approved",
        values={"status": "paid", "paid_on": data.paid_on, "paid_by": caller.actor},
    )
    run = await get_run(session=session, caller=caller, run_id=run_id)
    if not moved:
        if run.status == "paid":
            return run
        raise Conflict(
            f"This payment run is {run.status}: "
            + (
                "another finance person must approve it before it is paid."
                if run.status == "prepared"
                else "it cannot be paid."
            ),
            slug="payment-run-state",
            extra={"status": run.status},
        )
    for item in await repository.items_of(session, run.id):
        await grant_payments.record_payment(
            session=session,
            caller=caller,
            data=PaymentCreate(
                instalment_id=item.instalment_id,
                paid_on=data.paid_on,
                reference=data.reference or f"Payment run {str(run.id)[:8]}",
                amount=item.amount,
            ),
            in_run=run.id,
        )
    await repository.release(session, run.id)
    audit.record(
        session,
        caller=caller,
        action="pay",
        entity_type="payment_run",
        entity_id=run.id,
        changes={
            "paid_on": data.paid_on.isoformat(),
            "payment_count": run.payment_count,
            "total": run.total,
            "total_words": describe(run.total, run.currency),
        },
    )
    return run


def exportable(run: PaymentRun) -> None:
    if run.status not in ("approved", "paid"):
        raise Conflict(
            f"This payment run is {run.status}: a bank file is made only once a second finance "
            "person has approved it.",
            slug="payment-run-not-approved",
            extra={"status": run.status},
        )


def today() -> date:
    return grants.today()


async def bank_file(
    *, session: AsyncSession, caller: Caller, partners: ServiceClient, run_id: uuid.UUID
) -> tuple[PaymentRun, bytes]:
    """An approved run as a pain.001 file paying each partner's confirmed account."""
    run = await get_run(session=session, caller=caller, run_id=run_id)
    exportable(run)
    items = await repository.items_of(session, run.id)
    accounts = await bankfile.payable_accounts(
        partners,
        funder_id=run.funder_id,
        partner_ids=sorted({i.partner_id for i in items}),
    )
    settings = await finance_repository.get_settings(session, run.funder_id)
    execution = max(today(), run.due_by) if run.status != "paid" else run.paid_on or today()
    return run, bankfile.build(
        run=run, items=items, settings=settings, accounts=accounts, execution_date=execution
    )
