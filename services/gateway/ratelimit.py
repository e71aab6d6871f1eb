"""Rate limits at the door: per client and per source address, by route class.

Pure ASGI, in front of the proxy (and, through ``OwnOperationsLimits``, in front of
the gateway's own operations). Each request is put in a route class
(``auth``: ``/oauth/`` and ``/.well-known/``; ``public``: ``/api/v1/public/``;
``reads``: GET and HEAD; ``writes``: the rest) and counted against the limit of
its source address and, with a good token, of its client (the token's ``sub``).
The algorithm is the ``limits`` library's sliding window counter; the counters
live in Redis (``TRELLIS_REDIS_URL``) or in the gateway's database
(``TRELLIS_GATEWAY_DATABASE_URL``, default a SQLite file in the data dir), so
every replica counts against the same limits.

The hot path stays cheap: a replica takes a small share of a limit from the
store in one request (at most ``rate_limit_batch``, 5 % by default, sized to the
caller's use) and spends it locally, asking the store again (in the background,
before it runs out) once per share. Every request let through was paid for in
the shared store first, so replicas together never let more through than the
limit (unused local shares make it slightly stricter).

Answers carry ``RateLimit-Policy`` and ``RateLimit`` (IETF draft
``draft-ietf-httpapi-ratelimit-headers``); a refusal is a 429 problem with
``Retry-After``.

A burst never turns into errors: on SQLite a replica's writers take turns on one
lock (``SQLStorage``), and a request waits for the store at most
``rate_limit_store_timeout`` seconds. If the store fails or is too slow, requests
are let through unchecked for a second, a warning is logged (once a minute) and
``trellis_rate_limit_unchecked_requests_total`` counts them: the limits protect
the services, they must not take them down.
"""

import asyncio
import functools
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from limits import RateLimitItem, parse
from limits.aio.storage import Storage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from prometheus_client import CollectorRegistry, Counter
from sqlalchemy import event
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.common.auth import TokenVerifier, bearer_token
from services.common.db import Database
from services.common.errors import Problem
from services.common.migrate import upgrade
from services.common.ratelimit import make_storage, short_key
from services.gateway import routing
from services.gateway.config import Settings
from services.gateway.headers import EXTRA_HEADERS, send_response

logger = logging.getLogger("trellis.gateway.ratelimit")

ROUTE_CLASSES = ("reads", "writes", "auth", "public")
#: Seconds requests skip a store that just failed (they are let through, and counted).
STORE_RETRY_SECONDS = 1.0
WARN_EVERY_SECONDS = 60.0
_READS = frozenset({"GET", "HEAD", "OPTIONS"})


def route_class(path: str, method: str) -> str:
    if path.startswith(("/oauth/", "/.well-known/")):
        return "auth"
    if path.startswith("/api/v1/public/"):
        return "public"
    return "reads" if method in _READS else "writes"


class RateLimited(Problem):
    status, slug = 429, "rate-limited"


class StoreResting(Exception):
    """The store failed a moment ago; it is not asked again until it has rested."""


@dataclass
class Lease:
    """A share of a limit this replica has paid for in the shared store."""

    remaining: int
    expires: float
    shared_remaining: int
    reset_at: float
    size: int = 1
    """How much was taken from the store for it (with what was left of the one before)."""
    taken_at: float = 0.0
    renew_at: float = 0.0
    """When the next share is taken ahead, however much of this one is left."""


@dataclass(slots=True)
class Verdict:
    allowed: bool
    policy: str
    limit: RateLimitItem
    remaining: int
    reset_in: int


class GatewayLimiter:
    """The limits of each route class, per client and per source.

    Per caller and limit (a key) one trip to the store at a time: requests that
    find the share spent wait for the trip under way, never start their own. A
    share of ``RENEW_AHEAD_AT`` or more is renewed before it runs out (when a
    quarter is left, or in the last quarter of its life), in the background, while
    requests spend what is left, so a steady caller never waits for the store. A
    share is sized to what the caller used of the one before (at most ``batch`` of
    the limit): a share that expires unspent is lost to the caller (that is what
    keeps replicas together under the limit), so a fixed large share would spend
    the whole limit in a window however little of it was used.
    """

    RENEW_AHEAD_AT = 8

    def __init__(
        self,
        storage: Storage,
        *,
        per_client: dict[str, str],
        per_source: dict[str, str],
        batch: float,
    ) -> None:
        for name in (*per_client, *per_source):
            if name not in ROUTE_CLASSES:
                raise ValueError(
                    f"unknown route class {name!r} in the rate limits "
                    f"(one of {', '.join(ROUTE_CLASSES)})"
                )
        self.limiter = SlidingWindowCounterRateLimiter(storage)
        self.per_client = {name: parse(text) for name, text in per_client.items()}
        self.per_source = {name: parse(text) for name, text in per_source.items()}
        self.batch = max(0.0, min(batch, 0.5))
        self._leases: dict[tuple[str, ...], Lease] = {}
        self._refused: dict[tuple[str, ...], float] = {}
        self._warned = -WARN_EVERY_SECONDS
        self._resting_until = 0.0
        self._asking: dict[tuple[str, ...], asyncio.Event] = {}
        self._renewals: set[asyncio.Task] = set()

    def _chunk(self, item: RateLimitItem) -> int:
        return max(1, int(item.amount * self.batch))

    def _period(self, item: RateLimitItem) -> float:
        """Seconds a share may be spent: ``batch`` of the window, at least one."""
        return max(1.0, item.get_expiry() * self.batch)

    def _next_size(self, item: RateLimitItem, lease: Lease | None, now: float, left: int) -> int:
        """What to take next: with ``left`` (still good), a period's worth at the rate the
        last share went and a quarter again (a caller speeding up is not held back), at
        most ``batch`` of the limit. The first share of a caller is the whole batch."""
        most = self._chunk(item)
        if lease is None:
            return most
        used = lease.size - max(lease.remaining, 0)
        elapsed = max(now - lease.taken_at, 0.001)
        wanted = math.ceil(used / elapsed * self._period(item) * 1.25) - left
        return max(1, min(most, wanted))

    async def take(self, kind: str, cls: str, who: str) -> Verdict | None:
        """Spend one request of ``who``'s limit for ``cls``; ``None`` if it has none."""
        limits = self.per_client if kind == "client" else self.per_source
        item = limits.get(cls)
        if item is None:
            return None
        policy = f"{cls}-{kind}"
        key = (kind, cls, short_key(who) or "-")
        while True:
            now = time.time()
            refused_until = self._refused.get(key)
            if refused_until is not None:
                if now < refused_until:
                    return Verdict(False, policy, item, 0, math.ceil(refused_until - now))
                del self._refused[key]
            lease = self._leases.get(key)
            if lease is not None and lease.remaining > 0 and now < lease.expires:
                break
            # One trip to the store per caller at a time: a burst of one caller's requests
            # waits for that trip and spends its share, instead of queueing a trip each.
            asked = self._asking.get(key)
            if asked is not None:
                await asked.wait()
                continue
            self._asking[key] = asked = asyncio.Event()
            try:
                lease = await self._lease(key, item, now)
            finally:
                del self._asking[key]
                asked.set()
            if lease is None:
                return Verdict(False, policy, item, 0, math.ceil(self._refused[key] - now))
            break
        lease.remaining -= 1
        if (
            lease.size >= self.RENEW_AHEAD_AT
            and (lease.remaining <= lease.size // 4 or now >= lease.renew_at)
            and key not in self._asking
        ):
            self._renew_ahead(key, item, now)
        return Verdict(
            True,
            policy,
            item,
            max(0, lease.shared_remaining + lease.remaining),
            max(0, math.ceil(lease.reset_at - now)),
        )

    def _renew_ahead(self, key: tuple[str, ...], item: RateLimitItem, now: float) -> None:
        """Take the next share in the background; the trip counts as this key's one."""
        asked = self._asking[key] = asyncio.Event()

        async def renew() -> None:
            try:
                await self._lease(key, item, now)
            except Exception as exc:  # requests go on with what is left, then ask themselves
                self.store_failed(exc)
            finally:
                del self._asking[key]
                asked.set()

        task = asyncio.ensure_future(renew())
        self._renewals.add(task)
        task.add_done_callback(self._renewals.discard)

    async def _lease(self, key: tuple[str, ...], item: RateLimitItem, now: float) -> Lease | None:
        if time.monotonic() < self._resting_until:
            raise StoreResting
        before = self._leases.get(key)
        left = before.remaining if before is not None and now < before.expires else 0
        chunk = self._next_size(item, before, now, max(left, 0))
        got = await self.limiter.hit(item, *key, cost=chunk)
        if not got and chunk > 1:
            chunk = 1
            got = await self.limiter.hit(item, *key, cost=1)
        stats = await self.limiter.get_window_stats(item, *key)
        now = time.time()
        reset_at = max(stats.reset_time, now + 1)
        if not got:
            self._leases.pop(key, None)
            self._refused[key] = reset_at
            return None
        if len(self._leases) > 50_000:  # forget idle callers rather than grow without end
            self._leases = {k: v for k, v in self._leases.items() if v.expires > now}
        # What is left of a share still good is kept (it was paid for a moment ago).
        before = self._leases.get(key)
        left = before.remaining if before is not None and now < before.expires else 0
        period = self._period(item)
        lease = Lease(
            remaining=chunk + max(left, 0),
            expires=now + period,
            renew_at=now + period * 0.75,
            shared_remaining=stats.remaining,
            reset_at=reset_at,
            size=chunk + max(left, 0),
            taken_at=now,
        )
        self._leases[key] = lease
        return lease

    def store_failed(self, exc: Exception) -> None:
        """Let requests through unchecked for a moment; warn once a minute at most."""
        now = time.monotonic()
        if isinstance(exc, StoreResting):
            return
        self._resting_until = now + STORE_RETRY_SECONDS
        if now - self._warned > WARN_EVERY_SECONDS:
            self._warned = now
            logger.warning(
                "rate limits are not being checked: their store failed (%r); requests are let "
                "through and counted in trellis_rate_limit_unchecked_requests_total",
                exc,
            )


@functools.lru_cache(maxsize=64)
def _policies(applied: tuple[tuple[str, RateLimitItem], ...]) -> bytes:
    """The ``RateLimit-Policy`` value for the limits that applied (the same few each time)."""
    return ", ".join(
        f'"{policy}";q={limit.amount};w={limit.get_expiry()}' for policy, limit in applied
    ).encode()


def _headers(verdicts: list[Verdict]) -> list[tuple[bytes, bytes]]:
    """``RateLimit-Policy`` for every limit that applied; ``RateLimit`` for the tightest."""
    policies = _policies(tuple((v.policy, v.limit) for v in verdicts))
    tightest = min(verdicts, key=_tightness)
    current = f'"{tightest.policy}";r={tightest.remaining};t={tightest.reset_in}'
    return [(b"ratelimit-policy", policies), (b"ratelimit", current.encode())]


def _tightness(verdict: Verdict) -> tuple[bool, int]:
    return verdict.allowed, verdict.remaining


class RateLimitMiddleware:
    """Counts each routed request against its limits before the proxy sees it.

    ``open()`` (in the gateway's lifespan) connects the shared store; until then,
    and when limits are off, requests pass straight through.
    """

    def __init__(
        self, app: ASGIApp, settings: Settings, verifier: Callable[[], TokenVerifier | None]
    ) -> None:
        self.app = app
        self.settings = settings
        self.verifier = verifier
        self.limiter: GatewayLimiter | None = None
        self._db: Database | None = None
        self.unchecked: Any = None

    def count_in(self, registry: CollectorRegistry, service: str) -> None:
        """Count requests let through unchecked (store failed) in the app's metrics."""
        self.unchecked = Counter(
            "trellis_rate_limit_unchecked_requests",
            "Requests let through without checking their rate limits: the store failed.",
            ["service"],
            registry=registry,
        ).labels(service)

    async def open(self) -> None:
        """Connect the shared store; if it cannot be opened, log why and run without limits."""
        settings = self.settings
        if not settings.rate_limits_enabled:
            return
        try:
            if not settings.redis_url:
                url = settings.effective_database_url
                if url.startswith("sqlite"):
                    # The embedded default keeps its one table up to date by itself; on
                    # PostgreSQL run ``trellis migrate gateway`` (or set TRELLIS_REDIS_URL).
                    await asyncio.to_thread(upgrade, "gateway", url)
                self._db = Database(url)
                if not self._db.is_postgres:
                    event.listen(self._db.engine.sync_engine, "connect", self._busy_timeout)
            self.limiter = GatewayLimiter(
                make_storage(redis_url=settings.redis_url, db=self._db),
                per_client=settings.rate_limits,
                per_source=settings.source_rate_limits,
                batch=settings.rate_limit_batch,
            )
        except ValueError:
            raise  # a limit that does not parse: the operator must fix the setting
        except Exception:
            logger.exception(
                "rate limits are OFF: their store could not be opened; set TRELLIS_REDIS_URL "
                "or a writable TRELLIS_GATEWAY_DATABASE_URL"
            )
            await self.close()

    def _busy_timeout(self, dbapi_connection: Any, _record: Any) -> None:
        # After the kit's pragmas: a request waits for another replica's write no longer
        # than it waits for the store at all (SQLite's busy handler, in milliseconds).
        wait = int(self.settings.rate_limit_store_timeout * 1000)
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={wait}")
        cursor.close()

    async def close(self) -> None:
        self.limiter = None
        if self._db is not None:
            await self._db.dispose()
            self._db = None

    async def _client(self, scope: Scope) -> str | None:
        """The token's ``sub`` if the token is good (the proxy answers for bad ones)."""
        verifier = self.verifier()
        if verifier is None:
            return None
        for name, value in scope["headers"]:
            if name == b"authorization":
                try:
                    token = bearer_token(value.decode("latin-1"))
                    if token is None:
                        return None
                    return (await verifier.verify(token)).sub
                except Problem:
                    return None
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.guard(self.app, scope, receive, send, to_proxy=True)

    async def guard(
        self, app: ASGIApp, scope: Scope, receive: Receive, send: Send, *, to_proxy: bool = False
    ) -> None:
        """Count the request against its limits, then pass it to ``app`` or answer 429.

        ``to_proxy``: ``app`` is the proxy, which adds the headers itself (``EXTRA_HEADERS``).
        """
        limiter = self.limiter
        if limiter is None or scope["type"] != "http":
            await app(scope, receive, send)
            return
        cls = route_class(scope["path"], scope["method"])
        client = scope.get("client")
        source = client[0] if client else "unknown"
        verdicts: list[Verdict] = []
        try:
            taken = await limiter.take("source", cls, source)
            if taken is not None:
                verdicts.append(taken)
            if taken is None or taken.allowed:
                sub = await self._client(scope)
                if sub is not None:
                    taken = await limiter.take("client", cls, sub)
                    if taken is not None:
                        verdicts.append(taken)
        except Exception as exc:  # the store failed: let the request through
            limiter.store_failed(exc)
            if self.unchecked is not None:
                self.unchecked.inc()
            verdicts = []
        if not verdicts:
            await app(scope, receive, send)
            return
        headers = _headers(verdicts)
        refused = next((v for v in verdicts if not v.allowed), None)
        if refused is not None:
            who = "this client" if refused.policy.endswith("-client") else "your network address"
            wait = max(1, refused.reset_in)
            problem = RateLimited(
                f"Too many requests from {who} for {refused.policy.partition('-')[0]} "
                f"({refused.limit.amount} per {refused.limit.get_expiry()} seconds). "
                f"Wait {wait} seconds (Retry-After) before trying again.",
                headers={
                    "Retry-After": str(wait),
                    **{k.decode(): v.decode() for k, v in headers},
                },
                extra={"retry_after": wait},
            )
            await send_response(problem.to_response(scope["path"]), scope, receive, send)
            return
        if to_proxy:
            scope.setdefault(EXTRA_HEADERS, []).extend(headers)
            await app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *headers]}
            await send(message)

        await app(scope, receive, send_with_headers)


class OwnOperationsLimits:
    """The same limits for the gateway's own operations (composite views, the merged audit
    trail, takeout), which FastAPI serves: each fans out to the services, so the door
    counts them like the requests it forwards. Inside CORS, so a browser reads a 429."""

    def __init__(self, app: ASGIApp, limits: RateLimitMiddleware) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and routing.is_view(scope["path"]):
            await self.limits.guard(self.app, scope, receive, send)
            return
        await self.app(scope, receive, send)
