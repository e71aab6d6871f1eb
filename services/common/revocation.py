"""Revocation: a token whose grant was revoked is refused everywhere within seconds.

The partners service keeps a ``revocations`` table (in its database, so every
replica sees it). Each row names a key and when it was revoked:

- ``client:<api client record id>``: a partner system's client (its tokens carry
  ``sid=client:<record id>``);
- ``sid:<grant>``: one grant, such as a person's refresh-token family;
- ``mid:<membership id>``: a person's membership;
- ``sub:<subject>``: everything a subject holds.

``RevocationList`` keeps the keys revoked within the retention window in memory
and refreshes them every ``TRELLIS_REVOCATION_POLL_INTERVAL`` seconds (default 2)
from a source: partners reads its own table, the other services and the gateway
ask partners' ``GET /internal/revocations?since=...``. The token verifier asks
it on every request, cached tokens included, and refuses a token whose
``sub``, ``sid`` or ``mid`` key was revoked at or after the token's ``iat``.

So a revocation reaches every replica of every service within one poll
interval plus one answer from partners. If partners cannot be reached, the last
list is kept (and a warning logged); with ``TRELLIS_REVOCATION_MAX_STALENESS``
set, a list older than that refuses tokens (503) instead of trusting them.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from services.common.errors import ServiceUnavailable, Unauthorized
from services.common.http import ServiceClient

logger = logging.getLogger("trellis.revocation")

INTERNAL_PATH = "/internal/revocations"
#: How far back each poll looks past the previous answer, so a revocation whose
#: transaction committed after a later one was already read is still seen.
OVERLAP = timedelta(seconds=60)

#: A source answers the revocations since a time and the time it answered as of.
RevocationSource = Callable[[datetime], Awaitable[tuple[list[tuple[str, datetime]], datetime]]]


def client_key(record_id: object) -> str:
    """The key (and the tokens' ``sid``) of a partner system's API client."""
    return f"client:{record_id}"


def sid_key(sid: str) -> str:
    return sid if sid.startswith("client:") else f"sid:{sid}"


def mid_key(mid: object) -> str:
    return f"mid:{mid}"


def sub_key(sub: str) -> str:
    return f"sub:{sub}"


def token_keys(claims: Mapping[str, Any]) -> list[str]:
    """The revocation keys a token is refused by."""
    keys = [sub_key(str(claims.get("sub")))]
    sid = claims.get("sid")
    if sid:
        keys.append(sid_key(str(sid)))
    mid = claims.get("mid")
    if mid:
        keys.append(mid_key(mid))
    return keys


def http_source(partners: ServiceClient) -> RevocationSource:
    """Revocations from partners' internal endpoint (for the other services and the gateway)."""

    async def fetch(since: datetime) -> tuple[list[tuple[str, datetime]], datetime]:
        response = await partners.request("GET", INTERNAL_PATH, params={"since": since.isoformat()})
        if response.status_code != 200:
            raise ServiceUnavailable(
                f"The partners service refused the revocation list ({response.status_code})."
            )
        body = response.json()
        rows = [
            (str(r["key"]), datetime.fromisoformat(r["revoked_at"])) for r in body["revocations"]
        ]
        return rows, datetime.fromisoformat(body["as_of"])

    return fetch


class RevocationList:
    """The revoked keys, refreshed from a source in the background."""

    def __init__(
        self,
        source: RevocationSource,
        *,
        poll_interval: float = 2.0,
        retention: float = 86400.0,
        max_staleness: float = 0.0,
    ) -> None:
        self.source = source
        self.poll_interval = poll_interval
        self.retention = retention
        self.max_staleness = max_staleness
        self._revoked: dict[str, float] = {}
        self._cursor: datetime | None = None
        self._refreshed = time.monotonic()
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._failing = False

    def add(self, rows: Iterable[tuple[str, datetime]]) -> None:
        for key, revoked_at in rows:
            stamp = revoked_at.timestamp()
            if stamp > self._revoked.get(key, float("-inf")):
                self._revoked[key] = stamp

    async def refresh(self) -> None:
        """Read what was revoked since the last answer (minus an overlap)."""
        since = (
            self._cursor - OVERLAP
            if self._cursor is not None
            else datetime.now(UTC) - timedelta(seconds=self.retention)
        )
        rows, as_of = await self.source(since)
        self.add(rows)
        self._cursor = as_of
        self._refreshed = time.monotonic()
        horizon = time.time() - self.retention
        for key in [k for k, stamp in self._revoked.items() if stamp < horizon]:
            del self._revoked[key]

    def check(self, claims: Mapping[str, Any]) -> None:
        """Raise ``Unauthorized`` if the token was revoked (``ServiceUnavailable`` if unsure)."""
        if self.max_staleness and time.monotonic() - self._refreshed > self.max_staleness:
            raise ServiceUnavailable(
                "Revoked access cannot be checked right now (the partners service has not "
                "answered); try again shortly."
            )
        if not self._revoked:
            return
        issued = float(claims.get("iat") or 0)
        for key in token_keys(claims):
            stamp = self._revoked.get(key)
            # iat has whole seconds: a token of the same second as the revocation is refused.
            if stamp is not None and issued <= stamp:
                raise Unauthorized(
                    "This access token was revoked. Get a new one; if the client or "
                    "membership itself was revoked, ask the organisation's people for access."
                )

    def wake(self) -> None:
        """Refresh now rather than at the next interval (after a local revocation)."""
        self._wake.set()

    def start(self) -> None:
        if self._task is None and self.poll_interval > 0:
            self._task = asyncio.create_task(self._run(), name="revocation-poller")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                await self.refresh()
                if self._failing:
                    logger.info("the revocation list is being refreshed again")
                self._failing = False
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # keep polling whatever went wrong
                if not self._failing:
                    logger.warning("the revocation list could not be refreshed: %r", exc)
                self._failing = True
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_interval)
