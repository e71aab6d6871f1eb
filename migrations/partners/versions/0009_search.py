"""search: one index of the narrative (updates, replies, interactions, documents' titles)

Each row of ``search_entries`` mirrors one searchable record, kept in step by
triggers on the source tables, so every write path (the API, imports, erasure)
updates the index in the same transaction. On PostgreSQL a generated
``search_vector`` (tsvector, GIN index) uses the ``trellis_search`` text search
configuration: English stemming, plus ``unaccent`` when the extension can be
created. On SQLite an external-content FTS5 table ``search_fts`` (porter stemming
over unicode61 with diacritics removed) follows ``search_entries`` by triggers.

Revision ID: 0009_search
Revises: 0008_revocations
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import services.common.db

revision: str = "0009_search"
down_revision: str | None = "0008_revocations"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# What each source table contributes: (kind, title, body, private, at, update_id, owners).
UPDATE_BODY = {
    "postgresql": "concat_ws(E'\\n', NEW.what_changed, NEW.what_we_learned, "
    "NEW.what_was_hard, NEW.want_you_to_know)",
    "sqlite": "trim(coalesce(NEW.what_changed, '') || char(10) || coalesce(NEW.what_we_learned, '')"
    " || char(10) || coalesce(NEW.what_was_hard, '') || char(10) || "
    "coalesce(NEW.want_you_to_know, ''), char(10))",
}

# (source table, kind, select list for the entry from NEW)
SOURCES = {
    "updates": (
        "update",
        "NEW.id, NEW.id, NEW.partner_id, NEW.funder_id, {false}, NEW.sent_at, '', {update_body}",
    ),
    "update_replies": (
        "reply",
        "NEW.id, NEW.update_id, u.partner_id, u.funder_id, {false}, NEW.created_at, '', NEW.body",
    ),
    "interactions": (
        "interaction",
        "NEW.id, {no_id}, NEW.partner_id, NEW.funder_id, NEW.private, NEW.occurred_at, NEW.kind, "
        "NEW.summary",
    ),
    "documents": (
        "document",
        "NEW.id, {no_id}, NEW.partner_id, NEW.funder_id, {false}, NEW.created_at, NEW.title, ''",
    ),
}
COLUMNS = "kind, source_id, update_id, partner_id, funder_id, private, at, title, body"


def _select(table: str, dialect: str) -> str:
    kind, values = SOURCES[table]
    false = "false" if dialect == "postgresql" else "0"
    no_id = "NULL::uuid" if dialect == "postgresql" else "NULL"
    values = values.format(false=false, no_id=no_id, update_body=UPDATE_BODY[dialect])
    tail = " FROM updates u WHERE u.id = NEW.update_id" if table == "update_replies" else ""
    return f"SELECT '{kind}', {values}{tail}"


def _postgresql() -> None:
    op.execute(
        """
        DO $$
        BEGIN
            CREATE EXTENSION IF NOT EXISTS unaccent;
        EXCEPTION WHEN OTHERS THEN
            RAISE NOTICE 'unaccent is not available: search will not fold accents';
        END
        $$;
        """
    )
    op.execute("CREATE TEXT SEARCH CONFIGURATION trellis_search (COPY = english)")
    op.execute(
        """
        DO $$
        BEGIN
            IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'unaccent') THEN
                ALTER TEXT SEARCH CONFIGURATION trellis_search
                    ALTER MAPPING FOR hword, hword_part, word WITH unaccent, english_stem;
            END IF;
        END
        $$;
        """
    )
    op.execute(
        "ALTER TABLE search_entries ADD COLUMN search_vector tsvector GENERATED ALWAYS AS ("
        "setweight(to_tsvector('trellis_search'::regconfig, title), 'A') || "
        "setweight(to_tsvector('trellis_search'::regconfig, body), 'B')) STORED"
    )
    op.execute(
        "CREATE INDEX ix_search_entries_search_vector ON search_entries USING gin (search_vector)"
    )
    for table, (kind, _) in SOURCES.items():
        select = _select(table, "postgresql")
        sets = (
            "update_id = s.update_id, partner_id = s.partner_id, funder_id = s.funder_id, "
            "private = s.private, at = s.at, title = s.title, body = s.body"
        )
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
                    FROM ({select}) AS s(kind, source_id, update_id, partner_id, funder_id,
                                         private, at, title, body)
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
    # A reply's owners follow its update's (an update's partner never changes today,
    # but erasure or a data fix that moves one keeps the replies' visibility right).
    op.execute(
        """
        CREATE FUNCTION search_sync_update_owners() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE search_entries SET partner_id = NEW.partner_id, funder_id = NEW.funder_id
            WHERE kind = 'reply' AND update_id = NEW.id;
            RETURN NEW;
        END
        $$;
        """
    )
    op.execute(
        "CREATE TRIGGER search_sync_owners AFTER UPDATE OF partner_id, funder_id ON updates "
        "FOR EACH ROW EXECUTE FUNCTION search_sync_update_owners()"
    )


def _sqlite() -> None:
    op.execute(
        "CREATE VIRTUAL TABLE search_fts USING fts5(title, body, content='search_entries', "
        "content_rowid='id', tokenize='porter unicode61 remove_diacritics 2')"
    )
    op.execute(
        "CREATE TRIGGER search_fts_ai AFTER INSERT ON search_entries BEGIN "
        "INSERT INTO search_fts(rowid, title, body) VALUES (NEW.id, NEW.title, NEW.body); END"
    )
    op.execute(
        "CREATE TRIGGER search_fts_ad AFTER DELETE ON search_entries BEGIN "
        "INSERT INTO search_fts(search_fts, rowid, title, body) "
        "VALUES ('delete', OLD.id, OLD.title, OLD.body); END"
    )
    op.execute(
        "CREATE TRIGGER search_fts_au AFTER UPDATE OF title, body ON search_entries BEGIN "
        "INSERT INTO search_fts(search_fts, rowid, title, body) "
        "VALUES ('delete', OLD.id, OLD.title, OLD.body); "
        "INSERT INTO search_fts(rowid, title, body) VALUES (NEW.id, NEW.title, NEW.body); END"
    )
    for table, (kind, _) in SOURCES.items():
        select = _select(table, "sqlite")
        op.execute(
            f"CREATE TRIGGER search_sync_{table}_ai AFTER INSERT ON {table} BEGIN "
            f"INSERT INTO search_entries ({COLUMNS}) {select}; END"
        )
        op.execute(
            f"CREATE TRIGGER search_sync_{table}_ad AFTER DELETE ON {table} BEGIN "
            f"DELETE FROM search_entries WHERE kind = '{kind}' AND source_id = OLD.id; END"
        )
        # An update is a delete and an insert of the entry: simple, and the FTS
        # triggers above follow.
        op.execute(
            f"CREATE TRIGGER search_sync_{table}_au AFTER UPDATE ON {table} BEGIN "
            f"DELETE FROM search_entries WHERE kind = '{kind}' AND source_id = OLD.id; "
            f"INSERT INTO search_entries ({COLUMNS}) {select}; END"
        )
    op.execute(
        "CREATE TRIGGER search_sync_update_owners AFTER UPDATE OF partner_id, funder_id "
        "ON updates BEGIN UPDATE search_entries SET partner_id = NEW.partner_id, "
        "funder_id = NEW.funder_id WHERE kind = 'reply' AND update_id = NEW.id; END"
    )


def upgrade() -> None:
    op.create_table(
        "search_entries",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            sa.Identity(),
            nullable=False,
        ),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("source_id", sa.Uuid(), nullable=False),
        sa.Column("update_id", sa.Uuid(), nullable=True),
        sa.Column("partner_id", sa.Uuid(), nullable=False),
        sa.Column("funder_id", sa.Uuid(), nullable=True),
        sa.Column("private", sa.Boolean(), nullable=False),
        sa.Column("at", services.common.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_search_entries")),
        sa.UniqueConstraint("kind", "source_id", name=op.f("uq_search_entries_kind_source_id")),
    )
    op.create_index("ix_search_entries_funder_at", "search_entries", ["funder_id", "at"])
    op.create_index("ix_search_entries_partner_at", "search_entries", ["partner_id", "at"])
    op.create_index("ix_search_entries_update", "search_entries", ["update_id"])
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        _postgresql()
    else:
        _sqlite()
    # Records written before this revision are indexed too.
    conn = op.get_bind()
    for table in SOURCES:
        select = _select(table, dialect).replace("NEW.", "n.")
        select = select.replace(" FROM updates u WHERE u.id = n.update_id", "")
        if table == "update_replies":
            select += f" FROM {table} n JOIN updates u ON u.id = n.update_id"
        else:
            select += f" FROM {table} n"
        conn.execute(sa.text(f"INSERT INTO search_entries ({COLUMNS}) {select}"))


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS search_sync_owners ON updates")
        op.execute("DROP FUNCTION IF EXISTS search_sync_update_owners()")
        for table in SOURCES:
            op.execute(f"DROP TRIGGER IF EXISTS search_sync ON {table}")
            op.execute(f"DROP FUNCTION IF EXISTS search_sync_{table}()")
        op.execute("DROP TEXT SEARCH CONFIGURATION IF EXISTS trellis_search")
    else:
        op.execute("DROP TRIGGER IF EXISTS search_sync_update_owners")
        for table in SOURCES:
            for suffix in ("ai", "ad", "au"):
                op.execute(f"DROP TRIGGER IF EXISTS search_sync_{table}_{suffix}")
        op.execute("DROP TABLE IF EXISTS search_fts")
    op.drop_table("search_entries")
