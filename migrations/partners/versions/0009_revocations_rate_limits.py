"""revocations and rate-limit counters

``revocations``: revoked grants (clients, sessions, memberships, subjects), polled
by every service so a revoked token is refused within seconds.
``rate_limit_counters``: failed-attempt counters of the token endpoint and the
sign-in page, shared by replicas (when Redis is not configured).

Revision ID: 0008_revocations
Revises: 0003_runtime_robustness
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import services.common.db

revision: str = "0008_revocations"
down_revision: str | None = "0003_runtime_robustness"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "revocations",
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("revoked_at", services.common.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_by", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_revocations")),
    )
    op.create_index(op.f("ix_revocations_key"), "revocations", ["key"], unique=False)
    op.create_index("ix_revocations_revoked_at", "revocations", ["revoked_at"], unique=False)
    op.create_table(
        "rate_limit_counters",
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_rate_limit_counters")),
    )
    op.create_index(
        op.f("ix_rate_limit_counters_expires_at"),
        "rate_limit_counters",
        ["expires_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_rate_limit_counters_expires_at"), table_name="rate_limit_counters")
    op.drop_table("rate_limit_counters")
    op.drop_index("ix_revocations_revoked_at", table_name="revocations")
    op.drop_index(op.f("ix_revocations_key"), table_name="revocations")
    op.drop_table("revocations")
