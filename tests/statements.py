"""What an app's PostgreSQL connections send, counted by asyncpg itself."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine


@contextmanager
def driver_statements(engine: AsyncEngine) -> Iterator[list[str]]:
    """The first word of each statement the engine's asyncpg connections send while the
    block runs, outside prepared statements: ``BEGIN``, ``COMMIT``, ``ROLLBACK`` (which
    SQLAlchemy's events never see) and the driver's own queries (``DriverRead``).

    asyncpg calls its query loggers soon after each statement, not at once: let the
    event loop run (``await asyncio.sleep(0.05)``) before reading the list."""
    sent: list[str] = []
    drivers: list[Any] = []

    def log(record: Any) -> None:
        sent.append(record.query.strip().split()[0].rstrip(";").upper())

    def on_checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        driver = dbapi_connection.driver_connection
        if hasattr(driver, "add_query_logger") and driver not in drivers:  # asyncpg only
            drivers.append(driver)
            driver.add_query_logger(log)

    event.listen(engine.sync_engine, "checkout", on_checkout)
    try:
        yield sent
    finally:
        event.remove(engine.sync_engine, "checkout", on_checkout)
        for driver in drivers:
            driver.remove_query_logger(log)
