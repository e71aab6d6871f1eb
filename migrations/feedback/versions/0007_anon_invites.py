"""anon-invites: a round's audience (active, ended, chosen organisations, a pool's partners)
and the end-of-grant round offered when grants complete; facts for the funder's measures of
days to a decision and updates replied to within the promised time

Revision ID: 0007_anon_invites
Revises: 0003_runtime_robustness
Create Date: 2026-11-28 04:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_anon_invites"
down_revision: str | None = "0003_runtime_robustness"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("rounds", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("audience", sa.String(length=20), server_default="active", nullable=False)
        )
        batch_op.add_column(sa.Column("pool_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("origin", sa.String(length=30), nullable=True))
    op.create_index(
        "uq_rounds_offered_draft",
        "rounds",
        ["funder_id", "origin"],
        unique=True,
        sqlite_where=sa.text("status = 'draft' AND origin IS NOT NULL"),
        postgresql_where=sa.text("status = 'draft' AND origin IS NOT NULL"),
    )
    op.create_table(
        "round_chosen_partners",
        sa.Column("round_id", sa.Uuid(), nullable=False),
        sa.Column("partner_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["round_id"], ["rounds.id"], name=op.f("fk_round_chosen_partners_round_id_rounds")
        ),
        sa.PrimaryKeyConstraint("round_id", "partner_id", name=op.f("pk_round_chosen_partners")),
    )
    op.create_table(
        "received_update_facts",
        sa.Column("update_id", sa.Uuid(), nullable=False),
        sa.Column("funder_id", sa.Uuid(), nullable=False),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("update_id", name=op.f("pk_received_update_facts")),
    )
    op.create_index(
        op.f("ix_received_update_facts_funder_id"),
        "received_update_facts",
        ["funder_id"],
        unique=False,
    )
    op.create_table(
        "decision_facts",
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("funder_id", sa.Uuid(), nullable=False),
        sa.Column("requested_on", sa.Date(), nullable=False),
        sa.Column("decided_on", sa.Date(), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("subject_id", name=op.f("pk_decision_facts")),
    )
    op.create_index(
        op.f("ix_decision_facts_funder_id"), "decision_facts", ["funder_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_decision_facts_funder_id"), table_name="decision_facts")
    op.drop_table("decision_facts")
    op.drop_index(op.f("ix_received_update_facts_funder_id"), table_name="received_update_facts")
    op.drop_table("received_update_facts")
    op.drop_table("round_chosen_partners")
    op.drop_index("uq_rounds_offered_draft", table_name="rounds")
    with op.batch_alter_table("rounds", schema=None) as batch_op:
        batch_op.drop_column("origin")
        batch_op.drop_column("pool_id")
        batch_op.drop_column("audience")
