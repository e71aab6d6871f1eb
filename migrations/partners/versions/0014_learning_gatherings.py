"""gatherings: events with many partners, who was invited and who came

Revision ID: 0014_learning_gatherings
Revises: 0013_learning
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import services.common.db

revision: str = "0014_learning_gatherings"
down_revision: str | None = "0013_learning"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "gatherings",
        sa.Column("funder_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("held_at", services.common.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("place", sa.String(length=300), nullable=True),
        sa.Column("shared_notes", sa.Text(), nullable=True),
        sa.Column("private_notes", sa.Text(), nullable=True),
        sa.Column("recorded_by", sa.String(length=200), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", services.common.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", services.common.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["funder_id"], ["funders.id"], name=op.f("fk_gatherings_funder_id_funders")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gatherings")),
    )
    op.create_index("ix_gatherings_funder_held", "gatherings", ["funder_id", "held_at"])
    op.create_table(
        "gathering_invitees",
        sa.Column("gathering_id", sa.Uuid(), nullable=False),
        sa.Column("partner_id", sa.Uuid(), nullable=False),
        sa.Column("attended", sa.Boolean(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["gathering_id"],
            ["gatherings.id"],
            name=op.f("fk_gathering_invitees_gathering_id_gatherings"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["partners.id"],
            name=op.f("fk_gathering_invitees_partner_id_partners"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gathering_invitees")),
        sa.UniqueConstraint(
            "gathering_id", "partner_id", name=op.f("uq_gathering_invitees_gathering_id_partner_id")
        ),
    )
    op.create_index("ix_gathering_invitees_partner", "gathering_invitees", ["partner_id"])


def downgrade() -> None:
    op.drop_table("gathering_invitees")
    op.drop_table("gatherings")
