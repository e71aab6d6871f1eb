"""list by id: react-admin's default sort (id) keeps deep pages cheap on the big lists

Every funder-scoped list of grants, instalments, payments and variations can be sorted
by ``id`` (react-admin's ``<List>`` default). An index on (funder_id, id) lets a cursor
page, or the first pages of a range, start where they should instead of sorting the
funder's whole table.

Revision ID: 0004_list_by_id
Revises: 0004
Create Date: 2026-11-28 01:50:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004_list_by_id"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = {
    "ix_grants_funder_id": "grants",
    "ix_instalments_funder_id": "instalments",
    "ix_payments_funder_id": "payments",
    "ix_variations_funder_id": "variations",
}


def upgrade() -> None:
    for name, table in INDEXES.items():
        op.create_index(name, table, ["funder_id", "id"])


def downgrade() -> None:
    for name, table in INDEXES.items():
        op.drop_index(name, table_name=table)
