"""runtime robustness: refused event deliveries are parked visibly; idempotency keys name
the process that holds them, so a restarted process frees the keys its crashed
incarnation held

Revision ID: 0003_runtime_robustness
Revises: 0004_people
Create Date: 2026-11-28 01:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import services.common.db

revision: str = "0003_runtime_robustness"
down_revision: str | None = "0004_people"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("dead_at", services.common.db.UTCDateTime(timezone=True), nullable=True)
        )
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("holder", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.drop_column("holder")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("dead_at")
