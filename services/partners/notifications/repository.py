"""All SQL of email notifications."""

import uuid
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.db import insert_or_ignore
from services.partners.funders.models import Funder
from services.partners.notifications.catalogue import IMMEDIATE
from services.partners.notifications.models import (
    PENDING,
    SKIPPED,
    Notification,
    NotificationMark,
    NotificationPreference,
    NotificationRound,
    NotificationSettings,
)
from services.partners.organisations.models import Partner
from services.partners.people.models import Membership, Person
from services.partners.updates.models import Update

ROLE_OF = {"staff": "funder_staff", "partner": "partner"}


async def recipients(
    session: AsyncSession,
    *,
    funder_ids: Sequence[uuid.UUID] = (),
    partner_ids: Sequence[uuid.UUID] = (),
) -> list[uuid.UUID]:
    """People who may sign in as staff of these funders, or as people of these partners."""
    conditions = []
    if funder_ids:
        conditions.append(
            (Membership.role == "funder_staff") & Membership.funder_id.in_(list(funder_ids))
        )
    if partner_ids:
        conditions.append(
            (Membership.role == "partner") & Membership.partner_id.in_(list(partner_ids))
        )
    if not conditions:
        return []
    which = conditions[0] if len(conditions) == 1 else conditions[0] | conditions[1]
    stmt = (
        select(Person.id)
        .join(Membership, Membership.person_id == Person.id)
        .where(which, Membership.removed_at.is_(None), Person.disabled_at.is_(None))
        .distinct()
    )
    return list((await session.execute(stmt)).scalars())


async def person(session: AsyncSession, person_id: uuid.UUID) -> Person | None:
    stmt = select(Person).where(Person.id == person_id, Person.disabled_at.is_(None))
    return (await session.execute(stmt)).scalar_one_or_none()


async def emails(session: AsyncSession, person_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str]:
    ids = list(set(person_ids))
    if not ids:
        return {}
    stmt = select(Person.id, Person.email).where(Person.id.in_(ids), Person.disabled_at.is_(None))
    return {row.id: row.email for row in await session.execute(stmt)}


async def audiences(session: AsyncSession, person_id: uuid.UUID) -> set[str]:
    """``staff`` and/or ``partner``: the sides a person's current memberships are on."""
    stmt = select(Membership.role).where(
        Membership.person_id == person_id, Membership.removed_at.is_(None)
    )
    roles = set((await session.execute(stmt)).scalars())
    return {audience for audience, role in ROLE_OF.items() if role in roles}


async def preferences(
    session: AsyncSession, person_ids: Iterable[uuid.UUID], notifications: Iterable[str] = ()
) -> dict[tuple[uuid.UUID, str], NotificationPreference]:
    ids = list(set(person_ids))
    if not ids:
        return {}
    stmt = select(NotificationPreference).where(NotificationPreference.person_id.in_(ids))
    names = list(notifications)
    if names:
        stmt = stmt.where(NotificationPreference.notification.in_(names))
    return {(p.person_id, p.notification): p for p in (await session.execute(stmt)).scalars()}


async def set_preference(
    session: AsyncSession,
    *,
    person_id: uuid.UUID,
    notification: str,
    enabled: bool,
    frequency: str,
    at: datetime,
) -> None:
    await session.execute(
        insert_or_ignore(session, NotificationPreference).values(
            id=uuid.uuid4(),
            person_id=person_id,
            notification=notification,
            enabled=enabled,
            frequency=frequency,
            updated_at=at,
        )
    )
    await session.execute(
        update(NotificationPreference)
        .where(
            NotificationPreference.person_id == person_id,
            NotificationPreference.notification == notification,
        )
        .values(enabled=enabled, frequency=frequency, updated_at=at)
        .execution_options(synchronize_session=False)
    )


async def unsubscribe_keys(
    session: AsyncSession, person_ids: Iterable[uuid.UUID], *, make: Any, at: datetime
) -> dict[uuid.UUID, str]:
    """Each person's unsubscribe key, made with ``make()`` for those who have none yet."""
    ids = list(set(person_ids))
    for person_id in ids:
        await session.execute(
            insert_or_ignore(session, NotificationSettings).values(
                person_id=person_id, unsubscribe_key=make(), created_at=at
            )
        )
    stmt = select(NotificationSettings).where(NotificationSettings.person_id.in_(ids))
    return {s.person_id: s.unsubscribe_key for s in (await session.execute(stmt)).scalars()}


async def unsubscribe_key(session: AsyncSession, person_id: uuid.UUID) -> str | None:
    stmt = select(NotificationSettings.unsubscribe_key).where(
        NotificationSettings.person_id == person_id
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def queue(session: AsyncSession, values: dict[str, Any]) -> None:
    """One notification, unless this person has this one about this subject already."""
    await session.execute(insert_or_ignore(session, Notification).values(**values))


async def skip_pending(
    session: AsyncSession, *, person_id: uuid.UUID, notifications: Sequence[str], at: datetime
) -> None:
    """What a person turned off and was still waiting is not sent."""
    await session.execute(
        update(Notification)
        .where(
            Notification.person_id == person_id,
            Notification.status == PENDING,
            Notification.notification.in_(list(notifications)),
        )
        .values(status=SKIPPED, last_error=f"Turned off at {at.isoformat()}")
        .execution_options(synchronize_session=False)
    )


async def mark(session: AsyncSession, *, kind: str, subject_id: uuid.UUID, at: datetime) -> bool:
    """Record that a reminder is due; ``False`` if it was recorded already (by anyone)."""
    result = await session.execute(
        insert_or_ignore(session, NotificationMark).values(
            kind=kind, subject_id=subject_id, marked_at=at
        )
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def _unmarked(kind: str, column: Any) -> Any:
    return ~exists().where(NotificationMark.kind == kind, NotificationMark.subject_id == column)


async def unreplied_updates(
    session: AsyncSession, *, sent_before: datetime, limit: int
) -> list[Update]:
    """Updates without a reply from their funder, sent before ``sent_before``, not yet reminded."""
    stmt = (
        select(Update)
        .where(
            Update.first_reply_at.is_(None),
            Update.sent_at <= sent_before,
            _unmarked("update_overdue", Update.id),
        )
        .order_by(Update.sent_at, Update.id)
        .limit(limit)
    )
    return list((await session.execute(stmt)).scalars())


async def funders(session: AsyncSession, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Funder]:
    wanted = list(set(ids))
    if not wanted:
        return {}
    stmt = select(Funder).where(Funder.id.in_(wanted))
    return {f.id: f for f in (await session.execute(stmt)).scalars()}


async def partner_names(session: AsyncSession, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str]:
    wanted = list(set(ids))
    if not wanted:
        return {}
    stmt = select(Partner.id, Partner.name).where(Partner.id.in_(wanted))
    return {row.id: row.name for row in await session.execute(stmt)}


async def keep_round(session: AsyncSession, values: dict[str, Any]) -> None:
    await session.execute(insert_or_ignore(session, NotificationRound).values(**values))


async def close_round(session: AsyncSession, round_id: uuid.UUID, at: datetime) -> None:
    await session.execute(
        update(NotificationRound)
        .where(NotificationRound.round_id == round_id, NotificationRound.closed_at.is_(None))
        .values(closed_at=at)
        .execution_options(synchronize_session=False)
    )


async def rounds_closing(
    session: AsyncSession, *, today: date, until: date
) -> list[NotificationRound]:
    """Open rounds closing between ``today`` and ``until`` whose reminder has not gone."""
    stmt = (
        select(NotificationRound)
        .where(
            NotificationRound.closed_at.is_(None),
            NotificationRound.closes_on >= today,
            NotificationRound.closes_on <= until,
            _unmarked("round_closing", NotificationRound.round_id),
        )
        .order_by(NotificationRound.closes_on, NotificationRound.round_id)
    )
    return list((await session.execute(stmt)).scalars())


async def claim_due(
    session: AsyncSession,
    *,
    now: datetime,
    digest_before: datetime,
    lease_until: datetime,
    limit: int,
    skip_locked: bool,
) -> list[Notification]:
    """Pending notifications due now that no other sender holds, leased to this one: those
    sent at once, and daily ones queued before the last digest time (``digest_before``).

    On PostgreSQL ``FOR UPDATE SKIP LOCKED`` keeps replicas off each other's rows; on SQLite
    the sender's transaction begins with ``BEGIN IMMEDIATE`` (the kit's writing sessions),
    so claims run one after the other. A person's daily notifications come together."""
    lease_free = Notification.lease_until.is_(None) | (Notification.lease_until <= now)
    ready = (Notification.frequency == IMMEDIATE) | (Notification.created_at < digest_before)
    stmt = (
        select(Notification)
        .where(Notification.status == PENDING, Notification.due_at <= now, lease_free, ready)
        .order_by(Notification.person_id, Notification.due_at, Notification.id)
        .limit(limit)
    )
    if skip_locked:
        stmt = stmt.with_for_update(skip_locked=True)
    rows = list((await session.execute(stmt)).scalars())
    for row in rows:
        row.lease_until = lease_until
    await session.flush()
    return rows


async def set_notifications(
    session: AsyncSession, ids: Sequence[uuid.UUID], values: dict[str, Any]
) -> None:
    await session.execute(
        update(Notification)
        .where(Notification.id.in_(list(ids)))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
