"""list versions of partners' updates, their replies and timelines (lists that grow with
every partner's years), so their deep pages seek from anchors and large totals stay exact

Revision ID: 0015_perf_pages
Revises: 0013_money_records
"""

from collections.abc import Sequence

from services.common.list_migration import add_list_versions, drop_list_versions

revision: str = "0015_perf_pages"
down_revision: str | None = "0013_money_records"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("updates", "update_replies", "timeline_entries", "timeline_grant_funders")


def upgrade() -> None:
    add_list_versions(TABLES, create_table=True)


def downgrade() -> None:
    drop_list_versions(TABLES, drop_table=True)
