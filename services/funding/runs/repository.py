"""All SQL of payment runs."""

import uuid
from datetime import date
from typing import Any

from sqlalchemy import delete, func, insert, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.db import insert_or_ignore
from services.common.lists import ListQuery, Page, fetch_page, filter_values, parse_uuid_list
from services.funding.grants.models import Grant, Instalment
from services.funding.runs.models import RUN_STATUSES, PaymentRun, PaymentRunClaim, PaymentRunItem


async def claim_due(
    session: AsyncSession, *, run_id: uuid.UUID, funder_id: uuid.UUID, currency: str, due_by: date
) -> None:
    """Claim every unpaid instalment of the funder's live grants due by ``due_by`` (overdue
    ones included) that no open run holds: ``INSERT ... SELECT ... ON CONFLICT DO NOTHING``,
    so a concurrent run that claimed one first keeps it."""
    due = (
        select(Instalment.id, literal(run_id, PaymentRunClaim.run_id.type))
        .join(Grant, Grant.id == Instalment.grant_id)
        .where(
            Instalment.funder_id == funder_id,
            Instalment.status == "scheduled",
            Instalment.currency == currency,
            Instalment.due_date <= due_by,
            Grant.status.in_(("approved", "active")),
        )
    )
    stmt = insert_or_ignore(session, PaymentRunClaim).from_select(["instalment_id", "run_id"], due)
    await session.execute(stmt)
    items = (
        select(
            literal(run_id, PaymentRunItem.run_id.type),
            Instalment.id,
            Instalment.grant_id,
            Instalment.partner_id,
            Instalment.due_date,
            Instalment.amount,
            Instalment.currency,
        )
        .join(PaymentRunClaim, PaymentRunClaim.instalment_id == Instalment.id)
        .where(PaymentRunClaim.run_id == run_id)
    )
    await session.execute(
        insert(PaymentRunItem).from_select(
            ["run_id", "instalment_id", "grant_id", "partner_id", "due_date", "amount", "currency"],
            items,
        )
    )


async def totals(session: AsyncSession, run_id: uuid.UUID) -> tuple[int, int]:
    stmt = select(func.count(), func.coalesce(func.sum(PaymentRunItem.amount), 0)).where(
        PaymentRunItem.run_id == run_id
    )
    count, total = (await session.execute(stmt)).one()
    return int(count), int(total)


async def release(session: AsyncSession, run_id: uuid.UUID) -> None:
    await session.execute(delete(PaymentRunClaim).where(PaymentRunClaim.run_id == run_id))


async def claim_of(session: AsyncSession, instalment_id: uuid.UUID) -> uuid.UUID | None:
    stmt = select(PaymentRunClaim.run_id).where(PaymentRunClaim.instalment_id == instalment_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def move(
    session: AsyncSession, run_id: uuid.UUID, *, source: str, values: dict[str, Any]
) -> bool:
    """Move a run from status ``source`` in one conditional UPDATE: True if this request
    did it, False if another request moved it first (safe on SQLite and PostgreSQL)."""
    stmt = (
        update(PaymentRun)
        .where(PaymentRun.id == run_id, PaymentRun.status == source)
        .values(**values, version=PaymentRun.version + 1, updated_at=func.now())
        .execution_options(synchronize_session=False)
    )
    result = await session.execute(stmt)
    return result.rowcount == 1  # type: ignore[attr-defined]


async def get_run(
    session: AsyncSession, funder_id: uuid.UUID, run_id: uuid.UUID
) -> PaymentRun | None:
    stmt = select(PaymentRun).where(PaymentRun.id == run_id, PaymentRun.funder_id == funder_id)
    return (
        await session.execute(stmt.execution_options(populate_existing=True))
    ).scalar_one_or_none()


async def items_of(session: AsyncSession, run_id: uuid.UUID) -> list[PaymentRunItem]:
    stmt = (
        select(PaymentRunItem)
        .where(PaymentRunItem.run_id == run_id)
        .order_by(PaymentRunItem.partner_id, PaymentRunItem.due_date, PaymentRunItem.instalment_id)
    )
    return list((await session.execute(stmt)).scalars())


RUN_SORTS = {
    "created_at": PaymentRun.created_at,
    "due_by": PaymentRun.due_by,
    "total": PaymentRun.total,
}


async def list_runs(session: AsyncSession, funder_id: uuid.UUID, query: ListQuery) -> Page:
    stmt = select(PaymentRun).where(PaymentRun.funder_id == funder_id)
    f = query.filters
    for name, column in (("id", PaymentRun.id), ("funder_id", PaymentRun.funder_id)):
        if name in f:
            stmt = stmt.where(column.in_(parse_uuid_list(name, f[name])))
    if "status" in f:
        stmt = stmt.where(PaymentRun.status.in_(filter_values("status", f["status"], RUN_STATUSES)))
    return await fetch_page(session, stmt, query, sort_columns=RUN_SORTS, id_column=PaymentRun.id)
