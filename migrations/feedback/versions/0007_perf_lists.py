"""result summaries: a closed round's figures per commitment and kind, written when it
closes, so results read a few rows instead of every rating; closed and published rounds
get theirs here

Revision ID: 0007_perf_lists
Revises: 0007_anon_invites
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_perf_lists"
down_revision: str | None = "0007_anon_invites"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCORES = range(1, 6)


def _ratings(name: str) -> sa.TableClause:
    return sa.table(
        name,
        sa.column("round_id", sa.Uuid()),
        sa.column("commitment_id", sa.Uuid()),
        sa.column("score", sa.SmallInteger()),
    )


def upgrade() -> None:
    summaries = op.create_table(
        "result_summaries",
        sa.Column("round_id", sa.Uuid(), nullable=False),
        sa.Column("commitment_id", sa.Uuid(), nullable=False),
        sa.Column("anonymous", sa.Boolean(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("rated", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        *[sa.Column(f"s{i}", sa.Integer(), nullable=False) for i in SCORES],
        sa.PrimaryKeyConstraint(
            "round_id", "commitment_id", "anonymous", name=op.f("pk_result_summaries")
        ),
    )
    rounds = sa.table("rounds", sa.column("id", sa.Uuid()), sa.column("status", sa.String()))
    closed = sa.select(rounds.c.id).where(rounds.c.status.in_(("closed", "published")))
    parts = []
    for table, anonymous in (
        (_ratings("ratings"), sa.false()),
        (_ratings("anonymous_ratings"), sa.true()),
    ):
        parts.append(
            sa.select(
                table.c.round_id,
                table.c.commitment_id,
                table.c.score,
                anonymous.label("anonymous"),
            ).where(table.c.round_id.in_(closed))
        )
    ratings = sa.union_all(*parts).subquery("all_ratings")
    figures = sa.select(
        ratings.c.round_id,
        ratings.c.commitment_id,
        ratings.c.anonymous,
        sa.func.count(),
        sa.func.count(ratings.c.score),
        sa.func.coalesce(sa.func.sum(ratings.c.score), 0),
        *[sa.func.count().filter(ratings.c.score == i) for i in SCORES],
    ).group_by(ratings.c.round_id, ratings.c.commitment_id, ratings.c.anonymous)
    names = ["round_id", "commitment_id", "anonymous", "n", "rated", "total"]
    op.execute(summaries.insert().from_select([*names, *[f"s{i}" for i in SCORES]], figures))


def downgrade() -> None:
    op.drop_table("result_summaries")
