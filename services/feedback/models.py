"""Tables of the feedback service.

One schema for the service's domains (commitments, rounds, responses, actions,
measures, threads). Anonymity is built into the shape of two tables:

- ``round_invitations`` records *that* a partner has answered a round by name or
  taken its anonymous ballot (a bare flag, no time), never which answer is theirs;
- anonymous answers live in tables of their own (``anonymous_responses``,
  ``anonymous_ratings``) that no write touching a partner's row ever touches: the
  transaction that issues a partner's ballot and the one that casts an answer are
  different, and nothing but the ballot's blind signature (which the service cannot
  link, RFC 9474) joins them. Their rows carry no partner, no time and a random id,
  and are rewritten in an order that owes nothing to when they arrived (see
  ``responses/repository.py``). See ``THREAT_MODEL.md``.
"""

import uuid
from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.common.db import IdMixin, TimestampMixin, UTCDateTime, VersionedMixin, make_metadata

COMMITMENT_STATUSES = ("draft", "published", "retired")
ROUND_STATUSES = ("draft", "open", "closed", "published")
ACTION_STATUSES = ("planned", "in_progress", "done", "not_doing")
MEASURES = (
    "instalments_paid_on_time",
    "days_to_first_reply",
    "days_to_decision",
    "updates_replied_in_time",
    "rounds_published_with_actions",
)
AUDIENCES = ("active", "ended", "chosen", "pool")
ORIGIN_GRANT_COMPLETED = "grant_completed"
DEFAULT_K = 5
MIN_K = 3


class Base(DeclarativeBase):
    metadata = make_metadata()


class FeedbackSettings(TimestampMixin, VersionedMixin, Base):
    """One funder's feedback settings: its anonymity threshold k and its public scorecard."""

    __tablename__ = "feedback_settings"

    funder_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    k_threshold: Mapped[int] = mapped_column(Integer, default=DEFAULT_K)
    scorecard_published: Mapped[bool] = mapped_column(Boolean, default=False)
    scorecard_published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Commitment(IdMixin, TimestampMixin, VersionedMixin, Base):
    """A promise a funder makes about its own behaviour. Its words live in versions."""

    __tablename__ = "commitments"

    funder_id: Mapped[uuid.UUID] = mapped_column(index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(20), default="draft")
    current_version: Mapped[int] = mapped_column(Integer, default=1)
    measure: Mapped[str | None] = mapped_column(String(40))
    # The number of days the funder promises where its words do (e.g. "we reply to every
    # update within 14 days"): the funder's own promise, used for its reminders and views.
    promised_days: Mapped[int | None] = mapped_column(Integer)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class CommitmentVersion(IdMixin, Base):
    """The words of a commitment at one version. Ratings point at the version rated."""

    __tablename__ = "commitment_versions"

    commitment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("commitments.id"))
    number: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (UniqueConstraint("commitment_id", "number"),)


class Round(IdMixin, TimestampMixin, VersionedMixin, Base):
    """A feedback round: partners invited to rate the funder against its commitments."""

    __tablename__ = "rounds"

    funder_id: Mapped[uuid.UUID] = mapped_column(index=True)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str | None] = mapped_column(Text)
    opens_on: Mapped[date] = mapped_column()
    closes_on: Mapped[date] = mapped_column()
    status: Mapped[str] = mapped_column(String(20), default="draft")
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answer: Mapped[str | None] = mapped_column(Text)
    k_threshold: Mapped[int | None] = mapped_column(Integer)
    """The funder's k when the round opened: fixed for the round's life."""
    audience: Mapped[str] = mapped_column(String(20), default="active", server_default="active")
    """Whom it invites when it opens: ``active``, ``ended``, ``chosen`` or ``pool``."""
    pool_id: Mapped[uuid.UUID | None] = mapped_column()
    """The pooled fund whose partners a ``pool`` round invites."""
    origin: Mapped[str | None] = mapped_column(String(30))
    """``grant_completed`` for the end-of-grant round offered when grants complete."""

    __table_args__ = (
        # One offered draft per funder and origin: two events at once cannot make two.
        Index(
            "uq_rounds_offered_draft",
            "funder_id",
            "origin",
            unique=True,
            sqlite_where=text("status = 'draft' AND origin IS NOT NULL"),
            postgresql_where=text("status = 'draft' AND origin IS NOT NULL"),
        ),
    )


class RoundChosenPartner(Base):
    """An organisation a ``chosen`` round (or an end-of-grant round) asks, before it opens.

    Invitations are made from these when the round opens, for those that count then."""

    __tablename__ = "round_chosen_partners"

    round_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("rounds.id"), primary_key=True)
    partner_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)


class BallotKey(Base):
    """A round's RSA key for blind-signing anonymous ballots (RFC 9474). The private half
    is erased when the round closes: no ballot can be made after that."""

    __tablename__ = "ballot_keys"

    round_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("rounds.id"), primary_key=True)
    key_id: Mapped[str] = mapped_column(String(64))
    public_key: Mapped[str] = mapped_column(Text)
    private_key: Mapped[str | None] = mapped_column(Text)


class RoundCommitment(IdMixin, Base):
    """Which version of which commitment a round asks about (fixed when it opens)."""

    __tablename__ = "round_commitments"

    round_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("rounds.id"))
    commitment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("commitments.id"))
    commitment_version_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("commitment_versions.id"))
    position: Mapped[int] = mapped_column(Integer)

    __table_args__ = (UniqueConstraint("round_id", "commitment_id"),)


class RoundInvitation(IdMixin, Base):
    """A partner invited to a round, and whether it has answered by name or taken its
    anonymous ballot: a bare flag, no time. ``ballot_hash`` is the SHA-256 of the *blinded*
    message it had signed (so a retry of the same request gets the same signature); a
    blinded message is unrelated to the ballot later cast."""

    __tablename__ = "round_invitations"

    round_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("rounds.id"))
    partner_id: Mapped[uuid.UUID] = mapped_column()
    answered: Mapped[bool] = mapped_column(Boolean, default=False)
    ballot_hash: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        UniqueConstraint("round_id", "partner_id"),
        Index("ix_round_invitations_partner", "partner_id"),
    )


class Response(IdMixin, Base):
    """One partner's named response to a round, with its partner and times."""

    __tablename__ = "responses"

    round_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("rounds.id"), index=True)
    partner_id: Mapped[uuid.UUID | None] = mapped_column()
    partner_name: Mapped[str | None] = mapped_column(String(300))
    comment: Mapped[str | None] = mapped_column(Text)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (UniqueConstraint("round_id", "partner_id"),)


class Rating(IdMixin, Base):
    """One rating of one commitment version in a named response: 1 to 5, or null for
    "don't know"."""

    __tablename__ = "ratings"

    response_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("responses.id", ondelete="CASCADE"), index=True
    )
    round_id: Mapped[uuid.UUID] = mapped_column()
    commitment_id: Mapped[uuid.UUID] = mapped_column()
    commitment_version_id: Mapped[uuid.UUID] = mapped_column()
    score: Mapped[int | None] = mapped_column(SmallInteger)
    comment: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_ratings_round_commitment", "round_id", "commitment_id"),)


class AnonymousResponse(IdMixin, Base):
    """An anonymous answer: no partner, no time, a random id, and the SHA-256 of the ballot
    it was cast with (the ballot, or a legacy receipt, is the only way to read or change it;
    the unique hash refuses a second use of a ballot)."""

    __tablename__ = "anonymous_responses"

    round_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("rounds.id"), index=True)
    ballot_hash: Mapped[str] = mapped_column(String(64), unique=True)
    comment: Mapped[str | None] = mapped_column(Text)


class AnonymousRating(IdMixin, Base):
    """One rating in an anonymous answer: 1 to 5, or null for "don't know"."""

    __tablename__ = "anonymous_ratings"

    response_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("anonymous_responses.id", ondelete="CASCADE"), index=True
    )
    round_id: Mapped[uuid.UUID] = mapped_column()
    commitment_id: Mapped[uuid.UUID] = mapped_column()
    commitment_version_id: Mapped[uuid.UUID] = mapped_column()
    score: Mapped[int | None] = mapped_column(SmallInteger)
    comment: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_anonymous_ratings_round_commitment", "round_id", "commitment_id"),)


class ResultSummary(Base):
    """A closed round's figures for one commitment and one kind of answer (named or
    anonymous), written once when the round closes: what results read instead of every
    rating. Aggregates only: no answer, no partner, no time (THREAT_MODEL.md)."""

    __tablename__ = "result_summaries"

    round_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    commitment_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    anonymous: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    n: Mapped[int] = mapped_column(Integer)
    rated: Mapped[int] = mapped_column(Integer)
    total: Mapped[int] = mapped_column(Integer)
    s1: Mapped[int] = mapped_column(Integer)
    s2: Mapped[int] = mapped_column(Integer)
    s3: Mapped[int] = mapped_column(Integer)
    s4: Mapped[int] = mapped_column(Integer)
    s5: Mapped[int] = mapped_column(Integer)


class ResultRelease(Base):
    """What a closed round's results release (every kind "all" record, the k rules already
    applied), serialised once when it closes: the answer to its results is this one row.
    Released figures only: nothing the results API would not show (THREAT_MODEL.md)."""

    __tablename__ = "result_releases"

    round_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    body: Mapped[str] = mapped_column(Text)
    """The round's result records as JSON, without the round's own fields (its title can
    change after it closes; they are read with it)."""


class Action(IdMixin, TimestampMixin, VersionedMixin, Base):
    """What the funder will do, or did, in response to feedback ("you said, we did")."""

    __tablename__ = "actions"

    funder_id: Mapped[uuid.UUID] = mapped_column(index=True)
    round_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("rounds.id"))
    commitment_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("commitments.id"))
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="planned")
    reason: Mapped[str | None] = mapped_column(Text)
    due_on: Mapped[date | None] = mapped_column()
    done_on: Mapped[date | None] = mapped_column()
    published: Mapped[bool] = mapped_column(Boolean, default=False)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class InstalmentFact(Base):
    """What funding's events told us about one instalment: when due, when (if) paid."""

    __tablename__ = "instalment_facts"

    instalment_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    funder_id: Mapped[uuid.UUID] = mapped_column(index=True)
    grant_id: Mapped[uuid.UUID | None] = mapped_column()
    due_date: Mapped[date] = mapped_column()
    paid_on: Mapped[date | None] = mapped_column()
    days_late: Mapped[int | None] = mapped_column(Integer)
    overdue_reported: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ReplyFact(Base):
    """How long the funder took to first reply to one reflective update (from partners' events)."""

    __tablename__ = "reply_facts"

    update_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    funder_id: Mapped[uuid.UUID] = mapped_column(index=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    first_reply_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reply_seconds: Mapped[int] = mapped_column(Integer)


class ReceivedUpdateFact(Base):
    """A reflective update the funder received (from ``update.received``, or inferred from a
    reply heard of first): what the share replied to within the promised time rests on."""

    __tablename__ = "received_update_facts"

    update_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    funder_id: Mapped[uuid.UUID] = mapped_column(index=True)
    received_on: Mapped[date] = mapped_column()


class DecisionFact(Base):
    """How long the funder took to decide on something asked of it: a proposed grant
    (``grant``) from its proposal to its decision, or a partner's request for a change to its
    grant (``grant_request``) from the request to the decision."""

    __tablename__ = "decision_facts"

    subject_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    funder_id: Mapped[uuid.UUID] = mapped_column(index=True)
    requested_on: Mapped[date] = mapped_column()
    decided_on: Mapped[date] = mapped_column()
    days: Mapped[int] = mapped_column(Integer)


class Thread(IdMixin, TimestampMixin, VersionedMixin, Base):
    """A named conversation between one partner and its funder, outside any round."""

    __tablename__ = "threads"

    funder_id: Mapped[uuid.UUID] = mapped_column()
    partner_id: Mapped[uuid.UUID] = mapped_column()
    partner_name: Mapped[str] = mapped_column(String(300))
    subject: Mapped[str] = mapped_column(String(300))
    started_by: Mapped[str] = mapped_column(String(20))
    last_message_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_threads_funder_partner", "funder_id", "partner_id"),)


class ThreadMessage(IdMixin, Base):
    """One message in a thread, with who wrote it."""

    __tablename__ = "thread_messages"

    thread_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("threads.id"), index=True)
    author_role: Mapped[str] = mapped_column(String(20))
    author: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
