"""Delivering webhooks: signed per Standard Webhooks, at least once, with capped backoff.

Deliveries are rows, so they survive restarts. Each round claims the due ones
(``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so replicas never send the same row
at once), resolves and checks the endpoint's host again, POSTs to the checked
address, and records the outcome. ``webhook-id`` is the event's id, the same on
every retry and redelivery, so a receiver that keeps the ids it has seen sees
each event once. After a run of failures the endpoint is disabled and whoever
registered it gets an email.
"""

import asyncio
import json
import logging
import random
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

import aiosmtplib
import httpx
from standardwebhooks.webhooks import Webhook

from services.common.db import Database, utcnow
from services.common.mail import Mailer
from services.partners.webhooks import netguard, repository
from services.partners.webhooks.models import (
    DELIVERY_DELIVERED,
    DELIVERY_FAILED,
    WebhookEndpoint,
)

logger = logging.getLogger("trellis.partners.webhooks")

LEASE = timedelta(seconds=120)


def signature(endpoint: WebhookEndpoint, msg_id: str, at: datetime, body: str) -> str:
    """``v1,<sig>`` with the current secret, and with the previous one while it is valid."""
    secrets = [endpoint.secret]
    if endpoint.previous_secret and (
        endpoint.previous_secret_expires_at is None or endpoint.previous_secret_expires_at > at
    ):
        secrets.append(endpoint.previous_secret)
    return " ".join(Webhook(s).sign(msg_id, at, body) for s in secrets)


class WebhookDispatcher:
    def __init__(
        self,
        db: Database,
        mailer: Mailer,
        *,
        base_url: str,
        allow_private: bool,
        timeout: float,
        max_attempts: int,
        max_backoff: float,
        disable_after: int,
        poll_interval: float,
    ) -> None:
        self.db = db
        self.mailer = mailer
        self.base_url = base_url
        self.allow_private = allow_private
        self.max_attempts = max_attempts
        self.max_backoff = max_backoff
        self.disable_after = disable_after
        self.poll_interval = poll_interval
        # Redirects are not followed: a redirect could lead anywhere, past the address check.
        self.http = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout, connect=min(5.0, timeout)),
            follow_redirects=False,
            trust_env=False,
            limits=httpx.Limits(max_connections=50, max_keepalive_connections=0),
        )
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="webhooks")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        await self.http.aclose()

    async def _run(self) -> None:
        while True:
            try:
                sent = await self.deliver_due()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("webhook delivery round failed")
                sent = 0
            if not sent:
                await asyncio.sleep(self.poll_interval)

    def backoff(self, attempts: int) -> float:
        return min(self.max_backoff, 2.0 ** max(0, attempts - 1)) * random.uniform(0.75, 1.25)

    async def deliver_due(self, batch_size: int = 50) -> int:
        """Send what is due now; answers how many deliveries it tried."""
        now = utcnow()
        async with self.db.sessionmaker() as session, session.begin():
            claimed = await repository.claim_due(
                session,
                now=now,
                lease_until=now + LEASE,
                limit=batch_size,
                skip_locked=self.db.is_postgres,
            )
            work = [(d.id, d.event_id, d.payload, d.attempts, e.id) for d, e in claimed]
            endpoints = {e.id: e for _, e in claimed}
        if not work:
            return 0
        results = await asyncio.gather(
            *(
                self._send(endpoints[eid], event_id, payload)
                for _, event_id, payload, _, eid in work
            )
        )
        mail: list[EmailMessage] = []
        async with self.db.sessionmaker() as session, session.begin():
            at = utcnow()
            for (delivery_id, _, _, attempts, endpoint_id), (code, error) in zip(
                work, results, strict=True
            ):
                values: dict[str, Any] = {
                    "attempts": attempts + 1,
                    "last_attempt_at": at,
                    "last_status_code": code,
                    "last_error": error,
                }
                if error is None:
                    values |= {"status": DELIVERY_DELIVERED, "delivered_at": at}
                elif attempts + 1 >= self.max_attempts:
                    values["status"] = DELIVERY_FAILED
                else:
                    values["next_attempt_at"] = at + timedelta(seconds=self.backoff(attempts + 1))
                await repository.set_delivery(session, delivery_id, values)
                disabled = await self._count(session, endpoint_id, failed=error is not None)
                if disabled is not None and disabled.registered_by_email:
                    mail.append(self._disabled_mail(disabled))
        # Only once the disabling has committed is anyone told.
        for msg in mail:
            try:
                await self.mailer.send(msg)
            except (aiosmtplib.SMTPException, OSError):
                logger.exception("could not send the endpoint-disabled mail to %s", msg["To"])
        return len(work)

    async def _count(
        self, session: Any, endpoint_id: Any, *, failed: bool
    ) -> WebhookEndpoint | None:
        """Keep the endpoint's run of failures; answers the endpoint if this disabled it."""
        endpoint = await repository.endpoint_for_update(
            session, endpoint_id, lock=self.db.is_postgres
        )
        if endpoint is None:
            return None
        if not failed:
            endpoint.consecutive_failures = 0
            return None
        endpoint.consecutive_failures += 1
        if endpoint.disabled_at is None and endpoint.consecutive_failures >= self.disable_after:
            endpoint.disabled_at = utcnow()
            endpoint.disabled_reason = (
                f"Disabled after {endpoint.consecutive_failures} failed deliveries in a row."
            )
            return endpoint
        return None

    def _disabled_mail(self, endpoint: WebhookEndpoint) -> EmailMessage:
        return self.mailer.message(
            to=endpoint.registered_by_email or "",
            subject="Trellis webhook endpoint disabled",
            text=(
                f"Trellis stopped sending events to your webhook endpoint\n\n  {endpoint.url}\n\n"
                f"because its last {endpoint.consecutive_failures} deliveries failed.\n"
                "Events already queued for it wait; events while it is disabled are not\n"
                "queued. Once the endpoint answers again, enable it (PUT "
                f"{self.base_url}/api/v1/webhooks/{endpoint.id} with "
                '{"enabled": true}) and what waited is sent.\n'
            ),
        )

    async def _send(
        self, endpoint: WebhookEndpoint, event_id: Any, payload: dict[str, Any]
    ) -> tuple[int | None, str | None]:
        try:
            target = await netguard.resolve(endpoint.url, allow_private=self.allow_private)
        except netguard.RefusedDestination as exc:
            return None, f"Refused: {exc}"
        body = json.dumps(payload, separators=(",", ":"))
        at = utcnow()
        msg_id = str(event_id)
        headers = {
            "host": target.host_header,
            "content-type": "application/json",
            "user-agent": "Trellis-Webhooks/1",
            "webhook-id": msg_id,
            "webhook-timestamp": str(int(at.timestamp())),
            "webhook-signature": signature(endpoint, msg_id, at, body),
        }
        try:
            response = await self.http.post(
                target.connect_url,
                content=body.encode(),
                headers=headers,
                extensions={"sni_hostname": target.host},
            )
        except httpx.HTTPError as exc:
            return None, f"{type(exc).__name__}: {exc}"[:1000]
        if response.is_success:
            return response.status_code, None
        return response.status_code, f"HTTP {response.status_code}: {response.text[:500]}"
