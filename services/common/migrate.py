"""Alembic, one lineage per service, each with its own version table.

Migrations are how schemas are made, in tests too. They run with a blocking
driver (sqlite3 / psycopg), so call them outside the event loop.
"""

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import MetaData, engine_from_config, pool

from services.common.db import secure_sqlite_file, sync_url
from services.common.settings import SERVICES

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


def version_table(service: str) -> str:
    return f"alembic_version_{service}"


def alembic_config(service: str, database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR / service))
    config.set_main_option("sqlalchemy.url", sync_url(database_url).replace("%", "%%"))
    config.attributes["service"] = service
    return config


def upgrade(service: str, database_url: str, revision: str = "head") -> None:
    """Bring ``service``'s database up to ``revision``."""
    secure_sqlite_file(database_url)
    command.upgrade(alembic_config(service, database_url), revision)


def run_env(context: object, service: str, metadata: list[MetaData]) -> None:
    """Body of each lineage's ``env.py``: migrate online with the configured URL."""
    config = context.config  # type: ignore[attr-defined]
    engine = engine_from_config(
        config.get_section(config.config_ini_section, {}),
        prefix="sqlalchemy.",
        poolclass=pool.NullPool,
    )
    with engine.connect() as connection:
        if connection.dialect.name == "sqlite" and service in SERVICES:
            # As the services write (services/common/db.py; not the gateway's rate-limit
            # store, which keeps SQLite's rollback journal): without it, each DDL statement
            # (which the sqlite3 driver commits on its own) waited for its own fsyncs; with
            # WAL and NORMAL a crash keeps a prefix of the commits, as it did before.
            connection.exec_driver_sql("PRAGMA journal_mode=WAL")
            connection.exec_driver_sql("PRAGMA synchronous=NORMAL")
            connection.commit()  # ends the transaction those began, so alembic begins its own
        context.configure(  # type: ignore[attr-defined]
            connection=connection,
            target_metadata=metadata,
            version_table=version_table(service),
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():  # type: ignore[attr-defined]
            context.run_migrations()  # type: ignore[attr-defined]
    engine.dispose()
