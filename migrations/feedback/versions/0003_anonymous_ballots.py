"""anonymous ballots: answers in tables of their own, k fixed per round, ballot keys

Anonymous answers move from ``responses``/``ratings`` into ``anonymous_responses`` and
``anonymous_ratings`` (their receipt hashes come along, so receipts already given keep
working), in receipt-hash order. Each round that has opened keeps the k its funder has
now, fixed from here on. Nothing is lost: every answer and every result stays.

Revision ID: 0003_anonymous_ballots
Revises: 0002
"""

import hashlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

revision: str = "0003_anonymous_ballots"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DEFAULT_K = 5
KEY_BITS = 2048


def _ballot_keys_for_open_rounds() -> None:
    """Rounds open now get their ballot key, as a round opened from now on would."""
    keys = sa.table(
        "ballot_keys",
        sa.column("round_id", sa.Uuid()),
        sa.column("key_id", sa.String()),
        sa.column("public_key", sa.Text()),
        sa.column("private_key", sa.Text()),
    )
    rounds = sa.table("rounds", sa.column("id", sa.Uuid()), sa.column("status", sa.String()))
    bind = op.get_bind()
    for (round_id,) in bind.execute(sa.select(rounds.c.id).where(rounds.c.status == "open")):
        private = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
        public = private.public_key()
        der = public.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        bind.execute(
            sa.insert(keys).values(
                round_id=round_id,
                key_id=hashlib.sha256(der).hexdigest(),
                public_key=public.public_bytes(
                    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
                ).decode(),
                private_key=private.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                ).decode(),
            )
        )


def _secure_delete() -> None:
    """On SQLite, deleted rows are overwritten with zeros, not left in free pages."""
    if op.get_bind().dialect.name == "sqlite":
        op.execute("PRAGMA secure_delete=ON")


def upgrade() -> None:
    _secure_delete()
    with op.batch_alter_table("rounds") as batch:
        batch.add_column(sa.Column("k_threshold", sa.Integer(), nullable=True))
    op.execute(
        sa.text(
            "UPDATE rounds SET k_threshold = COALESCE((SELECT s.k_threshold FROM "
            "feedback_settings s WHERE s.funder_id = rounds.funder_id), :k) "
            "WHERE status <> 'draft'"
        ).bindparams(k=DEFAULT_K)
    )
    with op.batch_alter_table("round_invitations") as batch:
        batch.add_column(sa.Column("ballot_hash", sa.String(length=64), nullable=True))
    op.create_table(
        "ballot_keys",
        sa.Column("round_id", sa.Uuid(), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("public_key", sa.Text(), nullable=False),
        sa.Column("private_key", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["round_id"], ["rounds.id"], name=op.f("fk_ballot_keys_round_id_rounds")
        ),
        sa.PrimaryKeyConstraint("round_id", name=op.f("pk_ballot_keys")),
    )
    op.create_table(
        "anonymous_responses",
        sa.Column("round_id", sa.Uuid(), nullable=False),
        sa.Column("ballot_hash", sa.String(length=64), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["round_id"], ["rounds.id"], name=op.f("fk_anonymous_responses_round_id_rounds")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_anonymous_responses")),
        sa.UniqueConstraint("ballot_hash", name=op.f("uq_anonymous_responses_ballot_hash")),
    )
    op.create_index(op.f("ix_anonymous_responses_round_id"), "anonymous_responses", ["round_id"])
    _ballot_keys_for_open_rounds()
    op.create_table(
        "anonymous_ratings",
        sa.Column("response_id", sa.Uuid(), nullable=False),
        sa.Column("round_id", sa.Uuid(), nullable=False),
        sa.Column("commitment_id", sa.Uuid(), nullable=False),
        sa.Column("commitment_version_id", sa.Uuid(), nullable=False),
        sa.Column("score", sa.SmallInteger(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["response_id"],
            ["anonymous_responses.id"],
            name=op.f("fk_anonymous_ratings_response_id_anonymous_responses"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_anonymous_ratings")),
    )
    op.create_index(op.f("ix_anonymous_ratings_response_id"), "anonymous_ratings", ["response_id"])
    op.create_index(
        "ix_anonymous_ratings_round_commitment",
        "anonymous_ratings",
        ["round_id", "commitment_id"],
    )
    # Move every anonymous answer, in receipt-hash order (random, owes nothing to time).
    op.execute(
        "INSERT INTO anonymous_responses (id, round_id, ballot_hash, comment) "
        "SELECT id, round_id, receipt_hash, comment FROM responses "
        "WHERE anonymous = true ORDER BY receipt_hash"
    )
    op.execute(
        "INSERT INTO anonymous_ratings (id, response_id, round_id, commitment_id, "
        "commitment_version_id, score, comment) "
        "SELECT ra.id, ra.response_id, ra.round_id, ra.commitment_id, "
        "ra.commitment_version_id, ra.score, ra.comment FROM ratings ra "
        "JOIN responses re ON re.id = ra.response_id "
        "WHERE ra.anonymous = true ORDER BY re.receipt_hash, ra.commitment_id"
    )
    op.execute("DELETE FROM ratings WHERE anonymous = true")
    op.execute("DELETE FROM responses WHERE anonymous = true")
    with op.batch_alter_table("ratings") as batch:
        batch.drop_column("anonymous")
    with op.batch_alter_table("responses") as batch:
        batch.drop_constraint("uq_responses_receipt_hash", type_="unique")
        batch.drop_column("receipt_hash")
        batch.drop_column("anonymous")


def downgrade() -> None:
    _secure_delete()
    with op.batch_alter_table("responses") as batch:
        batch.add_column(
            sa.Column("anonymous", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("receipt_hash", sa.String(length=64), nullable=True))
        batch.create_unique_constraint("uq_responses_receipt_hash", ["receipt_hash"])
    with op.batch_alter_table("ratings") as batch:
        batch.add_column(
            sa.Column("anonymous", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.execute(
        "INSERT INTO responses (id, round_id, anonymous, receipt_hash, comment) "
        "SELECT id, round_id, true, ballot_hash, comment FROM anonymous_responses "
        "ORDER BY ballot_hash"
    )
    op.execute(
        "INSERT INTO ratings (id, response_id, round_id, commitment_id, "
        "commitment_version_id, anonymous, score, comment) "
        "SELECT id, response_id, round_id, commitment_id, commitment_version_id, true, "
        "score, comment FROM anonymous_ratings"
    )
    op.drop_table("anonymous_ratings")
    op.drop_table("anonymous_responses")
    op.drop_table("ballot_keys")
    with op.batch_alter_table("round_invitations") as batch:
        batch.drop_column("ballot_hash")
    with op.batch_alter_table("rounds") as batch:
        batch.drop_column("k_threshold")
