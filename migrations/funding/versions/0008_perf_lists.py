"""list versions: a counter per listed table, bumped by triggers on every change, so deep
list pages can seek from cached anchors and large lists keep exact totals

Revision ID: 0008_perf_lists
Revises: 0008_learning
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_perf_lists"
down_revision: str | None = "0008_learning"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("grants",)

# PostgreSQL: a statement trigger marks the transaction as having changed the table (its
# own reads then use no anchors), and a deferred trigger bumps the counter once, at
# commit, so a write never holds the counter's row lock before then.
PG_FUNCTIONS = """
CREATE FUNCTION trellis_list_dirty() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('trellis.list_dirty_' || TG_ARGV[0], 'on', true);
    RETURN NULL;
END $$;

CREATE FUNCTION trellis_list_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF coalesce(current_setting('trellis.list_bumped_' || TG_ARGV[0], true), '') <> 'on' THEN
        PERFORM set_config('trellis.list_bumped_' || TG_ARGV[0], 'on', true);
        UPDATE list_versions SET version = version + 1 WHERE name = TG_ARGV[0];
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION trellis_list_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE list_versions SET version = version + 1 WHERE name = TG_ARGV[0];
    RETURN NULL;
END $$;
"""


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
        f"CREATE TRIGGER {name}_list_{event.lower()} AFTER {event} ON {name} FOR EACH ROW "
        f"BEGIN UPDATE list_versions SET version = version + 1 WHERE name = '{name}'; END"
        for event in ("INSERT", "UPDATE", "DELETE")
    ]


def upgrade() -> None:
    op.create_table(
        "list_versions",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_list_versions")),
    )
    op.bulk_insert(
        sa.table("list_versions", sa.column("name"), sa.column("version")),
        [{"name": name, "version": 0} for name in TABLES],
    )
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        for function in PG_FUNCTIONS.strip().split("\n\n"):
            op.execute(function)
    for name in TABLES:
        for statement in _postgres_triggers(name) if postgres else _sqlite_triggers(name):
            op.execute(statement)


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for name in TABLES:
        if postgres:
            for suffix in ("list_dirty", "list_bump", "list_truncated"):
                op.execute(f"DROP TRIGGER IF EXISTS {name}_{suffix} ON {name}")
        else:
            for event in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {name}_list_{event}")
    if postgres:
        for function in ("trellis_list_dirty", "trellis_list_bump", "trellis_list_truncated"):
            op.execute(f"DROP FUNCTION IF EXISTS {function}()")
    op.drop_table("list_versions")
