"""Tables of people who sign in: accounts, memberships, invitations and password resets.

A person is one account (an email, a name, an argon2 password hash). What a
person may do comes from their memberships: staff of a funder, a member of a
partner organisation, or a platform admin. One person may hold several; a token
acts under one of them. Invitation and reset tokens are stored only as hashes.
"""

import uuid
from datetime import datetime

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from services.common.db import IdMixin, UTCDateTime
from services.partners.db import Base

MEMBERSHIP_ROLES = ("platform_admin", "funder_staff", "partner")
#: What a funder's staff member may do beyond reading and recording the funder's work,
#: granted by the funder's staff admins (or a platform admin): ``finance`` (budgets,
#: payment runs, bank details), ``trustee`` (record decisions above the staff limit) and
#: ``staff_admin`` (grant these to colleagues). They become roles in the access token.
CAPABILITIES = ("finance", "trustee", "staff_admin")


class Person(IdMixin, Base):
    """Someone who signs in. The email is unique whatever its case (``email_key``)."""

    __tablename__ = "people"

    email: Mapped[str] = mapped_column(String(320))
    email_key: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    email_verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Membership(IdMixin, Base):
    """What a person may act as: staff of a funder, member of an organisation, or admin."""

    __tablename__ = "memberships"

    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("people.id"), index=True)
    role: Mapped[str] = mapped_column(String(20))
    funder_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("funders.id"), index=True)
    partner_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("partners.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(200))
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    removed_by: Mapped[str | None] = mapped_column(String(200))
    #: Capabilities of a funder_staff membership (see ``CAPABILITIES``), in the token's roles.
    capabilities: Mapped[list[str]] = mapped_column(JSON, default=list, server_default=text("'[]'"))
    #: The most this person may approve alone, in minor units (the token's
    #: ``decision_limit`` claim); None: the funder's own staff approval limit applies.
    decision_limit: Mapped[int | None] = mapped_column(BigInteger)
    decision_limit_currency: Mapped[str | None] = mapped_column(String(3))
    version: Mapped[int] = mapped_column(Integer, default=1, server_default=text("1"))


class Invitation(IdMixin, Base):
    """A one-time, expiring invitation sent by email; only the token's hash is kept.

    ``kind`` is ``colleague`` (staff or an organisation's people invite a colleague,
    or a platform admin invites funder staff) or ``organisation`` (a funder's staff
    invite an organisation through one of its contacts: accepting claims it, or
    accepts that funder if it is already claimed).
    """

    __tablename__ = "invitations"

    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    email: Mapped[str] = mapped_column(String(320))
    role: Mapped[str] = mapped_column(String(20))
    funder_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("funders.id"), index=True)
    partner_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("partners.id"), index=True)
    # Who sent it, to scope who may list and withdraw it.
    invited_by: Mapped[str] = mapped_column(String(200))
    invited_by_role: Mapped[str] = mapped_column(String(20))
    invited_by_funder_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("funders.id"))
    invited_by_partner_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("partners.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    accepted_by_person_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("people.id"))
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_invitations_email", "email"),)


class PasswordReset(IdMixin, Base):
    """A one-time, expiring password reset; only the token's hash is kept."""

    __tablename__ = "password_resets"

    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("people.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ExternalIdentity(IdMixin, Base):
    """A person's account at an external identity provider (``iss`` + ``sub``).

    Made the first time that provider vouches for the person's verified email;
    from then on the person is found by ``(issuer, subject)``, so an email change
    at the provider does not move the account.
    """

    __tablename__ = "external_identities"

    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("people.id"), index=True)
    issuer: Mapped[str] = mapped_column(String(500))
    subject: Mapped[str] = mapped_column(String(255))
    email: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (UniqueConstraint("issuer", "subject"),)
