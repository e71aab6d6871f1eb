"""finance: financial year and approval limit, budgets, the planned pipeline of proposals,
payment runs (their lines and the claims that keep an instalment in one open run)

Revision ID: 0007_finance
Revises: 0004_runtime_robustness
"""

import calendar
from collections.abc import Sequence
from datetime import date, timedelta

import sqlalchemy as sa
from alembic import op

import services.common.db

revision: str = "0007_finance"
down_revision: str | None = "0004_runtime_robustness"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamps() -> list[sa.Column]:
    return [
        sa.Column("created_at", services.common.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", services.common.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "finance_settings",
        sa.Column("funder_id", sa.Uuid(), nullable=False),
        sa.Column("year_start_month", sa.Integer(), nullable=False),
        sa.Column("approval_limit", sa.BigInteger(), nullable=True),
        sa.Column("approval_limit_currency", sa.String(length=3), nullable=True),
        sa.Column("debtor_name", sa.String(length=140), nullable=True),
        sa.Column("debtor_iban", sa.String(length=34), nullable=True),
        sa.Column("debtor_bic", sa.String(length=11), nullable=True),
        *_timestamps(),
        sa.PrimaryKeyConstraint("funder_id", name=op.f("pk_finance_settings")),
    )
    op.create_table(
        "budgets",
        sa.Column("funder_id", sa.Uuid(), nullable=False),
        sa.Column("financial_year", sa.Integer(), nullable=False),
        sa.Column("pool_id", sa.Uuid(), nullable=True),
        sa.Column("scope", sa.String(length=40), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("notes", sa.String(length=2000), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_budgets")),
        sa.UniqueConstraint(
            "funder_id",
            "financial_year",
            "scope",
            "currency",
            name=op.f("uq_budgets_funder_id_financial_year_scope_currency"),
        ),
    )
    op.create_index("ix_budgets_funder_year", "budgets", ["funder_id", "financial_year", "id"])
    planned = op.create_table(
        "planned_instalments",
        sa.Column("grant_id", sa.Uuid(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("funder_id", sa.Uuid(), nullable=False),
        sa.Column("partner_id", sa.Uuid(), nullable=False),
        sa.Column("pool_id", sa.Uuid(), nullable=True),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.ForeignKeyConstraint(
            ["grant_id"],
            ["grants.id"],
            name=op.f("fk_planned_instalments_grant_id_grants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("grant_id", "sequence", name=op.f("pk_planned_instalments")),
    )
    op.create_index(
        "ix_planned_instalments_funder_due", "planned_instalments", ["funder_id", "due_date"]
    )
    _plan_proposals(planned)
    op.create_table(
        "payment_runs",
        sa.Column("funder_id", sa.Uuid(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("due_by", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("payment_count", sa.Integer(), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.Column("prepared_by", sa.String(length=200), nullable=False),
        sa.Column("approved_by", sa.String(length=200), nullable=True),
        sa.Column("approved_at", services.common.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("paid_on", sa.Date(), nullable=True),
        sa.Column("paid_by", sa.String(length=200), nullable=True),
        sa.Column("cancelled_by", sa.String(length=200), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_runs")),
    )
    op.create_index(
        "ix_payment_runs_funder_created", "payment_runs", ["funder_id", "created_at", "id"]
    )
    op.create_table(
        "payment_run_items",
        sa.Column("run_id", sa.Uuid(), nullable=False),
        sa.Column("instalment_id", sa.Uuid(), nullable=False),
        sa.Column("grant_id", sa.Uuid(), nullable=False),
        sa.Column("partner_id", sa.Uuid(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["payment_runs.id"],
            name=op.f("fk_payment_run_items_run_id_payment_runs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["instalment_id"],
            ["instalments.id"],
            name=op.f("fk_payment_run_items_instalment_id_instalments"),
        ),
        sa.PrimaryKeyConstraint("run_id", "instalment_id", name=op.f("pk_payment_run_items")),
    )
    op.create_table(
        "payment_run_claims",
        sa.Column("instalment_id", sa.Uuid(), nullable=False),
        sa.Column("run_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["instalment_id"],
            ["instalments.id"],
            name=op.f("fk_payment_run_claims_instalment_id_instalments"),
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["payment_runs.id"],
            name=op.f("fk_payment_run_claims_run_id_payment_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("instalment_id", name=op.f("pk_payment_run_claims")),
    )
    op.create_index(op.f("ix_payment_run_claims_run_id"), "payment_run_claims", ["run_id"])


def _add_months(start: date, months: int) -> date:
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def _plan_proposals(planned: sa.Table) -> None:
    """Proposed grants made before this revision get their planned default schedule (the
    same rule as services.funding.grants.schedule, copied so the migration stands alone)."""
    grants = sa.table(
        "grants",
        sa.column("id", sa.Uuid()),
        sa.column("funder_id", sa.Uuid()),
        sa.column("partner_id", sa.Uuid()),
        sa.column("pool_id", sa.Uuid()),
        sa.column("amount_awarded", sa.BigInteger()),
        sa.column("currency", sa.String()),
        sa.column("planned_start_date", sa.Date()),
        sa.column("planned_end_date", sa.Date()),
        sa.column("payment_frequency", sa.String()),
        sa.column("status", sa.String()),
    )
    bind = op.get_bind()
    rows = bind.execute(sa.select(grants).where(grants.c.status == "proposed")).all()
    lines = []
    for g in rows:
        step = {"monthly": 1, "quarterly": 3}.get(g.payment_frequency, 12)
        start, after = g.planned_start_date, g.planned_end_date + timedelta(days=1)
        months = (after.year - start.year) * 12 + (after.month - start.month)
        if _add_months(start, months) > after:
            months -= 1
        if _add_months(start, months) < after:
            months += 1
        count = max(1, -(-max(months, 0) // step))
        base, remainder = divmod(g.amount_awarded, count)
        for i in range(count):
            lines.append(
                {
                    "grant_id": g.id,
                    "sequence": i + 1,
                    "funder_id": g.funder_id,
                    "partner_id": g.partner_id,
                    "pool_id": g.pool_id,
                    "due_date": _add_months(start, step * i),
                    "amount": base + (remainder if i == 0 else 0),
                    "currency": g.currency,
                }
            )
    if lines:
        op.bulk_insert(planned, lines)


def downgrade() -> None:
    op.drop_index(op.f("ix_payment_run_claims_run_id"), table_name="payment_run_claims")
    op.drop_table("payment_run_claims")
    op.drop_table("payment_run_items")
    op.drop_index("ix_payment_runs_funder_created", table_name="payment_runs")
    op.drop_table("payment_runs")
    op.drop_index("ix_planned_instalments_funder_due", table_name="planned_instalments")
    op.drop_table("planned_instalments")
    op.drop_index("ix_budgets_funder_year", table_name="budgets")
    op.drop_table("budgets")
    op.drop_table("finance_settings")
