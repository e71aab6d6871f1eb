"""result releases: a closed round's results serialised once when it closes, so reading
them is one row; rounds closed before keep being read from their summaries

Revision ID: 0008_perf_export
Revises: 0007_perf_lists
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_perf_export"
down_revision: str | None = "0007_perf_lists"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "result_releases",
        sa.Column("round_id", sa.Uuid(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("round_id", name=op.f("pk_result_releases")),
    )


def downgrade() -> None:
    op.drop_table("result_releases")
