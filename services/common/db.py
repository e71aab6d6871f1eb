"""Database engine, sessions and the column types every service shares.

SQLite (the embedded default, in WAL mode) and PostgreSQL behave the same
through this module: times come back as aware UTC datetimes on both, ids are
UUIDs, money is integer minor units.
"""

import contextlib
import logging
import os
import uuid
from collections import namedtuple
from collections.abc import AsyncIterator, Callable
from contextvars import ContextVar
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import BigInteger, DateTime, MetaData, Select, event
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column
from sqlalchemy.types import TypeDecorator
from sqlalchemy.util import greenlet_spawn

from services.common import deadline
from services.common.readconnections import KeptReads, ReadConnections, SharedReadConnection

logger = logging.getLogger("trellis.db")

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def make_metadata() -> MetaData:
    """A fresh MetaData with the project's constraint naming convention."""
    return MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware timestamp that is always stored and returned in UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    @property
    def python_type(self) -> type[datetime]:
        """``datetime`` (list cursors use it to read a sort value back)."""
        return datetime

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use an aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else as_utc(value)

    def result_processor(self, dialect: Dialect, coltype: Any) -> Callable[[Any], Any] | None:
        # asyncpg reads ``timestamp with time zone`` (every column of this type there:
        # tests/common/test_utc_columns.py) as an aware UTC datetime: nothing to do, and
        # rows with nothing to type are read as they come (a list page's 26 rows).
        if dialect.driver == "asyncpg":
            return None
        parse = self.impl_instance.result_processor(dialect, coltype)
        if parse is None:
            return super().result_processor(dialect, coltype)

        # SQLite's text, parsed and made UTC in one call (TypeDecorator's own processor
        # wraps the two in a third: a page's timestamps cost twice as much).
        def process(value: Any) -> datetime | None:
            return None if value is None else as_utc(parse(value))

        return process


def as_utc(moment: datetime) -> datetime:
    """``moment`` as an aware UTC datetime; one without an offset is taken as UTC (as SQLite
    returns stored moments, and as a client may send one)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class Money(TypeDecorator[int]):
    """An exact amount in minor units (pence, cents). Never a float."""

    impl = BigInteger
    cache_ok = True


class Base(DeclarativeBase):
    """Declarative base for the kit's own tables; services make their own with ``make_base``."""

    metadata = make_metadata()


class IdMixin:
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class VersionedMixin:
    """Optimistic concurrency: each update bumps ``version``; a stale write fails.

    ``version`` is SQLAlchemy's version counter, so an UPDATE whose row changed
    underneath it matches nothing and raises instead of losing the other write.
    """

    version: Mapped[int] = mapped_column(nullable=False)

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:
        return {"version_id_col": cls.__table__.c.version}


def async_url(url: str) -> str:
    """Normalise a database URL to its async driver (asyncpg / aiosqlite)."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "postgresql":
        return parsed.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)
    if backend == "sqlite":
        return parsed.set(drivername="sqlite+aiosqlite").render_as_string(hide_password=False)
    raise ValueError(f"unsupported database {backend!r}: use sqlite or postgresql")


def sync_url(url: str) -> str:
    """The same database with a blocking driver, for migrations and the CLI."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "postgresql":
        return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    return parsed.set(drivername="sqlite").render_as_string(hide_password=False)


def secure_sqlite_file(url: str) -> None:
    """Make a SQLite database readable by its owner only, before SQLite opens it.

    The file is created 0600 (SQLite gives its ``-wal`` and ``-shm`` files the mode
    of the database file), existing files are narrowed to 0600, and the directory
    that holds them (the data directory) to 0700."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return
    path = Path(parsed.database)  # type: ignore[arg-type]
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.parent.stat().st_mode & 0o077:
        path.parent.chmod(0o700)
    os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
    for file in (path, *(path.with_name(path.name + s) for s in ("-wal", "-shm", "-journal"))):
        if file.exists() and file.stat().st_mode & 0o077:
            file.chmod(0o600)


#: Whether this context is a read-only request (``GET``, ``HEAD``, ``OPTIONS``). Its
#: session begins no transaction: each ``SELECT`` runs on its own (one round trip on
#: PostgreSQL, no ``BEGIN`` and ``COMMIT`` around it). The first statement that writes
#: (or locks: ``FOR UPDATE``; or a savepoint) begins one lazily, right before it, and the session
#: dependency commits or rolls it back as for any request: a read request that writes
#: keeps every rule of a writing one (all or nothing, nothing kept after the deadline).
#: Elsewhere a transaction begins with the connection, as usual.
#:
#: On SQLite a writing transaction begins with ``BEGIN IMMEDIATE``: it takes the
#: database's write lock first (waiting up to ``busy_timeout`` for it), so two writers
#: run one after the other, each reading what the previous one committed, as
#: ``SELECT ... FOR UPDATE`` makes them on PostgreSQL. Without this, two writers that
#: both read first deadlock on the upgrade to a write lock and one fails at once.
read_only_request: ContextVar[bool] = ContextVar("read_only_request", default=False)

# Set on a connection (its pool record's ``info``) whose transaction is deferred to its
# first write. On PostgreSQL, ``_LEVEL`` keeps the adapter's isolation level to restore
# then, or when the connection goes back to the pool without having written.
_LAZY = "trellis_lazy_begin"
_LEVEL = "trellis_lazy_level"
_UNSET = object()
_READ_PREFIXES = ("SELECT", "select")


def _writes(statement: str, context: Any) -> bool:
    """Whether a statement needs the request's transaction: DML, DDL, locks, anything
    but a plain ``SELECT``."""
    if context is not None and (context.isinsert or context.isupdate or context.isdelete):
        return True
    return not statement.lstrip().startswith(_READ_PREFIXES) or "FOR UPDATE" in statement


def _sqlite_begin(connection: Any) -> None:
    if read_only_request.get():
        connection.info[_LAZY] = True
        return
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def _postgres_begin(connection: Any) -> None:
    if not read_only_request.get():
        return
    # asyncpg's adapter sends BEGIN before its next statement unless it is in autocommit:
    # set on the adapter only (not through SQLAlchemy, which would roll back first).
    adapter = connection.connection.dbapi_connection
    info = connection.info
    info[_LAZY] = True
    info[_LEVEL] = adapter.isolation_level
    adapter.isolation_level = "autocommit"


def _begin_before_write(
    connection: Any, cursor: Any, statement: str, _params: Any, context: Any, _many: bool
) -> None:
    info = connection.info
    if _LAZY not in info or not _writes(statement, context):
        return
    info.pop(_LAZY)
    if _LEVEL in info:  # PostgreSQL: the adapter begins the transaction with this statement
        connection.connection.dbapi_connection.isolation_level = info.pop(_LEVEL)
    else:
        cursor.execute("BEGIN IMMEDIATE")


def _end_lazy(dbapi_connection: Any, record: Any) -> None:
    record.info.pop(_LAZY, None)
    # A read that never wrote: the connection goes back to the pool with the isolation
    # level it came with (the level may be None, the driver's default), never in
    # autocommit, or the next request's writes would run without a transaction.
    level = record.info.pop(_LEVEL, _UNSET)
    # An invalidated connection (a cancelled statement, a lost server) comes back without
    # its adapter: it is discarded, not pooled, so there is no level to restore.
    if level is not _UNSET and dbapi_connection is not None:
        dbapi_connection.isolation_level = level


def _alive(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """A pooled PostgreSQL connection the server has closed is replaced at checkout.

    asyncpg learns of the close (a restart, an idle timeout) when the socket does,
    without a round trip: this replaces ``pool_pre_ping``'s three (BEGIN, ``;``,
    ROLLBACK) on every request. Connections dropped silently on the way (no FIN) are
    bounded by ``pool_recycle``."""
    driver = getattr(dbapi_connection, "driver_connection", None)
    if driver is not None and driver.is_closed():
        raise DisconnectionError("the server closed this pooled connection")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # The driver must not begin transactions itself: ``_sqlite_begin`` does.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # Deleted rows are overwritten with zeros, not left readable in free pages.
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An async engine for SQLite (WAL, foreign keys on) or PostgreSQL. Statement parameters
    (the data) never appear in logs or error messages. Read-only requests run without a
    transaction until they write (``read_only_request``)."""
    url = async_url(url)
    kwargs.setdefault("hide_parameters", True)
    if url.startswith("sqlite"):
        secure_sqlite_file(url)
        engine = create_async_engine(url, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
    else:
        kwargs.setdefault("pool_size", 10)
        kwargs.setdefault("max_overflow", 10)
        kwargs.setdefault("pool_recycle", 1800)
        engine = create_async_engine(url, **kwargs)
        event.listen(engine.sync_engine, "begin", _postgres_begin)
        event.listen(engine.sync_engine, "checkout", _alive)
    event.listen(engine.sync_engine, "before_cursor_execute", _begin_before_write)
    event.listen(engine.sync_engine, "checkin", _end_lazy)
    return engine


class Database:
    """One engine and its session factory, kept on ``app.state.db``."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = async_url(url)
        self.engine = create_engine(url, **engine_kwargs)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)
        # PostgreSQL: a few of the pool's ten, each lent to one read at a time. SQLite: one,
        # lent to every read at once.
        self.reads: KeptReads = (
            ReadConnections(self.engine, 5)
            if self.is_postgres
            else SharedReadConnection(self.engine)
        )

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    async def dispose(self) -> None:
        await self.reads.close()
        await self.engine.dispose()


READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: The session's ``info`` key of its database's kept read connections (``KeptReads``).
READS = "trellis_reads"


def _service_name(request: Request) -> str:
    settings = getattr(request.app.state, "settings", None)
    return str(getattr(settings, "service_name", "this"))


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The request's unit of work: the only place that commits or rolls back.

    It runs with ``scope="function"``, so the commit happens before the
    response is sent: a failed commit becomes an error response, never a
    success the database did not keep. Once the request's deadline has passed
    (``services.common.deadline``) it rolls back instead: its caller has been
    told the request failed, so nothing of it may be kept. A session the request
    never used (no transaction begun) has nothing to commit or close.
    """
    db: Database = request.app.state.db
    # Reset when the request ends: an app called in-process (a test client, a view that
    # calls another app) must not leave its caller's later sessions read-only.
    read_only = read_only_request.set(request.method in READ_METHODS)
    session = db.sessionmaker()
    session.info["outbox"] = getattr(request.app.state, "outbox", None)
    session.info[READS] = db.reads
    try:
        try:
            yield session
            if deadline.expired():
                raise deadline.DeadlineExceeded(_service_name(request))
            if session.in_transaction():
                await session.commit()
        except BaseException:
            await session.rollback()
            for undo in session.info.pop("after_rollback", []):
                try:
                    await undo(session)
                except Exception:  # the original error is the one to answer with
                    logger.warning("could not undo bookkeeping after a rollback", exc_info=True)
            raise
        finally:
            if session.in_transaction():  # begun again after the end (an undo): not kept
                await session.close()
        for hook in session.info.pop("after_commit", []):
            hook()
    finally:
        with contextlib.suppress(ValueError):  # ended in another context: nothing leaked
            read_only_request.reset(read_only)


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


def insert_or_ignore(session: AsyncSession, model: Any) -> Any:
    """``INSERT ... ON CONFLICT DO NOTHING`` in the session's dialect (SQLite or PostgreSQL).

    For consumers that may see the same fact twice at once: the second insert is a
    no-op instead of a unique-key error that fails the whole transaction.
    """
    make = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    return make(model).on_conflict_do_nothing()


def after_rollback(session: AsyncSession, undo: Any) -> None:
    """Run ``await undo(session)`` if the request's transaction is rolled back.

    For bookkeeping that was committed on its own before the request's work
    (an idempotency key's claim) and must be undone when that work is not kept.
    """
    session.info.setdefault("after_rollback", []).append(undo)


def after_commit(session: AsyncSession, hook: Any) -> None:
    """Run ``hook()`` once the request's transaction has committed (e.g. wake the outbox)."""
    hooks = session.info.setdefault("after_commit", [])
    if hook not in hooks:
        hooks.append(hook)


class DriverRead:
    """A Core ``SELECT`` of a hot read path, run straight on the session's driver connection.

    What SQLAlchemy does per statement (compiling or finding its compiled form, an
    execution context, a result object, the greenlet bridge) costs several times what
    the driver's own round trip does. This compiles the statement once per dialect and
    binds its parameters and types its rows with the processors SQLAlchemy would use,
    so rows read the same on SQLite and PostgreSQL (UUIDs, aware UTC datetimes, dates).
    Rows are named tuples of the selected columns.

    It runs on the driver only where no transaction needs beginning: in a read-only
    request (``read_only_request``: its reads run outside any transaction, or inside the
    one its first write began). Elsewhere (a write request on PostgreSQL begins its
    transaction with its first statement) it runs through the session as usual.
    """

    def __init__(self, statement: Select[Any]) -> None:
        self.statement = statement
        names = [column.key for column in statement.selected_columns]
        self.row = namedtuple("Row", names)  # type: ignore[misc]
        self._compiled: dict[str, tuple[str, list[tuple[str, Any]], list[Any]]] = {}

    def _compile(self, dialect: Dialect) -> tuple[str, list[tuple[str, Any]], list[Any]]:
        compiled = self.statement.compile(dialect=dialect)
        binds = [
            (name, compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect))
            for name in compiled.positiontup or ()
        ]
        results = [
            column.type.dialect_impl(dialect).result_processor(dialect, None)
            for column in self.statement.selected_columns
        ]
        found = (compiled.string, binds, results)
        self._compiled[dialect.name] = found
        return found

    async def rows(self, session: AsyncSession, **params: Any) -> list[Any]:
        """The rows the statement selects with ``params``."""
        dialect = session.bind.dialect  # type: ignore[union-attr]
        sql, binds, results = self._compiled.get(dialect.name) or self._compile(dialect)
        args = [process(params[name]) if process else params[name] for name, process in binds]
        fetched = await driver_rows(session, sql, args)
        if fetched is None:
            return await self._through_session(session, params)
        return [self.row(*_typed(row, results)) for row in fetched]

    async def _through_session(self, session: AsyncSession, params: dict[str, Any]) -> list[Any]:
        result = await session.execute(self.statement, params)
        return [self.row(*row) for row in result]


def _typed(row: Any, results: list[Callable[[Any], Any] | None]) -> list[Any]:
    return [
        process(value) if process else value for value, process in zip(row, results, strict=True)
    ]


async def driver_rows(session: AsyncSession, sql: str, args: list[Any]) -> list[Any] | None:
    """The driver's own rows of a compiled ``SELECT`` (``args`` already bound).

    Read on the session's connection once a transaction has begun (to see the request's
    own writes); else on a connection kept for reads (``KeptReads``), or one
    borrowed from the pool for this one read, without SQLAlchemy's connection and
    transaction objects. None where it must go through the session instead: outside a
    read-only request (a write request's transaction begins with its first statement),
    or on a driver error (the session raises it as the error handlers know it, or
    succeeds on a connection it replaced; a SELECT is safe to rerun).
    """
    if not read_only_request.get():
        return None
    if session.in_transaction():
        connection = await session.connection()
        return await _driver_fetch(session, await connection.get_raw_connection(), sql, args)
    reads: KeptReads | None = session.info.get(READS)
    if reads is not None:
        lent = await reads.borrow()
        try:
            fetched = await _driver_fetch(session, lent, sql, args)
        except BaseException:
            await reads.discard(lent)
            raise
        if fetched is None:  # the driver failed: this connection is not lent again
            await reads.discard(lent)
        else:
            reads.give_back(lent)
        return fetched
    raw = await session.bind.raw_connection()  # type: ignore[union-attr]
    try:
        return await _driver_fetch(session, raw, sql, args)
    finally:
        await greenlet_spawn(raw.close)


async def _driver_fetch(session: AsyncSession, raw: Any, sql: str, args: list[Any]) -> Any:
    """The driver's rows, or None if the driver failed (its own error: a lost connection,
    a busy database)."""
    driver = raw.driver_connection
    try:
        if session.bind.dialect.name == "postgresql":  # type: ignore[union-attr]
            return await driver.fetch(sql, *args)
        return await driver.execute_fetchall(sql, args)
    except Exception:
        return None
