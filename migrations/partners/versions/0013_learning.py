"""learning: the funder's own tags and learning notes; threads' messages in search

``tags`` (a funder's themes on updates, interactions, threads and learning notes),
``learning_notes`` and the updates and interactions each draws on
(``learning_note_sources``), and ``thread_message_copies``: the messages of feedback's
threads as feedback announces them, so search finds them. Both new sources are
indexed in ``search_entries`` by triggers, as ``0009_search`` does for the others: a
thread message under its thread's funder and partner, a learning note under its
funder alone (private, and with the nil UUID as partner, which is no organisation's).

Revision ID: 0013_learning
Revises: 0013_notifications
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import services.common.db

revision: str = "0013_learning"
down_revision: str | None = "0013_notifications"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = "kind, source_id, update_id, thread_id, partner_id, funder_id, private, at, title, body"
NIL = {"postgresql": "'00000000-0000-0000-0000-000000000000'::uuid", "sqlite": "'" + "0" * 32 + "'"}
TRUE = {"postgresql": "true", "sqlite": "1"}
FALSE = {"postgresql": "false", "sqlite": "0"}
NO_ID = {"postgresql": "NULL::uuid", "sqlite": "NULL"}


def _sources(dialect: str) -> dict[str, tuple[str, str]]:
    """(kind, select list from NEW) for each new source table."""
    return {
        "thread_message_copies": (
            "thread",
            f"NEW.id, {NO_ID[dialect]}, NEW.thread_id, NEW.partner_id, NEW.funder_id, "
            f"{FALSE[dialect]}, NEW.created_at, NEW.subject, NEW.body",
        ),
        "learning_notes": (
            "learning_note",
            f"NEW.id, {NO_ID[dialect]}, {NO_ID[dialect]}, {NIL[dialect]}, NEW.funder_id, "
            f"{TRUE[dialect]}, NEW.created_at, NEW.title, NEW.body",
        ),
    }


def _tables() -> None:
    op.add_column("search_entries", sa.Column("thread_id", sa.Uuid(), nullable=True))
    op.create_index("ix_search_entries_thread", "search_entries", ["thread_id"])
    op.create_table(
        "thread_message_copies",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("thread_id", sa.Uuid(), nullable=False),
        sa.Column("funder_id", sa.Uuid(), nullable=False),
        sa.Column("partner_id", sa.Uuid(), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", services.common.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_thread_message_copies")),
    )
    op.create_index(
        op.f("ix_thread_message_copies_thread_id"), "thread_message_copies", ["thread_id"]
    )
    op.create_table(
        "tags",
        sa.Column("funder_id", sa.Uuid(), nullable=False),
        sa.Column("subject_kind", sa.String(length=20), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("partner_id", sa.Uuid(), nullable=True),
        sa.Column("tag", sa.String(length=100), nullable=False),
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", services.common.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["funder_id"], ["funders.id"], name=op.f("fk_tags_funder_id_funders")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tags")),
        sa.UniqueConstraint(
            "funder_id",
            "subject_kind",
            "subject_id",
            "key",
            name=op.f("uq_tags_funder_id_subject_kind_subject_id_key"),
        ),
    )
    op.create_index("ix_tags_funder_key", "tags", ["funder_id", "key"])
    op.create_index("ix_tags_subject", "tags", ["subject_kind", "subject_id"])
    op.create_table(
        "learning_notes",
        sa.Column("funder_id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("written_by", sa.String(length=200), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", services.common.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", services.common.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["funder_id"], ["funders.id"], name=op.f("fk_learning_notes_funder_id_funders")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_learning_notes")),
    )
    op.create_index(
        "ix_learning_notes_funder_created", "learning_notes", ["funder_id", "created_at"]
    )
    op.create_table(
        "learning_note_sources",
        sa.Column("note_id", sa.Uuid(), nullable=False),
        sa.Column("source_kind", sa.String(length=20), nullable=False),
        sa.Column("source_id", sa.Uuid(), nullable=False),
        sa.Column("partner_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["note_id"],
            ["learning_notes.id"],
            name=op.f("fk_learning_note_sources_note_id_learning_notes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "note_id", "source_kind", "source_id", name=op.f("pk_learning_note_sources")
        ),
    )
    op.create_index(
        "ix_learning_note_sources_source",
        "learning_note_sources",
        ["source_kind", "source_id"],
    )


def _postgresql() -> None:
    sets = (
        "update_id = s.update_id, thread_id = s.thread_id, partner_id = s.partner_id, "
        "funder_id = s.funder_id, private = s.private, at = s.at, title = s.title, body = s.body"
    )
    for table, (kind, values) in _sources("postgresql").items():
        select = f"SELECT '{kind}', {values}"
        op.execute(
            f"""
            CREATE FUNCTION search_sync_{table}() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF TG_OP = 'DELETE' THEN
                    DELETE FROM search_entries WHERE kind = '{kind}' AND source_id = OLD.id;
                    RETURN OLD;
                END IF;
                IF TG_OP = 'INSERT' THEN
                    INSERT INTO search_entries ({COLUMNS}) {select};
                ELSE
                    UPDATE search_entries e SET {sets}
                    FROM ({select}) AS s(kind, source_id, update_id, thread_id, partner_id,
                                         funder_id, private, at, title, body)
                    WHERE e.kind = '{kind}' AND e.source_id = NEW.id;
                END IF;
                RETURN NEW;
            END
            $$;
            """
        )
        op.execute(
            f"CREATE TRIGGER search_sync AFTER INSERT OR UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION search_sync_{table}()"
        )


def _sqlite() -> None:
    for table, (kind, values) in _sources("sqlite").items():
        select = f"SELECT '{kind}', {values}"
        op.execute(
            f"CREATE TRIGGER search_sync_{table}_ai AFTER INSERT ON {table} BEGIN "
            f"INSERT INTO search_entries ({COLUMNS}) {select}; END"
        )
        op.execute(
            f"CREATE TRIGGER search_sync_{table}_ad AFTER DELETE ON {table} BEGIN "
            f"DELETE FROM search_entries WHERE kind = '{kind}' AND source_id = OLD.id; END"
        )
        op.execute(
            f"CREATE TRIGGER search_sync_{table}_au AFTER UPDATE ON {table} BEGIN "
            f"DELETE FROM search_entries WHERE kind = '{kind}' AND source_id = OLD.id; "
            f"INSERT INTO search_entries ({COLUMNS}) {select}; END"
        )


def upgrade() -> None:
    _tables()
    if op.get_bind().dialect.name == "postgresql":
        _postgresql()
    else:
        _sqlite()


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for table, (kind, _) in _sources(dialect).items():
        if dialect == "postgresql":
            op.execute(f"DROP TRIGGER IF EXISTS search_sync ON {table}")
            op.execute(f"DROP FUNCTION IF EXISTS search_sync_{table}()")
        else:
            for suffix in ("ai", "ad", "au"):
                op.execute(f"DROP TRIGGER IF EXISTS search_sync_{table}_{suffix}")
        op.execute(f"DELETE FROM search_entries WHERE kind = '{kind}'")
    op.drop_table("learning_note_sources")
    op.drop_table("learning_notes")
    op.drop_table("tags")
    op.drop_table("thread_message_copies")
    op.drop_index("ix_search_entries_thread", table_name="search_entries")
    op.drop_column("search_entries", "thread_id")
