"""The migration step that gives listed tables a *list version* (see
:mod:`services.common.listscale`): a row of ``list_versions`` per table, bumped by
triggers on every insert, update, delete (and, on PostgreSQL, truncate) of the table.

``add_list_versions(tables)`` makes the ``list_versions`` table if the service has none
yet, the PostgreSQL trigger functions (``CREATE OR REPLACE``: the funding service made
them first, in ``0008_perf_lists``), and each table's row and triggers;
``drop_list_versions`` undoes exactly that. A service's migration names its tables and
nothing else.

On PostgreSQL a statement trigger marks the transaction as having changed the table (its
own reads then use no anchors), and a deferred trigger bumps the counters at commit, so
a write never holds a counter's row lock before then. The first deferred trigger of a
transaction bumps every table the transaction marked, locking their rows in name order:
two transactions that changed the same tables in another order never wait on each
other in a cycle (no deadlock at commit).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

PG_FUNCTIONS = (
    """
CREATE OR REPLACE FUNCTION trellis_list_dirty() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('trellis.list_dirty_' || TG_ARGV[0], 'on', true);
    RETURN NULL;
END $$""",
    """
CREATE OR REPLACE FUNCTION trellis_list_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF coalesce(current_setting('trellis.list_bumped', true), '') <> 'on' THEN
        PERFORM set_config('trellis.list_bumped', 'on', true);
        PERFORM 1 FROM list_versions
            WHERE coalesce(current_setting('trellis.list_dirty_' || name, true), '') = 'on'
            ORDER BY name FOR UPDATE;
        UPDATE list_versions SET version = version + 1
            WHERE coalesce(current_setting('trellis.list_dirty_' || name, true), '') = 'on';
    END IF;
    RETURN NULL;
END $$""",
    """
CREATE OR REPLACE FUNCTION trellis_list_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE list_versions SET version = version + 1 WHERE name = TG_ARGV[0];
    RETURN NULL;
END $$""",
)
PG_TRIGGERS = ("list_dirty", "list_bump", "list_truncated")
SQLITE_EVENTS = ("insert", "update", "delete")


def _postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def _postgres_triggers(name: str) -> list[str]:
    return [
        f"CREATE TRIGGER {name}_list_dirty AFTER INSERT OR UPDATE OR DELETE ON {name} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION trellis_list_dirty('{name}')",
        f"CREATE CONSTRAINT TRIGGER {name}_list_bump AFTER INSERT OR UPDATE OR DELETE ON {name} "
        f"DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION trellis_list_bump('{name}')",
        f"CREATE TRIGGER {name}_list_truncated AFTER TRUNCATE ON {name} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION trellis_list_truncated('{name}')",
    ]


def _sqlite_triggers(name: str) -> list[str]:
    return [
        f"CREATE TRIGGER {name}_list_{event} AFTER {event.upper()} ON {name} FOR EACH ROW "
        f"BEGIN UPDATE list_versions SET version = version + 1 WHERE name = '{name}'; END"
        for event in SQLITE_EVENTS
    ]


def add_list_versions(tables: Sequence[str], *, create_table: bool) -> None:
    """Version ``tables`` (``create_table``: the service has no ``list_versions`` yet)."""
    if create_table:
        op.create_table(
            "list_versions",
            sa.Column("name", sa.String(length=100), nullable=False),
            sa.Column("version", sa.BigInteger(), nullable=False),
            sa.PrimaryKeyConstraint("name", name=op.f("pk_list_versions")),
        )
    op.bulk_insert(
        sa.table("list_versions", sa.column("name"), sa.column("version")),
        [{"name": name, "version": 0} for name in tables],
    )
    postgres = _postgres()
    if postgres:
        for function in PG_FUNCTIONS:
            op.execute(function.strip())
    for name in tables:
        for statement in _postgres_triggers(name) if postgres else _sqlite_triggers(name):
            op.execute(statement)


def drop_list_versions(tables: Sequence[str], *, drop_table: bool) -> None:
    """Undo :func:`add_list_versions` of the same ``tables``."""
    postgres = _postgres()
    for name in tables:
        if postgres:
            for suffix in PG_TRIGGERS:
                op.execute(f"DROP TRIGGER IF EXISTS {name}_{suffix} ON {name}")
        else:
            for event in SQLITE_EVENTS:
                op.execute(f"DROP TRIGGER IF EXISTS {name}_list_{event}")
    if drop_table:
        if postgres:
            for function in ("trellis_list_dirty", "trellis_list_bump", "trellis_list_truncated"):
                op.execute(f"DROP FUNCTION IF EXISTS {function}()")
        op.drop_table("list_versions")
        return
    names = ", ".join(f"'{name}'" for name in tables)
    op.execute(f"DELETE FROM list_versions WHERE name IN ({names})")
