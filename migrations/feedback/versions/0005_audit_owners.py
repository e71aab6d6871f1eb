"""audit entries say whose record they are about, so that funder and organisation can read them

Entries about responses are left without an owner: whose answer it was is not written
anywhere that a funder reads (see the feedback service's threat model).

Revision ID: 0005_audit_owners
Revises: 0004_promised_days
"""

from collections.abc import Sequence

from services.common.audit_migration import add_tenant_columns, backfill, drop_tenant_columns

revision: str = "0005_audit_owners"
down_revision: str | None = "0004_promised_days"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OWNERS = {
    "commitment": ("commitments", "funder_id", None),
    "round": ("rounds", "funder_id", None),
    "action": ("actions", "funder_id", None),
    "thread": ("threads", "funder_id", "partner_id"),
}


def upgrade() -> None:
    add_tenant_columns()
    backfill(OWNERS)


def downgrade() -> None:
    drop_tenant_columns()
