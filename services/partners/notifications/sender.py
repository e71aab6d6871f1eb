"""Sending notifications, once, across replicas; and finding reminders that fall due.

Each round the sender claims due notifications (``FOR UPDATE SKIP LOCKED`` on
PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite) and leases them, so two processes never
send the same one; mails them (one email each, or one daily digest per person);
and records the outcome, retrying failures with backoff. A process that dies after
sending and before recording leaves a lease that runs out: that one email may go
twice (at least once, never lost). Every email carries a signed unsubscribe link
and RFC 8058's ``List-Unsubscribe`` and ``List-Unsubscribe-Post`` headers.

Reminders are found by a scan: updates without a reply past the time their funder
promised (its published commitment measured by days to first reply, with its
``promised_days``, or the ``notifications_reply_within_days`` setting), and rounds
closing within ``notifications_round_closing_days``. Each reminder is marked once
(``notification_marks``), so it fires once per update or round, whatever replicas
and restarts do.
"""

import asyncio
import logging
import random
import uuid
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, time, timedelta
from email.message import EmailMessage
from typing import Any

import aiosmtplib

from services.common.background import BackgroundTask
from services.common.db import Database, utcnow
from services.common.errors import Problem
from services.common.http import ServiceClient
from services.common.mail import Mailer
from services.partners.notifications import messages, repository, service
from services.partners.notifications.catalogue import DIGEST, IMMEDIATE
from services.partners.notifications.models import FAILED, SENT, SKIPPED, Notification

logger = logging.getLogger("trellis.partners.notifications")

LEASE = timedelta(minutes=5)
Clock = Callable[[], datetime]


class NotificationSender(BackgroundTask):
    """Mails due notifications and queues reminders, until stopped."""

    task_name = "notifications"

    def __init__(
        self,
        db: Database,
        mailer: Mailer,
        *,
        base_url: str,
        feedback: ServiceClient | None,
        reply_within_days: int,
        round_closing_days: int,
        digest_hour: int,
        poll_interval: float,
        scan_interval: float,
        max_attempts: int,
        clock: Clock = utcnow,
    ) -> None:
        self.db = db
        self.mailer = mailer
        self.base_url = base_url.rstrip("/")
        self.feedback = feedback
        self.reply_within_days = reply_within_days
        self.round_closing_days = round_closing_days
        self.digest_hour = digest_hour
        self.poll_interval = poll_interval
        self.scan_interval = scan_interval
        self.max_attempts = max_attempts
        self.clock = clock
        self.sent = 0
        """Emails this process sent (digests count once)."""

    async def run_forever(self) -> None:
        next_scan = 0.0
        loop = asyncio.get_running_loop()
        while True:
            try:
                if loop.time() >= next_scan:
                    await self.scan()
                    next_scan = loop.time() + self.scan_interval
                sent = await self.send_due()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("notification round failed")
                sent = 0
            if not sent:
                await asyncio.sleep(self.poll_interval)

    def last_digest(self, now: datetime) -> datetime:
        """The latest daily digest time at or before ``now``."""
        today = datetime.combine(now.date(), time(self.digest_hour), tzinfo=now.tzinfo)
        return today if today <= now else today - timedelta(days=1)

    # Sending -----------------------------------------------------------------------------

    async def send_due(self, *, now: datetime | None = None, batch_size: int = 100) -> int:
        """Mail what is due now; answers how many emails it tried."""
        now = now or self.clock()
        async with self.db.sessionmaker() as session, session.begin():
            rows = await repository.claim_due(
                session,
                now=now,
                digest_before=self.last_digest(now),
                lease_until=now + LEASE,
                limit=batch_size,
                skip_locked=self.db.is_postgres,
            )
            if not rows:
                return 0
            people = {r.person_id for r in rows}
            emails = await repository.emails(session, people)
            keys = await repository.unsubscribe_keys(session, people, make=service.new_key, at=now)
        batches: list[tuple[list[Notification], EmailMessage | None]] = []
        digests: dict[uuid.UUID, list[Notification]] = defaultdict(list)
        for row in rows:
            if row.frequency == IMMEDIATE:
                batches.append(([row], self._one(row, emails, keys)))
            else:
                digests[row.person_id].append(row)
        for person_id, items in digests.items():
            batches.append((items, self._digest(person_id, items, emails, keys, now)))
        outcomes = [await self._send(msg) for _, msg in batches]
        async with self.db.sessionmaker() as session, session.begin():
            at = now
            for (items, msg), error in zip(batches, outcomes, strict=True):
                ids = [r.id for r in items]
                attempts = items[0].attempts + 1
                if msg is None:
                    values: dict[str, Any] = {"status": SKIPPED, "last_error": "No address."}
                elif error is None:
                    values = {"status": SENT, "sent_at": at, "attempts": attempts}
                    self.sent += 1
                elif attempts >= self.max_attempts:
                    values = {"status": FAILED, "attempts": attempts, "last_error": error}
                else:
                    wait = min(3600.0, 30.0 * 2 ** (attempts - 1)) * random.uniform(0.75, 1.25)
                    values = {
                        "attempts": attempts,
                        "last_error": error,
                        "lease_until": None,
                        "due_at": at + timedelta(seconds=wait),
                    }
                await repository.set_notifications(session, ids, values)
        return len(batches)

    async def _send(self, msg: EmailMessage | None) -> str | None:
        if msg is None:
            return None
        try:
            await self.mailer.send(msg)
        except (aiosmtplib.SMTPException, OSError) as exc:
            logger.warning("could not send a notification to %s: %r", msg["To"], exc)
            return f"{type(exc).__name__}: {exc}"[:1000]
        return None

    def _unsubscribe(self, key: str, person_id: uuid.UUID, scope: str) -> str:
        token = service.unsubscribe_token(key, person_id, scope)
        return f"{self.base_url}/account/notifications/unsubscribe?token={token}"

    def _message(self, *, to: str, subject: str, text: str, unsubscribe: str) -> EmailMessage:
        footer = (
            "\n\n--\nYou get this email because of your notification preferences in Trellis "
            f"({self.base_url}/). To stop it, open:\n{unsubscribe}\n"
        )
        msg = self.mailer.message(to=to, subject=subject, text=text + footer)
        # RFC 8058: mail programs offer one-click unsubscribe, a POST to this address.
        msg["List-Unsubscribe"] = f"<{unsubscribe}>"
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        return msg

    def _one(
        self, row: Notification, emails: dict[uuid.UUID, str], keys: dict[uuid.UUID, str]
    ) -> EmailMessage | None:
        to = emails.get(row.person_id)
        if not to:
            return None
        return self._message(
            to=to,
            subject=row.title,
            text=f"{row.body}\n\nOpen it in Trellis: {self.base_url}{row.link}",
            unsubscribe=self._unsubscribe(keys[row.person_id], row.person_id, row.notification),
        )

    def _digest(
        self,
        person_id: uuid.UUID,
        items: list[Notification],
        emails: dict[uuid.UUID, str],
        keys: dict[uuid.UUID, str],
        now: datetime,
    ) -> EmailMessage | None:
        to = emails.get(person_id)
        if not to:
            return None
        lines = [
            f"- {row.title}\n  {row.body}\n  {self.base_url}{row.link}"
            for row in sorted(items, key=lambda r: (r.created_at, r.id))
        ]
        count = len(items)
        return self._message(
            to=to,
            subject=f"Trellis: your daily digest ({count} notification{'s' * (count != 1)})",
            text=f"Since your last digest, {now:%d %B %Y}:\n\n" + "\n\n".join(lines),
            unsubscribe=self._unsubscribe(keys[person_id], person_id, DIGEST),
        )

    # Reminders ---------------------------------------------------------------------------

    async def scan(self, *, now: datetime | None = None) -> int:
        """Queue the reminders that fell due; answers how many reminders fired."""
        now = now or self.clock()
        return await self.scan_replies(now) + await self.scan_rounds(now)

    async def promise(self, slug: str) -> tuple[int, str]:
        """Days the funder promised to reply within, and where that comes from, in words."""
        if self.feedback is not None:
            try:
                published = await self.feedback.get_json(
                    f"/api/v1/public/feedback/{slug}/commitments"
                )
            except Problem:
                published = None  # the setting stands in while feedback is away
            for commitment in published or []:
                if commitment.get("measure") == "days_to_first_reply" and commitment.get(
                    "promised_days"
                ):
                    days = int(commitment["promised_days"])
                    return days, (
                        f'Your funder\'s published commitment "{commitment.get("title")}" '
                        f"promises a reply within {days} days."
                    )
        days = self.reply_within_days
        return days, f"Trellis is set to remind you after {days} days without a reply."

    async def scan_replies(self, now: datetime) -> int:
        async with self.db.sessionmaker() as session, session.begin():
            waiting = await repository.unreplied_updates(
                session, sent_before=now - timedelta(days=1), limit=500
            )
            funders = await repository.funders(session, {u.funder_id for u in waiting})
            partners = await repository.partner_names(session, {u.partner_id for u in waiting})
        promises = {fid: await self.promise(f.slug) for fid, f in funders.items()}
        fired = 0
        async with self.db.sessionmaker() as session, session.begin():
            for update in waiting:
                days, promise = promises[update.funder_id]
                if update.sent_at > now - timedelta(days=days):
                    continue
                if not await repository.mark(
                    session, kind="update_overdue", subject_id=update.id, at=now
                ):
                    continue  # another replica, or an earlier scan, reminded of it
                draft = messages.update_overdue(
                    update_id=update.id,
                    funder_id=update.funder_id,
                    partner=partners.get(update.partner_id, "A partner"),
                    sent_on=update.sent_at.date(),
                    days=days,
                    promise=promise,
                )
                await service.queue(session=session, draft=draft, now=now)
                fired += 1
        return fired

    async def scan_rounds(self, now: datetime) -> int:
        today = now.date()
        fired = 0
        async with self.db.sessionmaker() as session, session.begin():
            closing = await repository.rounds_closing(
                session, today=today, until=today + timedelta(days=self.round_closing_days)
            )
            funders = await repository.funders(session, {r.funder_id for r in closing})
            for round_ in closing:
                if not await repository.mark(
                    session, kind="round_closing", subject_id=round_.round_id, at=now
                ):
                    continue
                funder = funders.get(round_.funder_id)
                draft = messages.round_closing(
                    round_id=round_.round_id,
                    funder=funder.name if funder else "Your funder",
                    title=round_.title,
                    closes_on=round_.closes_on,
                    partner_ids=round_.partner_ids,
                )
                await service.queue(session=session, draft=draft, now=now)
                fired += 1
        return fired
