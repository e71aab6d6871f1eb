"""audit entries say whose record they are about, so that a funder's staff can read them

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

from services.common.audit_migration import add_tenant_columns, backfill, drop_tenant_columns

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OWNERS = {
    "grant": ("grants", "funder_id", None),
    "instalment": ("instalments", "funder_id", None),
    "pool": ("pools", "host_funder_id", None),
    "pool_proposal": ("pool_proposals", "proposed_by_funder_id", None),
}


def upgrade() -> None:
    add_tenant_columns()
    backfill(OWNERS)


def downgrade() -> None:
    drop_tenant_columns()
