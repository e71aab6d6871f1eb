"""Tables of the funder's own learning: tags and learning notes. Never shown to partners."""

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from services.common.db import IdMixin, TimestampMixin, UTCDateTime, VersionedMixin, utcnow
from services.partners.db import Base

#: What a funder's staff may tag: records their funder reads, and their own notes.
TAG_SUBJECTS = ("update", "interaction", "thread", "learning_note")
#: What a learning note draws on.
NOTE_SOURCES = ("update", "interaction")


class Tag(IdMixin, Base):
    """One theme a funder's staff gave one record ("energy costs", "volunteers").

    A tag is the funder's own way of finding what it learnt, never a judgement of a
    partner: only that funder's staff ever read it. ``key`` is the tag folded for
    matching (lower case, single spaces); ``tag`` keeps it as first written.
    ``partner_id`` is the partner the record concerns (empty for a learning note).
    """

    __tablename__ = "tags"

    funder_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("funders.id"))
    subject_kind: Mapped[str] = mapped_column(String(20))
    subject_id: Mapped[uuid.UUID] = mapped_column()
    partner_id: Mapped[uuid.UUID | None] = mapped_column()
    tag: Mapped[str] = mapped_column(String(100))
    key: Mapped[str] = mapped_column(String(100))
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        UniqueConstraint("funder_id", "subject_kind", "subject_id", "key"),
        Index("ix_tags_funder_key", "funder_id", "key"),
        Index("ix_tags_subject", "subject_kind", "subject_id"),
    )


class LearningNote(IdMixin, TimestampMixin, VersionedMixin, Base):
    """What a funder's staff learnt across partners, in their own words, with its sources."""

    __tablename__ = "learning_notes"

    funder_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("funders.id"))
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    written_by: Mapped[str] = mapped_column(String(200))

    __table_args__ = (Index("ix_learning_notes_funder_created", "funder_id", "created_at"),)


class NoteSource(Base):
    """An update or interaction a learning note draws on."""

    __tablename__ = "learning_note_sources"

    note_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("learning_notes.id", ondelete="CASCADE"), primary_key=True
    )
    source_kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    source_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    partner_id: Mapped[uuid.UUID] = mapped_column()

    __table_args__ = (Index("ix_learning_note_sources_source", "source_kind", "source_id"),)
