"""Tables of email notifications: each person's choices, and the notification outbox.

A notification is queued as a row in the transaction that learned of its cause
(an event received, an update sent, a reminder found due) and sent afterwards by
the sender (``sender.py``), so nothing is mailed for a change that rolled back.
``(person_id, notification, subject_key)`` is unique: a redelivered event or a
second replica's scan queues nothing twice.
"""

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from services.common.db import IdMixin, UTCDateTime
from services.partners.db import Base

PENDING = "pending"
SENT = "sent"
SKIPPED = "skipped"
FAILED = "failed"


class NotificationSettings(Base):
    """A person's key for signing unsubscribe links (made the first time they are mailed)."""

    __tablename__ = "notification_settings"

    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("people.id"), primary_key=True)
    unsubscribe_key: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class NotificationPreference(IdMixin, Base):
    """What a person chose for one notification; without a row it is on, sent at once."""

    __tablename__ = "notification_preferences"
    __table_args__ = (UniqueConstraint("person_id", "notification"),)

    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("people.id"), index=True)
    notification: Mapped[str] = mapped_column(String(40))
    enabled: Mapped[bool] = mapped_column()
    frequency: Mapped[str] = mapped_column(String(20))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Notification(IdMixin, Base):
    """One email to one person about one thing, waiting to be sent (or sent)."""

    __tablename__ = "notifications"
    __table_args__ = (
        UniqueConstraint("person_id", "notification", "subject_key"),
        Index("ix_notifications_due", "status", "due_at"),
    )

    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("people.id"), index=True)
    notification: Mapped[str] = mapped_column(String(40))
    subject_key: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    #: Where in the console it is read (a path: the sender puts the public URL before it).
    link: Mapped[str] = mapped_column(String(500))
    frequency: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default=PENDING)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(default=0)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)


class NotificationMark(Base):
    """A reminder found due once, whatever became of it (``update_overdue`` of an update,
    ``round_closing`` of a round): so each fires once, across restarts and replicas."""

    __tablename__ = "notification_marks"

    kind: Mapped[str] = mapped_column(String(40), primary_key=True)
    subject_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    marked_at: Mapped[datetime] = mapped_column(UTCDateTime)


class NotificationRound(Base):
    """An open feedback round, as ``round.opened`` told it, to remind invited partners
    before it closes. Who was invited only: nothing of who answered, or when."""

    __tablename__ = "notification_rounds"

    round_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    funder_id: Mapped[uuid.UUID] = mapped_column(index=True)
    title: Mapped[str] = mapped_column(String(300))
    closes_on: Mapped[date] = mapped_column()
    partner_ids: Mapped[list[Any]] = mapped_column(JSON)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
