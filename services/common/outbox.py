"""The transactional outbox: events written with the change, delivered at least once.

``emit`` adds one row per subscriber in the caller's transaction. ``OutboxDispatcher``
runs in each service process: it claims due rows (``FOR UPDATE SKIP LOCKED`` on
PostgreSQL, so replicas never claim the same rows), POSTs each event to the
subscriber's ``/internal/events``, and on failure retries with exponential
backoff and jitter. Rows stay in the table, so delivery survives restarts.
"""

import asyncio
import logging
import random
import uuid
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.db import Database, after_commit, utcnow
from services.common.http import ServiceTokens
from services.common.models import OutboxMessage

logger = logging.getLogger("trellis.outbox")

LEASE = timedelta(seconds=60)
MAX_BACKOFF = 300.0


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


def backoff(attempts: int) -> float:
    """Seconds before the next try: doubling from 1 s, capped at 5 min, with jitter."""
    return min(MAX_BACKOFF, 2.0 ** max(0, attempts - 1)) * random.uniform(0.75, 1.25)


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
        max_attempts: int = 25,
        batch_size: int = 50,
    ) -> None:
        self.db = db
        self.outbox = outbox
        self.http = http
        self.tokens = tokens
        self.poll_interval = poll_interval
        self.max_attempts = max_attempts
        self.batch_size = batch_size
        self._task: asyncio.Task[None] | None = None
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
        while True:
            try:
                delivered = await self.deliver_due()
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
        now = utcnow()
        async with self.db.sessionmaker() as session, session.begin():
            stmt = (
                select(OutboxMessage)
                .where(
                    OutboxMessage.delivered_at.is_(None),
                    OutboxMessage.next_attempt_at <= now,
                    OutboxMessage.attempts < self.max_attempts,
                )
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
        async with self.db.sessionmaker() as session, session.begin():
            now = utcnow()
            for row, error in zip(rows, results, strict=True):
                if error is None:
                    self.deliveries += 1
                    values: dict[str, Any] = {
                        "delivered_at": now,
                        "last_error": None,
                        "attempts": row.attempts + 1,
                    }
                else:
                    self.failures += 1
                    values = {
                        "attempts": row.attempts + 1,
                        "last_error": error[:1000],
                        "next_attempt_at": now + timedelta(seconds=backoff(row.attempts + 1)),
                    }
                    logger.warning(
                        "event delivery failed",
                        extra={
                            "event_id": str(row.event_id),
                            "destination": row.destination,
                            "attempts": row.attempts + 1,
                            "error": error[:200],
                        },
                    )
                await session.execute(
                    update(OutboxMessage).where(OutboxMessage.id == row.id).values(**values)
                )
        return len(rows)

    async def _post(self, row: OutboxMessage, token: str) -> str | None:
        try:
            response = await self.http.post(
                row.destination + "/internal/events",
                json=row.payload,
                headers={"authorization": f"Bearer {token}"},
            )
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}: {exc}"
        if response.is_success:
            return None
        return f"HTTP {response.status_code}: {response.text[:500]}"


async def backlog(session: AsyncSession) -> int:
    """How many event deliveries are still waiting."""
    stmt = (
        select(func.count()).select_from(OutboxMessage).where(OutboxMessage.delivered_at.is_(None))
    )
    return (await session.execute(stmt)).scalar_one()
