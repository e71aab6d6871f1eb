"""list versions: a counter per listed table, bumped by triggers on every change, so deep
list pages can seek from cached anchors and large lists keep exact totals

Revision ID: 0008_perf_lists
Revises: 0008_learning
"""

from collections.abc import Sequence

from services.common.list_migration import add_list_versions, drop_list_versions

revision: str = "0008_perf_lists"
down_revision: str | None = "0008_learning"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("grants",)


def upgrade() -> None:
    add_list_versions(TABLES, create_table=True)


def downgrade() -> None:
    drop_list_versions(TABLES, drop_table=True)
