"""Rate limits and failed-attempt limits, shared across replicas.

The algorithms are the ``limits`` library's (sliding window counter); this
module gives it somewhere to keep its counters that every replica sees:

- Redis, when ``TRELLIS_REDIS_URL`` is set (``limits``' own Redis storage);
- otherwise a SQL table (``rate_limit_counters``) in the service's database:
  ``SQLStorage`` implements ``limits``' async storage interface (fixed window and
  sliding window counter support) on SQLAlchemy, for SQLite and PostgreSQL.

``AttemptGuard`` limits *failed* attempts (wrong secrets, wrong passwords) per
subject (a client id, an account) and per source address: past the first limit
callers get 429 with ``Retry-After``; past the last one the subject is locked for
the rest of that window, with a message that says what to do. The token
endpoint uses it; a sign-in page uses it the same way (``check`` before looking
at the credentials, ``failed`` after a wrong one).
"""

import asyncio
import hashlib
import logging
import math
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from limits import RateLimitItem, parse_many
from limits.aio.storage import RedisStorage, Storage
from limits.aio.storage.base import SlidingWindowCounterSupport
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from sqlalchemy import BigInteger, Float, String, case, delete, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.common.db import Database, make_metadata, read_only_request
from services.common.errors import Problem

logger = logging.getLogger("trellis.ratelimit")

PRUNE_EVERY = 500


class RateLimitBase(DeclarativeBase):
    """The counters' own metadata: only databases that keep counters have the table."""

    metadata = make_metadata()


class RateLimitCounter(RateLimitBase):
    """One counter of one window of one limit (``limits`` names the keys)."""

    __tablename__ = "rate_limit_counters"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[float] = mapped_column(Float, index=True)


#: Add to a migration lineage's metadata when its database keeps rate-limit counters.
RATE_LIMIT_METADATA = RateLimitBase.metadata


class SQLStorage(Storage, SlidingWindowCounterSupport):
    """``limits``' async storage on a SQLAlchemy database (SQLite or PostgreSQL).

    Each counter is one row; taking from a limit is one short transaction: an
    ``INSERT ... ON CONFLICT DO UPDATE ... RETURNING`` on the current window's row
    (which holds that row until commit on PostgreSQL), a read of the previous
    window's, and a commit, or a rollback when the limit would be passed. Replicas
    sharing the database share the counts. Expired rows are pruned now and then.

    SQLite has one writer at a time. This process's writers queue on one lock per
    store, in order, instead of in SQLite's busy handler (which sleeps and retries:
    slow under a burst, and a writer that waits past ``busy_timeout`` fails); the
    write lock is taken when the transaction begins (``BEGIN IMMEDIATE``), so what
    it reads is what it updates. Reads begin deferred and never wait (WAL). When a
    write fails, the writers that were queued behind it fail at once.
    """

    STORAGE_SCHEME = ["trellis+sql"]

    def __init__(self, db: Database, **options: float | str | bool) -> None:
        super().__init__(None, wrap_exceptions=False)
        self.db = db
        self._writes = 0
        self._insert = postgresql_insert if db.is_postgres else sqlite_insert
        self._lock = None if db.is_postgres else asyncio.Lock()
        self._failed_at = -math.inf

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return SQLAlchemyError

    @asynccontextmanager
    async def _writing(self) -> AsyncIterator[AsyncConnection]:
        """One write transaction; on SQLite, this process's writers take turns first."""
        if self._lock is None:
            async with self.db.engine.begin() as conn:
                yield conn
            return
        asked = time.monotonic()
        async with self._lock:
            if self._failed_at > asked:
                # The writer before this one failed (its wait for another process ran
                # out, or the database is gone): fail at once rather than each in turn.
                raise OperationalError(
                    "-- the rate-limit store", None, RuntimeError("the store failed just now")
                )
            token = read_only_request.set(False)
            try:
                async with self.db.engine.begin() as conn:
                    yield conn
            except SQLAlchemyError:
                self._failed_at = time.monotonic()
                raise
            finally:
                read_only_request.reset(token)

    @asynccontextmanager
    async def _reading(self) -> AsyncIterator[AsyncConnection]:
        """Reads only: on SQLite no transaction at all, so no write lock is taken."""
        token = read_only_request.set(True)
        try:
            async with self.db.engine.connect() as conn:
                yield conn
        finally:
            read_only_request.reset(token)

    def _increment(self, key: str, expiry: int, amount: int, now: float) -> Any:
        table = RateLimitCounter.__table__
        expired = table.c.expires_at <= now
        stmt = self._insert(table).values(key=key, count=amount, expires_at=now + expiry)
        return stmt.on_conflict_do_update(
            index_elements=[table.c.key],
            set_={
                "count": case((expired, amount), else_=table.c.count + amount),
                "expires_at": case((expired, now + expiry), else_=table.c.expires_at),
            },
        ).returning(table.c.count)

    async def _pruned(self, conn: AsyncConnection, now: float) -> None:
        """Every ``PRUNE_EVERY`` writes, delete the rows of windows that have ended."""
        self._writes += 1
        if self._writes % PRUNE_EVERY == 0:
            table = RateLimitCounter.__table__
            await conn.execute(delete(table).where(table.c.expires_at < now))

    async def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = time.time()
        async with self._writing() as conn:
            count = (await conn.execute(self._increment(key, expiry, amount, now))).scalar_one()
            await self._pruned(conn, now)
        return int(count)

    @staticmethod
    async def _read(conn: AsyncConnection, keys: Sequence[str], now: float) -> dict[str, Any]:
        table = RateLimitCounter.__table__
        stmt = select(table.c.key, table.c.count, table.c.expires_at).where(
            table.c.key.in_(keys), table.c.expires_at > now
        )
        rows = (await conn.execute(stmt)).all()
        return {row.key: (int(row.count), float(row.expires_at)) for row in rows}

    async def _counts(self, *keys: str) -> dict[str, tuple[int, float]]:
        async with self._reading() as conn:
            return await self._read(conn, keys, time.time())

    async def get(self, key: str) -> int:
        return (await self._counts(key)).get(key, (0, 0.0))[0]

    async def get_expiry(self, key: str) -> float:
        return (await self._counts(key)).get(key, (0, time.time()))[1]

    async def check(self) -> bool:
        try:
            await self._counts("-")
        except SQLAlchemyError:
            return False
        return True

    async def reset(self) -> int | None:
        async with self._writing() as conn:
            result = await conn.execute(delete(RateLimitCounter.__table__))
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def clear(self, key: str) -> None:
        table = RateLimitCounter.__table__
        async with self._writing() as conn:
            await conn.execute(delete(table).where(table.c.key == key))

    # Sliding window counter: two fixed windows, the previous one weighted by how much
    # of it still overlaps the sliding window (what limits' own storages do).

    @staticmethod
    def _window_keys(key: str, expiry: int, now: float) -> tuple[str, str]:
        index = int(now // expiry)
        return f"{key}/{index - 1}", f"{key}/{index}"

    async def get_sliding_window(self, key: str, expiry: int) -> tuple[int, float, int, float]:
        now = time.time()
        previous_key, current_key = self._window_keys(key, expiry, now)
        counts = await self._counts(previous_key, current_key)
        previous = counts.get(previous_key, (0, 0.0))[0]
        current = counts.get(current_key, (0, 0.0))[0]
        previous_ttl = expiry - (now % expiry) if previous else 0.0
        current_ttl = 2 * expiry - (now % expiry)
        return previous, previous_ttl, current, current_ttl

    async def acquire_sliding_window_entry(
        self, key: str, limit: int, expiry: int, amount: int = 1
    ) -> bool:
        if amount > limit:
            return False
        try:
            async with self._writing() as conn:
                now = time.time()
                previous_key, current_key = self._window_keys(key, expiry, now)
                increment = self._increment(current_key, 2 * expiry, amount, now)
                current = (await conn.execute(increment)).scalar_one()
                previous = (await self._read(conn, [previous_key], now)).get(previous_key)
                weight = (expiry - now % expiry) / expiry if previous else 0.0
                if math.floor((previous[0] if previous else 0) * weight + current) > limit:
                    raise _Refused
                await self._pruned(conn, now)
        except _Refused:
            return False  # rolled back: nothing was taken
        return True

    async def clear_sliding_window(self, key: str, expiry: int) -> None:
        previous_key, current_key = self._window_keys(key, expiry, time.time())
        table = RateLimitCounter.__table__
        async with self._writing() as conn:
            await conn.execute(delete(table).where(table.c.key.in_([previous_key, current_key])))


class _Refused(Exception):
    """Rolls back a take that would pass the limit."""


def redis_storage(url: str) -> Storage:
    """``limits``' Redis storage for ``redis://`` / ``rediss://`` URLs (redis-py client)."""
    uri = url if url.startswith("async+") else f"async+{url}"
    return RedisStorage(uri, implementation="redispy", key_prefix="trellis")


def make_storage(*, redis_url: str | None, db: Database | None) -> Storage:
    """Redis when configured, else the SQL table in ``db`` (see ``SQLStorage``)."""
    if redis_url:
        return redis_storage(redis_url)
    if db is None:
        raise ValueError("rate limits need TRELLIS_REDIS_URL or a database")
    return SQLStorage(db)


def retry_after(reset_at: float) -> int:
    """Whole seconds until ``reset_at`` (at least one), for ``Retry-After``."""
    return max(1, math.ceil(reset_at - time.time()))


class TooManyAttempts(Problem):
    """429: too many failed attempts; ``Retry-After`` says when to try again."""

    status, slug = 429, "too-many-attempts"

    def __init__(self, detail: str, *, retry_after: int, locked: bool) -> None:
        self.retry_after = retry_after
        self.locked = locked
        super().__init__(
            detail,
            slug="locked" if locked else self.slug,
            headers={"Retry-After": str(retry_after), "Cache-Control": "no-store"},
            extra={"retry_after": retry_after, "locked": locked},
        )


def short_key(value: str | None) -> str | None:
    """Keys stay short whatever a caller sends (a client id is the caller's input)."""
    if value and len(value) > 80:
        return "sha256-" + hashlib.sha256(value.encode()).hexdigest()
    return value


def _minutes(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} seconds"
    minutes = math.ceil(seconds / 60)
    return f"{minutes} minutes"


@dataclass(frozen=True)
class AttemptLimits:
    """The limits on failed attempts: each a ``limits`` string like ``10/minute;30/hour``.

    The first limit of each list slows callers down (429); the last one locks.
    """

    per_subject: Sequence[RateLimitItem]
    per_source: Sequence[RateLimitItem]

    @classmethod
    def parse(cls, per_subject: str, per_source: str) -> "AttemptLimits":
        return cls(parse_many(per_subject), parse_many(per_source))


class AttemptGuard:
    """Failed attempts per subject and per source, kept in shared storage.

    ``name`` keeps one guard's counters apart from another's (``token``,
    ``sign-in``); ``advice`` is what a locked-out caller should do.
    """

    def __init__(
        self, storage: Storage, limits: AttemptLimits, *, name: str, subject: str, advice: str
    ) -> None:
        self.limiter = SlidingWindowCounterRateLimiter(storage)
        self.limits = limits
        self.name = name
        self.subject = subject
        self.advice = advice

    def _tiers(self, subject: str | None, source: str | None):  # type: ignore[no-untyped-def]
        subject = short_key(subject)
        source = short_key(source)
        if subject:
            for i, item in enumerate(self.limits.per_subject):
                yield "subject", subject, item, i == len(self.limits.per_subject) - 1
        if source:
            for i, item in enumerate(self.limits.per_source):
                yield "source", source, item, i == len(self.limits.per_source) - 1

    async def check(self, *, subject: str | None, source: str | None) -> None:
        """Raise ``TooManyAttempts`` if this subject or source must wait; else return.

        A refused attempt counts as a failed one: a caller that keeps trying while
        told to wait reaches the lock (the last limit) instead of waiting it out.
        """
        refusals: list[TooManyAttempts] = []
        for kind, value, item, last in self._tiers(subject, source):
            if await self.limiter.test(item, self.name, kind, value):
                continue
            stats = await self.limiter.get_window_stats(item, self.name, kind, value)
            wait = retry_after(stats.reset_time)
            locked = last and len(self._items(kind)) > 1
            refusals.append(self._problem(kind, item, wait, locked=locked))
        if refusals:
            await self.failed(subject=subject, source=source)
            raise max(refusals, key=lambda p: (p.locked, p.retry_after))

    async def failed(self, *, subject: str | None, source: str | None) -> None:
        """Count one failed attempt against the subject and the source."""
        for kind, value, item, _ in self._tiers(subject, source):
            await self.limiter.hit(item, self.name, kind, value)

    def _items(self, kind: str) -> Sequence[RateLimitItem]:
        return self.limits.per_subject if kind == "subject" else self.limits.per_source

    def _problem(
        self, kind: str, item: RateLimitItem, wait: int, *, locked: bool
    ) -> TooManyAttempts:
        who = f"this {self.subject}" if kind == "subject" else "your network address"
        count = f"{item.amount} failed attempts in {item.get_expiry() // 60 or 1} minute(s)"
        if locked:
            detail = (
                f"{who[0].upper()}{who[1:]} is locked for {_minutes(wait)} after {count}. "
                f"{self.advice}"
            )
        else:
            detail = (
                f"Too many failed attempts from {who} ({count}). "
                f"Wait {_minutes(wait)} before trying again."
            )
        return TooManyAttempts(detail, retry_after=wait, locked=locked)


def shared_storage(request: Request) -> Storage:
    """The app's rate-limit storage (made on first use): Redis if configured, else its database."""
    state = request.app.state
    storage: Storage | None = getattr(state, "rate_limit_storage", None)
    if storage is None:
        storage = make_storage(redis_url=state.settings.redis_url, db=state.db)
        state.rate_limit_storage = storage
    return storage


def source_address(request: Request) -> str:
    """The caller's address as the server sees it.

    Behind a proxy, run the server with its proxy-header support (uvicorn's
    ``--forwarded-allow-ips``) so this is the caller's own address, not the proxy's.
    """
    client = request.client
    return client.host if client else "unknown"
