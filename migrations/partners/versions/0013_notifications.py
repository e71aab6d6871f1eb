"""notifications: people's choices, the notification outbox, reminder marks, rounds to remind

Revision ID: 0013_notifications
Revises: 0010_webhooks
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import services.common.db

revision: str = "0013_notifications"
down_revision: str | None = "0010_webhooks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = services.common.db.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "notification_settings",
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("unsubscribe_key", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_notification_settings_person_id_people")
        ),
        sa.PrimaryKeyConstraint("person_id", name=op.f("pk_notification_settings")),
    )
    op.create_table(
        "notification_preferences",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("notification", sa.String(length=40), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("frequency", sa.String(length=20), nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["people.id"],
            name=op.f("fk_notification_preferences_person_id_people"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_preferences")),
        sa.UniqueConstraint(
            "person_id",
            "notification",
            name=op.f("uq_notification_preferences_person_id_notification"),
        ),
    )
    op.create_index(
        op.f("ix_notification_preferences_person_id"),
        "notification_preferences",
        ["person_id"],
        unique=False,
    )
    op.create_table(
        "notifications",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("notification", sa.String(length=40), nullable=False),
        sa.Column("subject_key", sa.String(length=200), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("link", sa.String(length=500), nullable=False),
        sa.Column("frequency", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("due_at", UTC, nullable=False),
        sa.Column("lease_until", UTC, nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("sent_at", UTC, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_notifications_person_id_people")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
        sa.UniqueConstraint(
            "person_id",
            "notification",
            "subject_key",
            name=op.f("uq_notifications_person_id_notification_subject_key"),
        ),
    )
    op.create_index("ix_notifications_due", "notifications", ["status", "due_at"], unique=False)
    op.create_index(
        op.f("ix_notifications_person_id"), "notifications", ["person_id"], unique=False
    )
    op.create_table(
        "notification_marks",
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("marked_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("kind", "subject_id", name=op.f("pk_notification_marks")),
    )
    op.create_table(
        "notification_rounds",
        sa.Column("round_id", sa.Uuid(), nullable=False),
        sa.Column("funder_id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("closes_on", sa.Date(), nullable=False),
        sa.Column("partner_ids", sa.JSON(), nullable=False),
        sa.Column("closed_at", UTC, nullable=True),
        sa.PrimaryKeyConstraint("round_id", name=op.f("pk_notification_rounds")),
    )
    op.create_index(
        op.f("ix_notification_rounds_funder_id"),
        "notification_rounds",
        ["funder_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_table("notification_rounds")
    op.drop_table("notification_marks")
    op.drop_index(op.f("ix_notifications_person_id"), table_name="notifications")
    op.drop_index("ix_notifications_due", table_name="notifications")
    op.drop_table("notifications")
    op.drop_index(
        op.f("ix_notification_preferences_person_id"), table_name="notification_preferences"
    )
    op.drop_table("notification_preferences")
    op.drop_table("notification_settings")
