"""ownership: organisations are claimed by their own people; relationships record sharing

Existing organisations become unclaimed, added by the funder whose relationship with
them is the oldest; that funder's relationship shares (it entered the data), and any
other funder linked by org-id waits for the organisation to accept it.

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import services.common.db

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("partners") as batch:
        batch.add_column(
            sa.Column("claimed_at", services.common.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch.add_column(sa.Column("added_by_funder_id", sa.Uuid(), nullable=True))
        batch.create_foreign_key(
            "fk_partners_added_by_funder_id_funders", "funders", ["added_by_funder_id"], ["id"]
        )
    with op.batch_alter_table("relationships") as batch:
        batch.add_column(
            sa.Column("sharing", sa.String(length=20), nullable=False, server_default="pending")
        )
        batch.add_column(
            sa.Column(
                "sharing_changed_at", services.common.db.UTCDateTime(timezone=True), nullable=True
            )
        )
    first = sa.text(
        "SELECT r.funder_id FROM relationships r WHERE r.partner_id = partners.id "
        "ORDER BY r.created_at, r.id LIMIT 1"
    )
    op.execute(f"UPDATE partners SET added_by_funder_id = ({first})")
    op.execute(
        "UPDATE relationships SET sharing = 'accepted' WHERE funder_id = "
        "(SELECT p.added_by_funder_id FROM partners p WHERE p.id = relationships.partner_id)"
    )


def downgrade() -> None:
    with op.batch_alter_table("relationships") as batch:
        batch.drop_column("sharing_changed_at")
        batch.drop_column("sharing")
    with op.batch_alter_table("partners") as batch:
        batch.drop_constraint("fk_partners_added_by_funder_id_funders", type_="foreignkey")
        batch.drop_column("added_by_funder_id")
        batch.drop_column("claimed_at")
