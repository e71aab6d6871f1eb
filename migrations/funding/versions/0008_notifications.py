"""notifications: instalments remember when ``instalment.due_soon`` was announced

Revision ID: 0008_notifications
Revises: 0007_finance
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import services.common.db

revision: str = "0008_notifications"
down_revision: str | None = "0007_finance"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("instalments") as batch:
        batch.add_column(
            sa.Column(
                "due_soon_notified_at",
                services.common.db.UTCDateTime(timezone=True),
                nullable=True,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("instalments") as batch:
        batch.drop_column("due_soon_notified_at")
