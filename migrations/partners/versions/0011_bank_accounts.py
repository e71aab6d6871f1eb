"""bank accounts of partner organisations (encrypted, held, confirmed) and their notices

Revision ID: 0010_bank_accounts
Revises: 0009_search
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import services.common.db

revision: str = "0010_bank_accounts"
down_revision: str | None = "0009_search"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "bank_accounts",
        sa.Column("partner_id", sa.Uuid(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("key_id", sa.String(length=40), nullable=False),
        sa.Column("ciphertext", sa.Text(), nullable=False),
        sa.Column("held_until", services.common.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("entered_by", sa.String(length=200), nullable=False),
        sa.Column("confirmed_by", sa.String(length=200), nullable=True),
        sa.Column("confirmed_by_funder_id", sa.Uuid(), nullable=True),
        sa.Column("confirmed_at", services.common.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("confirmation_note", sa.String(length=500), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", services.common.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", services.common.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partners.id"], name=op.f("fk_bank_accounts_partner_id_partners")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bank_accounts")),
    )
    op.create_index("ix_bank_accounts_partner_state", "bank_accounts", ["partner_id", "state"])
    op.create_table(
        "bank_notices",
        sa.Column("partner_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("created_at", services.common.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partners.id"], name=op.f("fk_bank_notices_partner_id_partners")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bank_notices")),
    )
    op.create_index(op.f("ix_bank_notices_partner_id"), "bank_notices", ["partner_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_bank_notices_partner_id"), table_name="bank_notices")
    op.drop_table("bank_notices")
    op.drop_index("ix_bank_accounts_partner_state", table_name="bank_accounts")
    op.drop_table("bank_accounts")
