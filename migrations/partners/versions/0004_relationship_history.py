"""relationship history: every stage a relationship moved to, when, and who moved it

Existing relationships get their history back from the audit log (their creation
and every status change recorded there), or, where the audit log has nothing, one
row for the stage they are at now.

Revision ID: 0004
Revises: 0003
"""

import json
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime

import sqlalchemy as sa
from alembic import op

import services.common.db

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "relationship_changes",
        sa.Column("relationship_id", sa.Uuid(), nullable=False),
        sa.Column("funder_id", sa.Uuid(), nullable=False),
        sa.Column("partner_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("previous_status", sa.String(length=20), nullable=True),
        sa.Column("since", sa.Date(), nullable=False),
        sa.Column("changed_at", services.common.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("changed_by", sa.String(length=200), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["relationship_id"],
            ["relationships.id"],
            name=op.f("fk_relationship_changes_relationship_id_relationships"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_relationship_changes")),
    )
    op.create_index(
        "ix_relationship_changes_relationship",
        "relationship_changes",
        ["relationship_id", "changed_at", "id"],
        unique=False,
    )
    _backfill()


def _as_datetime(value: object) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    moment = datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _as_date(value: object) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _backfill() -> None:
    bind = op.get_bind()
    relationships = bind.execute(
        sa.text("SELECT id, funder_id, partner_id, status, since, created_at FROM relationships")
    ).fetchall()
    audit = sa.text(
        "SELECT occurred_at, actor, action, changes FROM audit_log "
        "WHERE entity_type = 'relationship' AND entity_id = :id ORDER BY occurred_at"
    )
    table = sa.table(
        "relationship_changes",
        sa.column("id", sa.Uuid()),
        sa.column("relationship_id", sa.Uuid()),
        sa.column("funder_id", sa.Uuid()),
        sa.column("partner_id", sa.Uuid()),
        sa.column("status", sa.String()),
        sa.column("previous_status", sa.String()),
        sa.column("since", sa.Date()),
        sa.column("changed_at", services.common.db.UTCDateTime(timezone=True)),
        sa.column("changed_by", sa.String()),
    )
    rows = []
    for rel in relationships:
        rel_id = rel.id if isinstance(rel.id, uuid.UUID) else uuid.UUID(str(rel.id))
        funder_id = (
            rel.funder_id if isinstance(rel.funder_id, uuid.UUID) else uuid.UUID(str(rel.funder_id))
        )
        partner_id = (
            rel.partner_id
            if isinstance(rel.partner_id, uuid.UUID)
            else uuid.UUID(str(rel.partner_id))
        )
        entries = bind.execute(audit, {"id": str(rel_id)}).fetchall()
        status: str | None = None
        for entry in entries:
            changes = (
                entry.changes
                if isinstance(entry.changes, dict)
                else json.loads(entry.changes or "{}")
            )
            new_status = changes.get("status")
            if entry.action not in {"create", "update"} or not new_status or new_status == status:
                continue
            rows.append(
                {
                    "id": uuid.uuid4(),
                    "relationship_id": rel_id,
                    "funder_id": funder_id,
                    "partner_id": partner_id,
                    "status": new_status,
                    "previous_status": status,
                    "since": _as_date(rel.since),
                    "changed_at": _as_datetime(entry.occurred_at),
                    "changed_by": str(entry.actor)[:200],
                }
            )
            status = new_status
        if status != rel.status:
            rows.append(
                {
                    "id": uuid.uuid4(),
                    "relationship_id": rel_id,
                    "funder_id": funder_id,
                    "partner_id": partner_id,
                    "status": rel.status,
                    "previous_status": status,
                    "since": _as_date(rel.since),
                    "changed_at": _as_datetime(rel.created_at),
                    "changed_by": "unknown",
                }
            )
    if rows:
        op.bulk_insert(table, rows)


def downgrade() -> None:
    op.drop_index("ix_relationship_changes_relationship", table_name="relationship_changes")
    op.drop_table("relationship_changes")
