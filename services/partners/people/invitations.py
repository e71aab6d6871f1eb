"""The rules of invitations: who may invite whom, and accepting. Keyword-only; they flush.

Who may invite whom:

- a funder's staff invite colleagues (a ``funder_staff`` membership of their funder);
- a funder's staff invite an organisation they have a relationship with, by one of
  its contacts' emails: accepting creates the organisation's first person and claims
  it, and the organisation then shares with that funder; if the organisation is
  already claimed, only one of its own people can accept, and accepting accepts
  that funder;
- an organisation's people invite their colleagues;
- a platform admin invites funder staff, platform admins, or an organisation's
  first person.

Mail about an invitation goes out only after the transaction commits.
"""

import secrets
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.common import audit
from services.common.auth import Caller, hash_secret
from services.common.db import utcnow
from services.common.errors import Conflict, Forbidden, NotFound, Unprocessable
from services.common.lists import ListQuery, Page
from services.common.mail import Mailer
from services.partners.funders import repository as funders_repository
from services.partners.organisations import repository as organisations_repository
from services.partners.organisations import service as organisations_service
from services.partners.organisations.models import Partner
from services.partners.people import repository
from services.partners.people.models import Invitation, Membership, Person
from services.partners.people.passwords import check_strength, hash_password, verify_password
from services.partners.people.schemas import InvitationCreate
from services.partners.people.service import system_caller
from services.partners.relationships import repository as relationships_repository
from services.partners.relationships import service as relationships_service

INVITATION_GONE = (
    "This invitation link has expired, was withdrawn or was already used. "
    "Ask the person who invited you to send a new one."
)


async def _invitation_target(
    session: AsyncSession, caller: Caller, data: InvitationCreate
) -> tuple[str, uuid.UUID | None, uuid.UUID | None, uuid.UUID | None]:
    """(kind, funder_id, partner_id, inviting funder) for an invitation the caller may send."""
    if data.role == "platform_admin":
        if not caller.has("platform_admin"):
            raise Forbidden("Only platform admins invite platform admins.")
        return "colleague", None, None, None
    if data.role == "funder_staff":
        if caller.has("platform_admin"):
            if data.funder_id is None:
                raise Unprocessable(
                    "Say which funder the person will work for.",
                    errors={"funder_id": ["is required for a funder_staff invitation"]},
                )
            if await funders_repository.get_funder(session, data.funder_id) is None:
                raise Unprocessable(
                    "There is no funder with this id.", errors={"funder_id": ["no such funder"]}
                )
            return "colleague", data.funder_id, None, None
        if caller.has("funder_staff") and caller.funder_id is not None:
            if data.funder_id not in (None, caller.funder_id):
                message = "Staff invite colleagues to their own funder only; leave funder_id out."
                raise Unprocessable(message, errors={"funder_id": [message]})
            return "colleague", caller.funder_id, None, caller.funder_id
        raise Forbidden("Only a funder's staff or a platform admin invite funder staff.")
    # role == "partner"
    if caller.has("partner") and caller.partner_id is not None:
        if data.partner_id not in (None, caller.partner_id):
            message = "You invite colleagues to your own organisation only; leave partner_id out."
            raise Unprocessable(message, errors={"partner_id": [message]})
        return "colleague", None, caller.partner_id, None
    if data.partner_id is None:
        raise Unprocessable(
            "Say which organisation to invite.",
            errors={"partner_id": ["is required for a partner invitation"]},
        )
    partner = await organisations_repository.get_partner(session, data.partner_id)
    if caller.has("platform_admin"):
        if partner is None:
            raise Unprocessable(
                "There is no organisation with this id.", errors={"partner_id": ["no such partner"]}
            )
        return "organisation", None, partner.id, None
    if caller.has("funder_staff") and caller.funder_id is not None:
        relationship = (
            await relationships_repository.get_relationship(
                session, funder_id=caller.funder_id, partner_id=partner.id
            )
            if partner is not None
            else None
        )
        if relationship is None or partner is None:
            raise NotFound("There is no partner with this id.")
        if relationship.sharing == "accepted":
            # The funder sees the organisation's contacts: the invitation goes to one of them.
            if not await repository.is_contact_email(
                session, partner_id=partner.id, email=data.email
            ):
                message = (
                    "Send the invitation to one of the organisation's contacts: this email is "
                    "not among them. The organisation's own people decide who else joins."
                )
                raise Unprocessable(message, errors={"email": [message]})
        elif partner.claimed_at is None:
            # Not shared with this funder and claimed by nobody: only a funder the
            # organisation shares with may invite its first person (and nothing here
            # tells this funder who the organisation's contacts are).
            raise Conflict(
                "This organisation has not accepted your funder and has not claimed its "
                "record yet, so you cannot invite its first person. Ask the organisation "
                "to join Trellis through a funder it works with; you can then invite its "
                "people to accept you."
            )
        # Claimed but not shared with this funder: any address; only one of the
        # organisation's own people can accept (checked on acceptance).
        return "organisation", caller.funder_id, partner.id, caller.funder_id
    raise Forbidden("This needs a funder's staff, an organisation's people or a platform admin.")


def _invitation_mail(
    mailer: Mailer, *, invitation: Invitation, link: str, inviter: str, what: str, ttl: int
) -> Any:
    days = max(1, ttl // 86400)
    text = (
        f"Hello,\n\n{inviter} invites you to {what} on Trellis.\n\n"
        f"Accept the invitation here (the link works once, for {days} day"
        f"{'s' if days != 1 else ''}):\n\n{link}\n\n"
        "If you did not expect this, you can ignore this message.\n"
    )
    return mailer.message(to=invitation.email, subject=f"You are invited to {what}", text=text)


async def _invitation_wording(session: AsyncSession, invitation: Invitation) -> str:
    if invitation.role == "platform_admin":
        return "help run this Trellis platform"
    if invitation.role == "funder_staff" and invitation.funder_id:
        funder = await funders_repository.get_funder(session, invitation.funder_id)
        return f"join the staff of {funder.name if funder else 'a funder'}"
    partner = (
        await organisations_repository.get_partner(session, invitation.partner_id)
        if invitation.partner_id
        else None
    )
    name = partner.name if partner else "your organisation"
    if invitation.kind == "organisation" and invitation.funder_id:
        funder = await funders_repository.get_funder(session, invitation.funder_id)
        return f"take charge of {name}'s own record, shared with {funder.name if funder else 'a funder'}"
    return f"join {name}"


async def create_invitation(
    *,
    session: AsyncSession,
    caller: Caller,
    data: InvitationCreate,
    mailer: Mailer,
    base_url: str,
    ttl: int,
) -> tuple[Invitation, str]:
    """Record an invitation and mail its one-time link after commit; the link is returned too."""
    kind, funder_id, partner_id, inviting_funder = await _invitation_target(session, caller, data)
    token = secrets.token_urlsafe(32)
    now = utcnow()
    role = "partner" if data.role == "partner" else data.role
    invitation = Invitation(
        token_hash=hash_secret(token),
        kind=kind,
        email=data.email,
        role=role,
        funder_id=funder_id if role != "partner" or kind == "organisation" else None,
        partner_id=partner_id,
        invited_by=caller.actor,
        invited_by_role=next(
            (r for r in ("platform_admin", "funder_staff", "partner") if caller.has(r)), "system"
        ),
        invited_by_funder_id=inviting_funder,
        invited_by_partner_id=caller.partner_id if caller.has("partner") else None,
        created_at=now,
        expires_at=now + timedelta(seconds=ttl),
    )
    session.add(invitation)
    await session.flush()
    audit.record(
        session,
        caller=caller,
        action="invite",
        entity_type="invitation",
        entity_id=invitation.id,
        changes={"email": data.email, "role": role, "kind": kind, "partner_id": partner_id},
    )
    link = f"{base_url}/account/invitation?token={token}"
    what = await _invitation_wording(session, invitation)
    inviter = caller.name or ("Trellis" if not caller.sub else caller.sub)
    mailer.send_after_commit(
        session,
        _invitation_mail(
            mailer, invitation=invitation, link=link, inviter=inviter, what=what, ttl=ttl
        ),
    )
    return invitation, link


def _invitation_scope(caller: Caller) -> ColumnElement[bool] | None:
    if caller.has("platform_admin"):
        return None
    if caller.has("funder_staff") and caller.funder_id is not None:
        return (Invitation.invited_by_funder_id == caller.funder_id) | (
            (Invitation.role == "funder_staff") & (Invitation.funder_id == caller.funder_id)
        )
    if caller.has("partner") and caller.partner_id is not None:
        return (Invitation.partner_id == caller.partner_id) & (Invitation.kind == "colleague")
    raise Forbidden("Only platform admins, a funder's staff and an organisation's people do this.")


async def list_invitations(*, session: AsyncSession, caller: Caller, query: ListQuery) -> Page:
    return await repository.list_invitations(session, query, scope=_invitation_scope(caller))


async def get_invitation(
    *, session: AsyncSession, caller: Caller, invitation_id: uuid.UUID
) -> Invitation:
    scope = _invitation_scope(caller)
    invitation = await repository.get_invitation(session, invitation_id)
    if invitation is None or (scope is not None and not _matches(invitation, caller)):
        raise NotFound("There is no invitation with this id.")
    return invitation


async def withdraw_invitation(
    *, session: AsyncSession, caller: Caller, invitation_id: uuid.UUID
) -> Invitation:
    invitation = await get_invitation(session=session, caller=caller, invitation_id=invitation_id)
    if invitation.accepted_at is not None:
        raise Conflict("This invitation was already accepted; remove the membership instead.")
    if invitation.withdrawn_at is None:
        invitation.withdrawn_at = utcnow()
        await session.flush()
        audit.record(
            session,
            caller=caller,
            action="withdraw",
            entity_type="invitation",
            entity_id=invitation.id,
        )
    return invitation


def _matches(invitation: Invitation, caller: Caller) -> bool:
    if caller.has("funder_staff") and caller.funder_id is not None:
        return invitation.invited_by_funder_id == caller.funder_id or (
            invitation.role == "funder_staff" and invitation.funder_id == caller.funder_id
        )
    if caller.has("partner") and caller.partner_id is not None:
        return invitation.partner_id == caller.partner_id and invitation.kind == "colleague"
    return False


async def open_invitation(*, session: AsyncSession, token: str) -> Invitation:
    """The invitation a link's token opens, if it can still be accepted."""
    invitation = await repository.get_invitation_by_hash(session, hash_secret(token))
    if (
        invitation is None
        or invitation.accepted_at is not None
        or invitation.withdrawn_at is not None
        or invitation.expires_at <= utcnow()
    ):
        raise NotFound(INVITATION_GONE, slug="invitation-gone")
    return invitation


async def describe_invitation(*, session: AsyncSession, invitation: Invitation) -> str:
    return await _invitation_wording(session, invitation)


async def accept_invitation(
    *,
    session: AsyncSession,
    token: str,
    name: str | None,
    password: str,
) -> tuple[Person, Membership | None]:
    """Accept an invitation: as a new person (name and a new password) or an existing one.

    An existing account proves itself with its password. An organisation invitation
    claims an unclaimed organisation, or, for one already claimed, is accepted only
    by one of its own people and accepts the inviting funder. Every check runs
    before the first write, so a refused acceptance changes nothing.
    """
    invitation = await open_invitation(session=session, token=token)
    now = utcnow()
    person = await repository.get_person_by_email(session, invitation.email)
    if person is None:
        if not name:
            raise Unprocessable("Tell us your name.", errors={"name": ["is required"]})
        check_strength(password)
    elif person.disabled_at is not None or not await verify_password(
        person.password_hash, password
    ):
        raise Unprocessable(
            "You already have an account with this email: enter its password to accept. "
            "Forgot it? Reset it from the sign-in page.",
            errors={"password": ["is not the password of this account"]},
        )
    partner = None
    if invitation.kind == "organisation":
        assert invitation.partner_id is not None
        partner = await organisations_repository.get_partner(session, invitation.partner_id)
        if partner is None:
            raise NotFound(INVITATION_GONE, slug="invitation-gone")
        if partner.claimed_at is not None and (
            person is None
            or await repository.find_active_membership(
                session, person_id=person.id, role="partner", funder_id=None, partner_id=partner.id
            )
            is None
        ):
            raise Forbidden(
                f"{partner.name} already has its own people on Trellis, and you are not one "
                "of them. Ask one of them to accept, or to invite you."
            )
    if not await repository.claim_invitation(session, invitation.id, now):
        raise NotFound(INVITATION_GONE, slug="invitation-gone")
    created = person is None
    if person is None:
        person = Person(
            email=invitation.email,
            email_key=repository.email_key(invitation.email),
            name=name or invitation.email,
            password_hash=await hash_password(password),
            email_verified_at=now,
            created_at=now,
        )
        try:
            async with session.begin_nested():
                session.add(person)
                await session.flush()
        except IntegrityError as exc:
            # Another invitation to the same address was accepted at the same moment.
            raise Conflict(
                "An account with this email was just made by another invitation; "
                "open this invitation again and accept it with that account's password."
            ) from exc
    elif person.email_verified_at is None:
        person.email_verified_at = now
    invitation.accepted_by_person_id = person.id
    membership: Membership | None
    if partner is not None:
        membership = await _accept_for_organisation(session, invitation, partner, person, now)
    else:
        membership = await _add_membership(
            session,
            person=person,
            role=invitation.role,
            funder_id=invitation.funder_id if invitation.role == "funder_staff" else None,
            partner_id=invitation.partner_id if invitation.role == "partner" else None,
            created_by=invitation.invited_by,
            now=now,
        )
    await session.flush()
    audit.record(
        session,
        caller=system_caller(f"person:{person.id}"),
        action="accept",
        entity_type="invitation",
        entity_id=invitation.id,
        changes={"person_id": person.id, "new_person": created},
    )
    return person, membership


async def _add_membership(
    session: AsyncSession,
    *,
    person: Person,
    role: str,
    funder_id: uuid.UUID | None,
    partner_id: uuid.UUID | None,
    created_by: str,
    now: datetime,
) -> Membership:
    existing = await repository.find_active_membership(
        session, person_id=person.id, role=role, funder_id=funder_id, partner_id=partner_id
    )
    if existing is not None:
        return existing
    membership = Membership(
        person_id=person.id,
        role=role,
        funder_id=funder_id,
        partner_id=partner_id,
        created_at=now,
        created_by=created_by,
    )
    session.add(membership)
    await session.flush()
    return membership


async def _accept_for_organisation(
    session: AsyncSession, invitation: Invitation, partner: Partner, person: Person, now: datetime
) -> Membership:
    """Claim the organisation (its first person), or accept the funder as one of its people.

    The ownership rules are the organisations' and relationships' own (``claim_partner``,
    ``change_sharing``): an invitation is one more way the organisation speaks, not a
    second copy of what speaking does. The person acts as one of its people from here on,
    so the organisation reads these changes in its own audit trail."""
    caller = Caller(sub=f"person:{person.id}", roles=frozenset({"partner"}), partner_id=partner.id)
    first = partner.claimed_at is None
    if first:
        await organisations_service.claim_partner(
            session=session, caller=caller, partner_id=partner.id
        )
    membership = await _add_membership(
        session,
        person=person,
        role="partner",
        funder_id=None,
        partner_id=partner.id,
        created_by=invitation.invited_by,
        now=now,
    )
    if invitation.funder_id is not None:
        relationship = await relationships_repository.get_relationship(
            session, funder_id=invitation.funder_id, partner_id=partner.id
        )
        if relationship is not None:
            await relationships_service.change_sharing(
                session=session, caller=caller, relationship=relationship, wanted="accepted"
            )
    if not first:
        audit.record(
            session,
            caller=caller,
            action="accept_funder",
            entity_type="partner",
            entity_id=partner.id,
            changes={"funder_id": invitation.funder_id},
        )
    return membership
