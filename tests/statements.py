"""What an app's PostgreSQL connections send, counted by asyncpg itself."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.db import Database


@contextmanager
def driver_statements(db: AsyncEngine | Database) -> Iterator[list[str]]:
    """The first word of each statement the engine's asyncpg connections send while the
    block runs, outside prepared statements: ``BEGIN``, ``COMMIT``, ``ROLLBACK`` (which
    SQLAlchemy's events never see) and the driver's own queries (``DriverRead``). Given
    a ``Database``, the connections it keeps for reads (``ReadConnections``) too.

    asyncpg calls its query loggers soon after each statement, not at once: let the
    event loop run (``await asyncio.sleep(0.05)``) before reading the list."""
    engine = db.engine if isinstance(db, Database) else db
    sent: list[str] = []
    drivers: list[Any] = []

    def log(record: Any) -> None:
        sent.append(record.query.strip().split()[0].rstrip(";").upper())

    def watch(dbapi_connection: Any) -> None:
        driver = dbapi_connection.driver_connection
        if hasattr(driver, "add_query_logger") and driver not in drivers:  # asyncpg only
            drivers.append(driver)
            driver.add_query_logger(log)

    def on_checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        watch(dbapi_connection)

    if isinstance(db, Database):
        for kept in db.reads.idle:
            watch(kept)
    event.listen(engine.sync_engine, "checkout", on_checkout)
    try:
        yield sent
    finally:
        event.remove(engine.sync_engine, "checkout", on_checkout)
        for driver in drivers:
            driver.remove_query_logger(log)


async def end_other_backends(engine: AsyncEngine) -> int:
    """Have PostgreSQL end every other connection to the engine's database (a restart, an
    idle timeout, as the pool sees them); how many it ended."""
    async with engine.connect() as conn:
        return await conn.scalar(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
