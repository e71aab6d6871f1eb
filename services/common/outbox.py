"""The transactional outbox: events written with the change, delivered at least once.

``emit`` adds one row per subscriber in the caller's transaction. ``OutboxDispatcher``
runs in each service process: it claims due rows (``FOR UPDATE SKIP LOCKED`` on
PostgreSQL, so replicas never claim the same rows), POSTs each event to the
subscriber's ``/internal/events``, and on failure retries with exponential
backoff and jitter, capped (5 minutes by default), for as long as it takes:
an event is never given up on because a subscriber was away. Rows stay in the
table, so delivery survives restarts.

A subscriber that comes back is served at once, not when each backoff runs out:
while a subscriber has held deliveries the dispatcher asks its ``/readyz`` every
few seconds, and that answering (or any delivery to it succeeding) makes all of
its held deliveries due now.

Only a subscriber that *refuses* an event (it answers 400, 410, 413, 415 or 422:
retrying the same event cannot help) parks that delivery as dead. Dead and
waiting deliveries are listed, and redelivered after a fix, with
``trellis events list|redeliver`` or ``/internal/outbox``; they show in
``/readyz`` (``degraded``) and in the metrics.
"""

import asyncio
import logging
import random
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import httpx
from sqlalchemy import Select, Update, case, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.db import Database, after_commit, utcnow
from services.common.http import ServiceTokens
from services.common.models import OutboxMessage

logger = logging.getLogger("trellis.outbox")

LEASE = timedelta(seconds=60)
MAX_BACKOFF = 300.0
# Answers that say the subscriber will never take this event as it is: parked, not retried.
# (401/403/404 are configuration, 408/409/425/429 and 5xx are passing: those are retried.)
REFUSED = frozenset({400, 410, 413, 415, 422})

Clock = Callable[[], datetime]


class Outbox:
    """Where a service's events go: its name and its subscribers' base URLs."""

    def __init__(self, *, source: str, subscribers: list[str]) -> None:
        self.source = source
        self.subscribers = subscribers
        self.wake = asyncio.Event()

    def emit(self, session: AsyncSession, event_type: str, data: dict[str, Any]) -> uuid.UUID:
        event_id = uuid.uuid4()
        now = utcnow()
        envelope = {
            "id": str(event_id),
            "type": event_type,
            "source": self.source,
            "occurred_at": now.isoformat(),
            "data": data,
        }
        for destination in self.subscribers:
            session.add(
                OutboxMessage(
                    event_id=event_id,
                    event_type=event_type,
                    payload=envelope,
                    destination=destination,
                    created_at=now,
                    next_attempt_at=now,
                )
            )
        after_commit(session, self.wake.set)
        return event_id


def emit(session: AsyncSession, event_type: str, data: dict[str, Any]) -> uuid.UUID:
    """Write an event into the outbox of the session's service, in its transaction."""
    outbox: Outbox = session.info["outbox"]
    return outbox.emit(session, event_type, data)


def backoff(attempts: int, cap: float = MAX_BACKOFF) -> float:
    """Seconds before the next try: doubling from 1 s, capped (5 min by default), with jitter."""
    return min(cap, 2.0 ** min(30, max(0, attempts - 1))) * random.uniform(0.75, 1.25)


waiting = (OutboxMessage.delivered_at.is_(None)) & (OutboxMessage.dead_at.is_(None))
"""Deliveries still being tried (due now or held by a backoff)."""
dead = (OutboxMessage.delivered_at.is_(None)) & (OutboxMessage.dead_at.is_not(None))
"""Deliveries a subscriber refused, parked until an operator redelivers them."""

State = Literal["waiting", "dead", "all"]


def deliveries_query(state: State = "all", *, limit: int = 100) -> Select[Any]:
    """Undelivered deliveries, oldest first: ``waiting``, ``dead``, or ``all`` of them."""
    where = {"waiting": waiting, "dead": dead, "all": OutboxMessage.delivered_at.is_(None)}
    return (
        select(OutboxMessage)
        .where(where[state])
        .order_by(OutboxMessage.created_at, OutboxMessage.id)
        .limit(limit)
    )


def redeliver_statement(
    now: datetime, *, event_ids: Sequence[uuid.UUID] = (), all_dead: bool = False
) -> Update:
    """Make undelivered deliveries due now (dead ones are revived): by event, or all dead."""
    stmt = update(OutboxMessage).where(OutboxMessage.delivered_at.is_(None))
    if all_dead:
        stmt = stmt.where(OutboxMessage.dead_at.is_not(None))
    else:
        stmt = stmt.where(OutboxMessage.event_id.in_(list(event_ids)))
    return stmt.values(dead_at=None, next_attempt_at=now).execution_options(
        synchronize_session=False
    )


def describe(row: OutboxMessage) -> dict[str, Any]:
    """One delivery as the operator API and command show it."""
    return {
        "id": str(row.id),
        "event_id": str(row.event_id),
        "event_type": row.event_type,
        "destination": row.destination,
        "state": "delivered" if row.delivered_at else ("dead" if row.dead_at else "waiting"),
        "created_at": row.created_at.isoformat(),
        "attempts": row.attempts,
        "next_attempt_at": None if row.dead_at else row.next_attempt_at.isoformat(),
        "dead_at": row.dead_at.isoformat() if row.dead_at else None,
        "last_error": row.last_error,
    }


@dataclass
class OutboxStatus:
    """What ``/readyz`` and the metrics say about the outbox."""

    waiting: int
    dead: int
    oldest_waiting: datetime | None
    oldest_seconds: float
    degraded: bool

    def report(self) -> dict[str, Any]:
        return {
            "waiting": self.waiting,
            "dead": self.dead,
            "oldest_waiting_seconds": round(self.oldest_seconds, 1),
        }


class OutboxDispatcher:
    """Delivers a service's outbox until stopped."""

    def __init__(
        self,
        db: Database,
        outbox: Outbox,
        http: httpx.AsyncClient,
        tokens: ServiceTokens,
        *,
        poll_interval: float = 1.0,
        max_backoff: float = MAX_BACKOFF,
        probe_interval: float = 5.0,
        backlog_alert_after: float = 600.0,
        batch_size: int = 50,
        clock: Clock = utcnow,
    ) -> None:
        self.db = db
        self.outbox = outbox
        self.http = http
        self.tokens = tokens
        self.poll_interval = poll_interval
        self.max_backoff = max_backoff
        self.probe_interval = probe_interval
        self.backlog_alert_after = backlog_alert_after
        self.batch_size = batch_size
        self.clock = clock
        self._task: asyncio.Task[None] | None = None
        self.held: dict[str, float] = {}
        """Subscribers with deliveries held by a backoff, and when to ask their /readyz next."""
        self.deliveries = 0
        """Deliveries this process made (read by ``/metrics``)."""
        self.failures = 0
        """Delivery attempts by this process that failed (read by ``/metrics``)."""

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"outbox-{self.outbox.source}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    async def _run(self) -> None:
        try:
            await self.load_held()
        except Exception:
            logger.exception("outbox: could not read which subscribers have held deliveries")
        while True:
            try:
                delivered = await self.deliver_due()
                await self.probe_held()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("outbox delivery round failed")
                delivered = 0
            if delivered:
                continue
            self.outbox.wake.clear()
            try:
                await asyncio.wait_for(self.outbox.wake.wait(), self.poll_interval)
            except TimeoutError:
                pass

    async def _claim(self) -> list[OutboxMessage]:
        now = self.clock()
        async with self.db.sessionmaker() as session, session.begin():
            stmt = (
                select(OutboxMessage)
                .where(waiting, OutboxMessage.next_attempt_at <= now)
                .order_by(OutboxMessage.created_at)
                .limit(self.batch_size)
            )
            if self.db.is_postgres:
                stmt = stmt.with_for_update(skip_locked=True)
            rows = list((await session.execute(stmt)).scalars())
            for row in rows:
                row.next_attempt_at = now + LEASE
            return rows

    async def deliver_due(self) -> int:
        """Deliver what is due now; returns how many rows it tried."""
        rows = await self._claim()
        if not rows:
            return 0
        token = await self.tokens.token()
        results = await asyncio.gather(*(self._post(row, token) for row in rows))
        back: set[str] = set()
        async with self.db.sessionmaker() as session, session.begin():
            now = self.clock()
            for row, (error, refused) in zip(rows, results, strict=True):
                attempts = row.attempts + 1
                if error is None:
                    self.deliveries += 1
                    values: dict[str, Any] = {
                        "delivered_at": now,
                        "last_error": None,
                        "attempts": attempts,
                    }
                    back.add(row.destination)
                elif refused:
                    self.failures += 1
                    values = {"attempts": attempts, "last_error": error[:1000], "dead_at": now}
                    logger.error(
                        "event refused by its subscriber; parked until redelivered "
                        "(trellis events redeliver)",
                        extra=_log(row, attempts, error),
                    )
                else:
                    self.failures += 1
                    wait = backoff(attempts, self.max_backoff)
                    values = {
                        "attempts": attempts,
                        "last_error": error[:1000],
                        "next_attempt_at": now + timedelta(seconds=wait),
                    }
                    self.held.setdefault(row.destination, time.monotonic() + self.probe_interval)
                    logger.warning("event delivery failed", extra=_log(row, attempts, error))
                await session.execute(
                    update(OutboxMessage).where(OutboxMessage.id == row.id).values(**values)
                )
            for destination in back:
                # It answers again: what it missed need not wait out its backoff.
                if self.held.pop(destination, None) is not None:
                    await self._wake(session, destination, now)
        return len(rows)

    async def load_held(self) -> None:
        """Find subscribers whose deliveries a backoff holds (after a restart, say)."""
        async with self.db.sessionmaker() as session:
            held = await session.scalars(
                select(OutboxMessage.destination)
                .where(waiting, OutboxMessage.next_attempt_at > self.clock())
                .distinct()
            )
            for destination in held:
                self.held.setdefault(destination, time.monotonic())

    async def probe_held(self, *, force: bool = False) -> list[str]:
        """Ask each held subscriber's ``/readyz`` (every ``probe_interval`` s); wake those up.

        Returns the subscribers it woke.
        """
        clock = time.monotonic()
        due = [d for d, at in self.held.items() if force or at <= clock]
        if not due:
            return []
        answers = await asyncio.gather(*(self._ready(d) for d in due))
        woken = [d for d, ready in zip(due, answers, strict=True) if ready]
        for destination in due:
            if destination not in woken:
                self.held[destination] = clock + self.probe_interval
        if woken:
            async with self.db.sessionmaker() as session, session.begin():
                now = self.clock()
                for destination in woken:
                    self.held.pop(destination, None)
                    await self._wake(session, destination, now)
            self.outbox.wake.set()
        return woken

    async def _ready(self, destination: str) -> bool:
        try:
            response = await self.http.get(destination + "/readyz", timeout=2.0)
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    async def _wake(self, session: AsyncSession, destination: str, now: datetime) -> None:
        woken = await session.execute(
            update(OutboxMessage)
            .where(
                waiting,
                OutboxMessage.destination == destination,
                OutboxMessage.next_attempt_at > now,
            )
            .values(next_attempt_at=now)
            .execution_options(synchronize_session=False)
        )
        count = woken.rowcount  # type: ignore[attr-defined]
        if count:
            logger.info(
                "subscriber is back; its held deliveries are due now",
                extra={"destination": destination, "deliveries": count},
            )

    async def _post(self, row: OutboxMessage, token: str) -> tuple[str | None, bool]:
        """``(error, refused)``: no error when delivered; refused when retrying cannot help."""
        try:
            response = await self.http.post(
                row.destination + "/internal/events",
                json=row.payload,
                headers={"authorization": f"Bearer {token}"},
            )
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}: {exc}", False
        if response.is_success:
            return None, False
        error = f"HTTP {response.status_code}: {response.text[:500]}"
        return error, response.status_code in REFUSED

    async def status(self, session: AsyncSession) -> OutboxStatus:
        """Waiting and dead deliveries, and whether the backlog is older than it should be."""
        stmt = select(
            func.coalesce(func.sum(case((OutboxMessage.dead_at.is_(None), 1), else_=0)), 0),
            func.coalesce(func.sum(case((OutboxMessage.dead_at.is_(None), 0), else_=1)), 0),
            func.min(case((OutboxMessage.dead_at.is_(None), OutboxMessage.created_at))),
        ).where(OutboxMessage.delivered_at.is_(None))
        n_waiting, n_dead, oldest = (await session.execute(stmt)).one()
        if isinstance(oldest, str):  # SQLite returns MIN() over a CASE untyped
            oldest = datetime.fromisoformat(oldest)
        if oldest is not None and oldest.tzinfo is None:
            oldest = oldest.replace(tzinfo=utcnow().tzinfo)
        age = max(0.0, (self.clock() - oldest).total_seconds()) if oldest else 0.0
        return OutboxStatus(
            waiting=int(n_waiting),
            dead=int(n_dead),
            oldest_waiting=oldest,
            oldest_seconds=age,
            degraded=bool(n_dead) or age > self.backlog_alert_after,
        )


def _log(row: OutboxMessage, attempts: int, error: str) -> dict[str, Any]:
    return {
        "event_id": str(row.event_id),
        "destination": row.destination,
        "attempts": attempts,
        "error": error[:200],
    }


async def backlog(session: AsyncSession) -> int:
    """How many event deliveries are still waiting."""
    stmt = select(func.count()).select_from(OutboxMessage).where(waiting)
    return (await session.execute(stmt)).scalar_one()
