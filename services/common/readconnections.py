"""Connections kept out of the pool for reads on the driver (``DriverRead``, list pages).

A read borrowed from the pool pays for SQLAlchemy's checkout and checkin (a greenlet hop
each way, the pool's events, and on SQLite a ROLLBACK sent to the driver's thread on
return) more than for its own round trip. These connections run nothing but single
``SELECT``s outside any transaction, so there is nothing to reset between reads.
"""

import asyncio
from collections import deque
from typing import Any

from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util import greenlet_spawn

__all__ = ["KeptReads", "ReadConnections", "SharedReadConnection"]


class ReadConnections:
    """PostgreSQL: a few pooled connections kept out of the pool, each lent to one read at
    a time (asyncpg runs one statement at a time on a connection).

    At many reads at once, borrowing from the pool would also open and close overflow
    connections. Once ``size`` are lent out, a read waits for one (each is lent for one
    statement), as long as the pool would wait. A connection whose read failed is
    invalidated, not lent again."""

    def __init__(self, engine: AsyncEngine, size: int) -> None:
        self.engine = engine
        self.size = size
        # As long as the pool waits for a connection before it gives up.
        self.timeout: float = getattr(engine.sync_engine.pool, "_timeout", 30.0)
        self.held = 0
        self.idle: list[Any] = []
        self.waiting: deque[asyncio.Future[Any]] = deque()

    async def borrow(self) -> Any:
        """A connection for one read; give it back or discard it."""
        while self.idle:
            raw = self.idle.pop()
            closed = getattr(raw.driver_connection, "is_closed", None)
            if closed is None or not closed():  # asyncpg knows when the server closed it
                return raw
            await self.discard(raw)
        if self.held >= self.size:
            waiter = asyncio.get_running_loop().create_future()
            self.waiting.append(waiter)
            try:
                async with asyncio.timeout(self.timeout):
                    raw = await waiter
            except BaseException as exc:
                if waiter.done() and not waiter.cancelled():
                    self.give_back(waiter.result())  # handed over as this read was cancelled
                if isinstance(exc, TimeoutError):  # as the pool says it (a 503)
                    raise PoolTimeout("no connection kept for reads came back in time") from exc
                raise
            if raw is not None:
                return raw
            # A discarded connection's place: open its replacement below.
        self.held += 1
        try:
            return await self.engine.raw_connection()
        except BaseException:
            self._free_place()
            raise

    def give_back(self, raw: Any) -> None:
        while self.waiting:
            waiter = self.waiting.popleft()
            if not waiter.done():
                waiter.set_result(raw)
                return
        self.idle.append(raw)

    def _free_place(self) -> None:
        self.held -= 1
        while self.waiting:
            waiter = self.waiting.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    async def discard(self, raw: Any) -> None:
        """Drop a connection whose read failed: the pool replaces it."""
        self._free_place()
        await greenlet_spawn(raw.invalidate)

    async def close(self) -> None:
        """Give every idle connection back to the pool (before it is disposed)."""
        idle, self.idle = self.idle, []
        self.held -= len(idle)
        for raw in idle:
            await greenlet_spawn(raw.close)


class SharedReadConnection:
    """SQLite: one pooled connection kept out of the pool, lent to every read at once.

    aiosqlite runs each call on a connection's own thread, one after another, and a read
    (``execute_fetchall``) is one call: reads lent the same connection queue inside it,
    each run whole, and its thread runs them back to back. Lent to one read at a time
    instead (``ReadConnections``), each read waited in the event loop for the one before
    to come back, and the thread slept and woke between reads: at 32 reads at once, 515 us
    of CPU per read-one against 403 us shared. A second connection would only be a second
    thread contending for the interpreter with the first.

    The same interface as ``ReadConnections``: ``give_back`` leaves it lent to the other
    reads; a read that failed on it has it closed once the reads already queued on it
    have run (the pool replaces it; the next read opens one).
    """

    size = 1

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.idle: list[Any] = []  # the connection, once opened: lent, and idle, at once
        self._opening = asyncio.Lock()

    @property
    def held(self) -> int:
        return len(self.idle)

    async def borrow(self) -> Any:
        """The connection, opened by the first read that needs it."""
        if not self.idle:
            async with self._opening:
                if not self.idle:
                    self.idle.append(await self.engine.raw_connection())
        return self.idle[0]

    def give_back(self, raw: Any) -> None:
        """Nothing to do: the connection stays lent to every read."""

    async def discard(self, raw: Any) -> None:
        """Drop the connection a read failed on (once: other reads may fail on it too)."""
        if raw in self.idle:
            self.idle.remove(raw)
            await greenlet_spawn(raw.invalidate)

    async def close(self) -> None:
        """Give the connection back to the pool (before it is disposed)."""
        idle, self.idle = self.idle, []
        for raw in idle:
            await greenlet_spawn(raw.close)


#: What a database keeps for reads: ``ReadConnections`` (PostgreSQL) or
#: ``SharedReadConnection`` (SQLite).
KeptReads = ReadConnections | SharedReadConnection
