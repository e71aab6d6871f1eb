"""All SQL of the funder's measured behaviour: facts from events, figures from aggregates.

Medians are computed by the database: ``percentile_cont`` on PostgreSQL; on SQLite
(which has no median) by reading the middle one or two values with ORDER BY,
LIMIT and OFFSET.
"""

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, and_, case, exists, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.db import insert_or_ignore
from services.feedback.models import (
    Action,
    Commitment,
    DecisionFact,
    InstalmentFact,
    ReceivedUpdateFact,
    ReplyFact,
    Round,
)


def _insert_new(session: AsyncSession, model: Any, values: dict[str, Any]) -> Any:
    return insert_or_ignore(session, model).values(**values)


async def claim_instalment(session: AsyncSession, values: dict[str, Any]) -> InstalmentFact:
    """The instalment's fact, made from ``values`` if it is new, locked for this
    transaction: two events about one instalment handled at once merge, never collide."""
    await session.execute(_insert_new(session, InstalmentFact, values))
    stmt = (
        select(InstalmentFact)
        .where(InstalmentFact.instalment_id == values["instalment_id"])
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return (await session.execute(stmt)).scalar_one()


async def claim_reply(session: AsyncSession, values: dict[str, Any]) -> tuple[ReplyFact, bool]:
    """The update's reply fact, made from ``values`` if new (then ``True``), locked."""
    made = await session.execute(_insert_new(session, ReplyFact, values))
    stmt = (
        select(ReplyFact)
        .where(ReplyFact.update_id == values["update_id"])
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return (await session.execute(stmt)).scalar_one(), bool(made.rowcount)


async def median(
    session: AsyncSession, column: ColumnElement[Any], where: list[ColumnElement[bool]]
) -> Decimal | None:
    """The median of ``column`` over the rows matching ``where``, computed in the database."""
    if session.get_bind().dialect.name == "postgresql":
        stmt = select(func.percentile_cont(0.5).within_group(column.asc())).where(*where)
        value = (await session.execute(stmt)).scalar_one()
        return None if value is None else Decimal(str(value))
    n = (await session.execute(select(func.count()).where(*where))).scalar_one()
    if not n:
        return None
    middle = (
        select(column.label("v"))
        .where(*where)
        .order_by(column)
        .limit(2 - n % 2)
        .offset((n - 1) // 2)
        .subquery()
    )
    value = (await session.execute(select(func.avg(middle.c.v)))).scalar_one()
    return Decimal(str(value))


async def instalment_figures(
    session: AsyncSession, funder_id: uuid.UUID, *, since: date | None, until: date | None
) -> dict[str, Any]:
    """Instalments that fell due (paid, or reported overdue): how many on time, late, unpaid;
    and the median days late of those paid late."""
    where: list[ColumnElement[bool]] = [
        InstalmentFact.funder_id == funder_id,
        (InstalmentFact.paid_on.is_not(None)) | InstalmentFact.overdue_reported.is_(True),
    ]
    if since is not None:
        where.append(InstalmentFact.due_date >= since)
    if until is not None:
        where.append(InstalmentFact.due_date <= until)
    stmt = select(
        func.count(),
        func.coalesce(
            func.sum(
                case(
                    (InstalmentFact.paid_on.is_not(None) & (InstalmentFact.days_late == 0), 1),
                    else_=0,
                )
            ),
            0,
        ),
        func.coalesce(func.sum(case((InstalmentFact.days_late > 0, 1), else_=0)), 0),
        func.coalesce(func.sum(case((InstalmentFact.paid_on.is_(None), 1), else_=0)), 0),
    ).where(*where)
    due, on_time, late, unpaid = (await session.execute(stmt)).one()
    middle = await median(session, InstalmentFact.days_late, [*where, InstalmentFact.days_late > 0])
    return {
        "due": int(due),
        "on_time": int(on_time),
        "paid_late": int(late),
        "overdue_unpaid": int(unpaid),
        "median_days_late": middle,
    }


async def reply_figures(
    session: AsyncSession,
    funder_id: uuid.UUID,
    *,
    since: datetime | None,
    until: datetime | None,
) -> dict[str, Any]:
    """Reflective updates replied to, and the median seconds to the first reply."""
    where: list[ColumnElement[bool]] = [ReplyFact.funder_id == funder_id]
    if since is not None:
        where.append(ReplyFact.received_at >= since)
    if until is not None:
        where.append(ReplyFact.received_at < until)
    count = (await session.execute(select(func.count()).where(*where))).scalar_one()
    middle = await median(session, ReplyFact.reply_seconds, where)
    return {"replied": int(count), "median_seconds": middle}


async def add_received_update(session: AsyncSession, values: dict[str, Any]) -> None:
    """Record that the funder received an update; hearing of it twice changes nothing."""
    await session.execute(_insert_new(session, ReceivedUpdateFact, values))


async def add_decision(session: AsyncSession, values: dict[str, Any]) -> None:
    """Record a decision on something asked of the funder, once (the first fact heard)."""
    await session.execute(_insert_new(session, DecisionFact, values))


async def decision_figures(
    session: AsyncSession, funder_id: uuid.UUID, *, since: date | None, until: date | None
) -> dict[str, Any]:
    """Decisions made (by their decision date), and the median days from request to decision."""
    where: list[ColumnElement[bool]] = [DecisionFact.funder_id == funder_id]
    if since is not None:
        where.append(DecisionFact.decided_on >= since)
    if until is not None:
        where.append(DecisionFact.decided_on <= until)
    stmt = select(func.count(), func.max(DecisionFact.days)).where(*where)
    count, longest = (await session.execute(stmt)).one()
    return {
        "decided": int(count),
        "longest_days": longest,
        "median_days": await median(session, DecisionFact.days, where),
    }


async def promised_reply_days(session: AsyncSession, funder_id: uuid.UUID) -> int | None:
    """The days the funder promises to reply in: from its published commitment measured by
    ``updates_replied_in_time``, else by ``days_to_first_reply`` (the shortest if several)."""
    stmt = (
        select(Commitment.promised_days)
        .where(
            Commitment.funder_id == funder_id,
            Commitment.status == "published",
            Commitment.promised_days.is_not(None),
            Commitment.measure.in_(["updates_replied_in_time", "days_to_first_reply"]),
        )
        .order_by(
            case((Commitment.measure == "updates_replied_in_time", 0), else_=1),
            Commitment.promised_days,
        )
        .limit(1)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def replied_in_time_figures(
    session: AsyncSession,
    funder_id: uuid.UUID,
    *,
    promised_days: int,
    today: date,
    since: date | None,
    until: date | None,
) -> dict[str, int]:
    """Of the updates received whose reply was due (replied, or the promised days have
    passed), how many had a first reply within the promised days; and how many still wait
    past it."""
    replied = ReplyFact.update_id.is_not(None)
    in_time = replied & (ReplyFact.reply_seconds <= literal(promised_days * 86400))
    cutoff = date.fromordinal(today.toordinal() - promised_days)
    where: list[ColumnElement[bool]] = [
        ReceivedUpdateFact.funder_id == funder_id,
        or_(replied, ReceivedUpdateFact.received_on < cutoff),
    ]
    if since is not None:
        where.append(ReceivedUpdateFact.received_on >= since)
    if until is not None:
        where.append(ReceivedUpdateFact.received_on <= until)
    stmt = (
        select(
            func.count(),
            func.coalesce(func.sum(case((in_time, 1), else_=0)), 0),
            func.coalesce(func.sum(case((replied, 0), else_=1)), 0),
        )
        .select_from(ReceivedUpdateFact)
        .outerjoin(ReplyFact, ReplyFact.update_id == ReceivedUpdateFact.update_id)
        .where(*where)
    )
    due, on_time, waiting = (await session.execute(stmt)).one()
    return {"due": int(due), "in_time": int(on_time), "unanswered": int(waiting)}


async def round_action_figures(
    session: AsyncSession, funder_id: uuid.UUID, *, since: date | None, until: date | None
) -> dict[str, int]:
    """Rounds that have closed (by closing date): how many are published, and how many are
    published with at least one published action ("you said, we did")."""
    acted = exists().where(and_(Action.round_id == Round.id, Action.published.is_(True)))
    published = Round.status == "published"
    where: list[ColumnElement[bool]] = [
        Round.funder_id == funder_id,
        Round.status.in_(["closed", "published"]),
    ]
    if since is not None:
        where.append(Round.closes_on >= since)
    if until is not None:
        where.append(Round.closes_on <= until)
    stmt = select(
        func.count(),
        func.coalesce(func.sum(case((published, 1), else_=0)), 0),
        func.coalesce(func.sum(case((published & acted, 1), else_=0)), 0),
    ).where(*where)
    closed, published_count, with_actions = (await session.execute(stmt)).one()
    return {
        "closed": int(closed),
        "published": int(published_count),
        "with_actions": int(with_actions),
    }
