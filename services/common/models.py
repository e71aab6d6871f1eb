"""The kit's own tables, present in every service's database (made by its migrations)."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from services.common.db import Base, UTCDateTime, utcnow


class AuditEntry(Base):
    """One change to one record: who, when, what, and in which request."""

    __tablename__ = "audit_log"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(200))
    actor_roles: Mapped[str] = mapped_column(String(200), default="")
    action: Mapped[str] = mapped_column(String(50))
    entity_type: Mapped[str] = mapped_column(String(80))
    entity_id: Mapped[str] = mapped_column(String(80))
    changes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    request_id: Mapped[str | None] = mapped_column(String(128))
    # Whose record it is: the funder whose staff read this entry, and the organisation whose
    # people read it (only for the organisation's own records). Neither: operators only.
    funder_id: Mapped[uuid.UUID | None] = mapped_column()
    partner_id: Mapped[uuid.UUID | None] = mapped_column()

    __table_args__ = (
        Index("ix_audit_log_entity", "entity_type", "entity_id"),
        Index("ix_audit_log_funder_occurred", "funder_id", "occurred_at", "id"),
        Index("ix_audit_log_partner_occurred", "partner_id", "occurred_at", "id"),
    )


class OutboxMessage(Base):
    """One event to deliver to one subscriber, written in the same transaction as the change."""

    __tablename__ = "outbox"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    event_id: Mapped[uuid.UUID] = mapped_column(index=True)
    event_type: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    destination: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    attempts: Mapped[int] = mapped_column(default=0)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    dead_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """When the subscriber refused the event outright (it is parked until redelivered)."""

    __table_args__ = (Index("ix_outbox_pending", "delivered_at", "next_attempt_at"),)


class InboxEvent(Base):
    """An event this service has consumed: consumers are idempotent by event id."""

    __tablename__ = "inbox"

    event_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    event_type: Mapped[str] = mapped_column(String(100))
    source: Mapped[str] = mapped_column(String(50))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class IdempotencyRecord(Base):
    """The first answer to a write sent with an ``Idempotency-Key``, replayed on retries."""

    __tablename__ = "idempotency_keys"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    owner: Mapped[str] = mapped_column(String(200))
    key: Mapped[str] = mapped_column(String(255))
    fingerprint: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status_code: Mapped[int | None] = mapped_column()
    headers: Mapped[dict[str, str] | None] = mapped_column(JSON)
    body: Mapped[bytes | None] = mapped_column(LargeBinary)
    holder: Mapped[str | None] = mapped_column(String(200))
    """The process running the request while it runs (``<instance> <boot id>``)."""

    __table_args__ = (UniqueConstraint("owner", "key"),)


#: The kit tables every service database has (audit log, outbox, inbox, idempotency keys).
KIT_METADATA = Base.metadata
