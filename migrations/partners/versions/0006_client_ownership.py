"""client ownership: an organisation's API clients work once its own people keep them

Clients registered before organisations owned their clients (a funder's staff could
register one for any partner) are kept but unconfirmed: their token requests are
refused until a person of the organisation confirms the client, or revokes it.
Clients the organisation's own people register from now on are confirmed at once.

Revision ID: 0004_client_ownership
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import services.common.db

revision: str = "0004_client_ownership"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("api_clients") as batch:
        batch.add_column(
            sa.Column("confirmed_at", services.common.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch.add_column(sa.Column("confirmed_by", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("api_clients") as batch:
        batch.drop_column("confirmed_by")
        batch.drop_column("confirmed_at")
