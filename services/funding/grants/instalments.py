"""The rules of a grant's instalments, its payment schedule: always reconciled to the penny.

A schedule's unpaid instalments may be replaced or moved while the grant is live;
what is paid stands. Keyword-only functions; they flush, never commit.
"""

import uuid
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.common import audit
from services.common.auth import Caller
from services.common.concurrency import check_if_match
from services.common.db import utcnow
from services.common.errors import Conflict, NotFound
from services.common.lists import ListQuery, Page
from services.funding.grants import repository
from services.funding.grants.models import (
    Grant,
    Instalment,
)
from services.funding.grants.schemas import (
    InstalmentUpdate,
    ScheduleUpdate,
)
from services.funding.grants.service import (
    LIVE,
    check_pool_host,
    get_grant,
    new_instalment,
    reconcile,
    staff_grant,
    text_or_none,
    today,
    visible,
)


async def get_schedule(
    *, session: AsyncSession, caller: Caller, grant_id: uuid.UUID
) -> tuple[Grant, list[Instalment]]:
    grant = await get_grant(session=session, caller=caller, grant_id=grant_id)
    return grant, await repository.instalments_of(session, grant.id)


async def replace_unpaid(
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
            session.add(new_instalment(grant, sequence, due, amount))
    for row in unpaid[len(lines) :]:
        row.status = "cancelled"
        row.cancelled_on = on
    grant.updated_at = utcnow()
    await session.flush()


def paid_of(instalments: list[Instalment]) -> int:
    """What has been paid of these instalments, in minor units."""
    return sum(i.amount for i in instalments if i.status == "paid")


def snapshot(instalments: list[Instalment]) -> list[dict[str, Any]]:
    """The schedule as a variation records it, before and after (cancelled rows left out)."""
    return [
        {"due_date": i.due_date.isoformat(), "amount": i.amount, "status": i.status}
        for i in instalments
        if i.status != "cancelled"
    ]


def check_live(grant: Grant, doing: str) -> None:
    """Refuse (409) ``doing`` on a grant that is not approved or active."""
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
    grant = await staff_grant(session, caller, grant_id, if_match)
    check_live(grant, "editing the schedule")
    instalments = await repository.instalments_of(session, grant.id)
    lines = [(line.due_date, line.amount) for line in data.instalments]
    reconcile(grant, target=grant.amount_awarded, paid=paid_of(instalments), lines=lines)
    before = snapshot(instalments)
    await replace_unpaid(session, grant, lines, on=today())
    after = await repository.instalments_of(session, grant.id)
    audit.record(
        session,
        caller=caller,
        action="reschedule",
        entity_type="grant",
        entity_id=grant.id,
        changes={"before": before, "after": snapshot(after)},
    )
    return grant, after


async def get_instalment(
    *, session: AsyncSession, caller: Caller, instalment_id: uuid.UUID, for_update: bool = False
) -> tuple[Instalment, Grant]:
    instalment = await repository.get_instalment(session, instalment_id, for_update=for_update)
    if instalment is not None:
        grant = await repository.get_grant(session, instalment.grant_id, for_update=for_update)
        if grant is not None and visible(caller, grant):
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
    check_pool_host(caller, grant)
    check_if_match(if_match, instalment)
    if instalment.status != "scheduled":
        raise Conflict(
            f"This instalment is {instalment.status}; only a scheduled instalment can be edited.",
            extra={"status": instalment.status},
        )
    check_live(grant, "editing the schedule")
    changes = {k: v for k, v in data.changes().items() if v is not None}
    if "amount" in changes and changes["amount"] != instalment.amount:
        instalments = await repository.instalments_of(session, grant.id)
        lines = [
            (i.due_date, changes["amount"] if i.id == instalment.id else i.amount)
            for i in instalments
            if i.status == "scheduled"
        ]
        reconcile(grant, target=grant.amount_awarded, paid=paid_of(instalments), lines=lines)
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
        changes={k: text_or_none(v) for k, v in changes.items()},
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
