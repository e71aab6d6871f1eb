"""The periodic instalment check: one ``instalment.overdue`` event per instalment, ever, and
one ``instalment.due_soon`` per due date, ``due_soon_days`` before it.

It runs in the funding service's lifespan (every ``overdue_check_interval``
seconds) and can be run once on demand (tests, the CLI). Each instalment that
is unpaid after its due date is marked as notified in the same transaction as
its event, so a restart or a second replica never emits it twice (on
PostgreSQL, replicas skip rows another is handling).
"""

import asyncio
import logging
from datetime import date

from services.common import outbox as outbox_module
from services.common.db import Database, utcnow
from services.common.outbox import Outbox
from services.funding.grants import repository

logger = logging.getLogger("trellis.funding.overdue")


class OverdueChecker:
    """Finds newly overdue instalments and emits ``instalment.overdue`` for each, once."""

    def __init__(
        self,
        db: Database,
        outbox: Outbox,
        *,
        interval: float = 3600.0,
        batch_size: int = 200,
        due_soon_days: int = 7,
    ) -> None:
        self.db = db
        self.due_soon_days = due_soon_days
        self.outbox = outbox
        self.interval = interval
        self.batch_size = batch_size
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="funding-overdue-check")

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
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("overdue check failed")
            await asyncio.sleep(self.interval)

    async def run_once(self, *, today: date | None = None) -> int:
        """Emit ``instalment.overdue`` for every instalment newly overdue, and
        ``instalment.due_soon`` for every one newly due within ``due_soon_days``; how many."""
        today = today or utcnow().date()
        emitted = 0
        for kind in repository.NOTICES:
            emitted += await self._notices(kind, today)
        if emitted:
            self.outbox.wake.set()
        return emitted

    async def _notices(self, kind: str, today: date) -> int:
        emitted = 0
        while True:
            async with self.db.sessionmaker() as session, session.begin():
                session.info["outbox"] = self.outbox
                rows = await repository.due_for_notice(
                    session,
                    kind,
                    today=today,
                    days=self.due_soon_days,
                    limit=self.batch_size,
                    lock=self.db.is_postgres,
                )
                if not rows:
                    break
                for row in rows:
                    outbox_module.emit(
                        session,
                        f"instalment.{kind}",
                        {
                            "instalment_id": str(row.id),
                            "grant_id": str(row.grant_id),
                            "funder_id": str(row.funder_id),
                            "partner_id": str(row.partner_id),
                            "amount": row.amount,
                            "currency": row.currency,
                            "due_date": row.due_date.isoformat(),
                        },
                    )
                await repository.mark_notified(session, kind, [r.id for r in rows], utcnow())
            emitted += len(rows)
            if len(rows) < self.batch_size:
                break
        return emitted
