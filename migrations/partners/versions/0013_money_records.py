"""memberships carry capabilities (finance, trustee, staff_admin) and a decision limit

Revision ID: 0013_money_records
Revises: 0014_learning_gatherings
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_money_records"
down_revision: str | None = "0014_learning_gatherings"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("memberships") as batch:
        batch.add_column(
            sa.Column("capabilities", sa.JSON(), server_default=sa.text("'[]'"), nullable=False)
        )
        batch.add_column(sa.Column("decision_limit", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("decision_limit_currency", sa.String(length=3), nullable=True))
        batch.add_column(
            sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("memberships") as batch:
        batch.drop_column("version")
        batch.drop_column("decision_limit_currency")
        batch.drop_column("decision_limit")
        batch.drop_column("capabilities")
