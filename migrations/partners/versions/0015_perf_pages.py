"""list versions of partners' updates, their replies and timelines (lists that grow with
every partner's years), so their deep pages seek from anchors and large totals stay exact;
their sort indexes end with the id, the tie-break every page orders by and seeks on

Revision ID: 0015_perf_pages
Revises: 0013_money_records
"""

from collections.abc import Sequence

from alembic import op

from services.common.list_migration import add_list_versions, drop_list_versions

revision: str = "0015_perf_pages"
down_revision: str | None = "0013_money_records"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("updates", "update_replies", "timeline_entries", "timeline_grant_funders")
# (table, old index, new index, columns of the new one)
INDEXES = (
    ("updates", "ix_updates_funder_sent", "ix_updates_funder_sent_id", "funder_id sent_at"),
    ("updates", "ix_updates_partner_sent", "ix_updates_partner_sent_id", "partner_id sent_at"),
    ("updates", None, "ix_updates_funder_activity", "funder_id last_activity_at"),
    (
        "update_replies",
        "ix_update_replies_update_created",
        "ix_update_replies_update_created_id",
        "update_id created_at",
    ),
    (
        "timeline_entries",
        "ix_timeline_entries_partner_occurred",
        "ix_timeline_entries_partner_occurred_id",
        "partner_id occurred_at",
    ),
)


def upgrade() -> None:
    add_list_versions(TABLES, create_table=True)
    for table, old, new, columns in INDEXES:
        op.create_index(new, table, [*columns.split(), "id"])
        if old:
            op.drop_index(old, table_name=table)


def downgrade() -> None:
    for table, old, new, columns in INDEXES:
        if old:
            op.create_index(old, table, columns.split())
        op.drop_index(new, table_name=table)
    drop_list_versions(TABLES, drop_table=True)
