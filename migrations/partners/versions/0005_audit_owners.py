"""audit entries say whose record they are about, so that funder and organisation can read them

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

from services.common.audit_migration import add_tenant_columns, backfill, drop_tenant_columns

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OWNERS = {
    "funder": ("funders", "id", None),
    "partner": ("partners", "added_by_funder_id", "id"),
    "relationship": ("relationships", "funder_id", None),
    "interaction": ("interactions", "funder_id", None),
    "document": ("documents", "funder_id", "partner_id"),
    "contact": ("contacts", None, "partner_id"),
    "api_client": ("api_clients", None, "partner_id"),
    "update": ("updates", "funder_id", "partner_id"),
}


def upgrade() -> None:
    add_tenant_columns()
    backfill(OWNERS)


def downgrade() -> None:
    drop_tenant_columns()
