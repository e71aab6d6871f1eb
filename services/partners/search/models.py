"""The search index: one row per searchable record, kept in step by database triggers.

The migration (``0009_search``) creates the triggers on ``updates``,
``update_replies``, ``interactions`` and ``documents`` (and ``0013_learning`` those on
``thread_message_copies`` and ``learning_notes``) that write these rows in
the same transaction as the record, and the full-text structures on top: a
generated ``search_vector`` tsvector with a GIN index on PostgreSQL (not mapped
here: the database computes it), an external-content FTS5 table ``search_fts``
on SQLite. The application never writes this table itself.
"""

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from services.common.db import UTCDateTime
from services.partners.db import Base

SEARCH_KINDS = ("update", "reply", "interaction", "document", "thread", "learning_note")
#: A learning note concerns no one partner: its entry names this partner id, which is no
#: organisation's, and is private, so the partner rule of search can never match it.
NO_PARTNER = uuid.UUID(int=0)


class SearchEntry(Base):
    """The searchable text of one update, reply, interaction or document, and who may read it.

    ``funder_id`` is the funder whose copy or record it is (empty for a document the
    partner added itself); ``private`` marks an interaction its funder kept private.
    """

    __tablename__ = "search_entries"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(20))
    source_id: Mapped[uuid.UUID] = mapped_column()
    update_id: Mapped[uuid.UUID | None] = mapped_column()
    thread_id: Mapped[uuid.UUID | None] = mapped_column()
    partner_id: Mapped[uuid.UUID] = mapped_column()
    funder_id: Mapped[uuid.UUID | None] = mapped_column()
    private: Mapped[bool] = mapped_column(Boolean)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    title: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)

    __table_args__ = (
        UniqueConstraint("kind", "source_id"),
        Index("ix_search_entries_funder_at", "funder_id", "at"),
        Index("ix_search_entries_partner_at", "partner_id", "at"),
        Index("ix_search_entries_update", "update_id"),
        Index("ix_search_entries_thread", "thread_id"),
    )


class ThreadMessageCopy(Base):
    """A message of a feedback thread, as feedback announced it (``thread.message``).

    Threads live in the feedback service; this copy lets search find their messages
    under the same rule as the thread itself: a thread's funder and partner never
    change, so its funder's staff and its partner read it, and nobody else. A trigger
    indexes it like the other sources.
    """

    __tablename__ = "thread_message_copies"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    thread_id: Mapped[uuid.UUID] = mapped_column(index=True)
    funder_id: Mapped[uuid.UUID] = mapped_column()
    partner_id: Mapped[uuid.UUID] = mapped_column()
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
