"""The migration step every service takes to make its audit entries readable by their owners.

``add_tenant_columns`` adds ``funder_id`` and ``partner_id`` to the kit's ``audit_log``
table; ``backfill`` fills them for entries already written, from the record each entry is
about (``OWNERS`` of that service: the table of each entity type, and which of its
columns name the funder and the organisation the record belongs to).
"""

import uuid
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from alembic import op

#: entity type -> (table, column naming the funder, column naming the organisation).
Owners = Mapping[str, tuple[str, str | None, str | None]]


def add_tenant_columns() -> None:
    with op.batch_alter_table("audit_log") as batch:
        batch.add_column(sa.Column("funder_id", sa.Uuid(), nullable=True))
        batch.add_column(sa.Column("partner_id", sa.Uuid(), nullable=True))
        batch.create_index(
            "ix_audit_log_funder_occurred", ["funder_id", "occurred_at", "id"], unique=False
        )
        batch.create_index(
            "ix_audit_log_partner_occurred", ["partner_id", "occurred_at", "id"], unique=False
        )


def drop_tenant_columns() -> None:
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_index("ix_audit_log_partner_occurred")
        batch.drop_index("ix_audit_log_funder_occurred")
        batch.drop_column("partner_id")
        batch.drop_column("funder_id")


def _as_uuid(value: Any) -> uuid.UUID | None:
    if value is None:
        return None
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except ValueError:
        return None


def backfill(owners: Owners, *, batch_size: int = 500) -> None:
    """Fill the owners of existing entries from the records they are about."""
    bind = op.get_bind()
    audit = sa.table(
        "audit_log",
        sa.column("id", sa.Uuid()),
        sa.column("entity_type", sa.String()),
        sa.column("entity_id", sa.String()),
        sa.column("funder_id", sa.Uuid()),
        sa.column("partner_id", sa.Uuid()),
    )
    for entity_type, (table_name, funder_column, partner_column) in owners.items():
        columns = [sa.column("id", sa.Uuid())]
        if funder_column and funder_column != "id":
            columns.append(sa.column(funder_column, sa.Uuid()))
        if partner_column and partner_column != "id":
            columns.append(sa.column(partner_column, sa.Uuid()))
        table = sa.table(table_name, *columns)
        entries = bind.execute(
            sa.select(audit.c.id, audit.c.entity_id).where(audit.c.entity_type == entity_type)
        ).fetchall()
        for start in range(0, len(entries), batch_size):
            chunk = entries[start : start + batch_size]
            ids = {e.id: _as_uuid(e.entity_id) for e in chunk}
            wanted = [i for i in ids.values() if i is not None]
            rows = {
                row.id: row._mapping
                for row in bind.execute(sa.select(*table.c).where(table.c.id.in_(wanted)))
            }
            for entry_id, record_id in ids.items():
                row = rows.get(record_id)
                if row is None:
                    continue
                values = {}
                if funder_column:
                    values["funder_id"] = row[funder_column]
                if partner_column:
                    values["partner_id"] = row[partner_column]
                bind.execute(sa.update(audit).where(audit.c.id == entry_id).values(**values))
