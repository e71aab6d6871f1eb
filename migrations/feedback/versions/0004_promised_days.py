"""commitments: the days a funder promises (e.g. replies within 14 days)

Revision ID: 0004_promised_days
Revises: 0003_anonymous_ballots
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_promised_days"
down_revision: str | None = "0003_anonymous_ballots"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("commitments") as batch:
        batch.add_column(sa.Column("promised_days", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("commitments") as batch:
        batch.drop_column("promised_days")
