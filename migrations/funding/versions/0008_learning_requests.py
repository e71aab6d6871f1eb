"""grant requests: a partner asks for a change to its grant; the funder decides

Revision ID: 0008_learning
Revises: 0008_notifications
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import services.common.db

revision: str = "0008_learning"
down_revision: str | None = "0008_notifications"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "grant_requests",
        sa.Column("grant_id", sa.Uuid(), nullable=False),
        sa.Column("funder_id", sa.Uuid(), nullable=False),
        sa.Column("partner_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("reasons", sa.Text(), nullable=False),
        sa.Column("requested_by", sa.String(length=200), nullable=False),
        sa.Column("requested_at", services.common.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("reply", sa.Text(), nullable=True),
        sa.Column("decided_at", services.common.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=200), nullable=True),
        sa.Column("variation_id", sa.Uuid(), nullable=True),
        sa.Column("days_to_decision", sa.Integer(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", services.common.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", services.common.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["grant_id"], ["grants.id"], name=op.f("fk_grant_requests_grant_id_grants")
        ),
        sa.ForeignKeyConstraint(
            ["variation_id"],
            ["variations.id"],
            name=op.f("fk_grant_requests_variation_id_variations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grant_requests")),
    )
    op.create_index(
        "ix_grant_requests_funder_requested",
        "grant_requests",
        ["funder_id", "requested_at", "id"],
    )
    op.create_index(
        "ix_grant_requests_partner_requested",
        "grant_requests",
        ["partner_id", "requested_at", "id"],
    )
    op.create_index("ix_grant_requests_grant", "grant_requests", ["grant_id"])


def downgrade() -> None:
    op.drop_table("grant_requests")
