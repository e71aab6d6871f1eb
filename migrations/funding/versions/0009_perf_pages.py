"""list versions of instalments and payments (lists that grow with every grant's years),
so their deep pages seek from anchors like grants'; the bump at commit now locks every
changed table's counter at once, in name order

Revision ID: 0009_perf_pages
Revises: 0008_perf_lists
"""

from collections.abc import Sequence

from services.common.list_migration import add_list_versions, drop_list_versions

revision: str = "0009_perf_pages"
down_revision: str | None = "0008_perf_lists"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("instalments", "payments")


def upgrade() -> None:
    add_list_versions(TABLES, create_table=False)


def downgrade() -> None:
    drop_list_versions(TABLES, drop_table=False)
