"""The rules about people, memberships and password resets. Keyword-only; they flush.

Who may see and manage whom follows the caller's membership: a platform admin
everyone, a funder's staff that funder's people, an organisation's people their
own. Invitations (who may invite whom, and accepting them) are in ``invitations``.
"""

import secrets
import uuid
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from services.common import audit
from services.common.auth import Caller, hash_secret
from services.common.db import utcnow
from services.common.errors import Conflict, Forbidden, NotFound
from services.common.lists import ListQuery, Page
from services.common.mail import Mailer
from services.common.revocation import mid_key, sub_key
from services.partners.identity import repository as identity_repository
from services.partners.people import repository
from services.partners.people.models import Membership, PasswordReset, Person
from services.partners.people.passwords import check_strength, hash_password, verify_password
from services.partners.revocations.service import revoke

RESET_GONE = (
    "This password reset link has expired or was already used. Ask for a new one "
    "on the sign-in page."
)


def system_caller(actor: str) -> Caller:
    """The caller recorded for what someone does without a token (a link from an email)."""
    return Caller(sub=actor, roles=frozenset())


def _scope_of(caller: Caller) -> dict[str, uuid.UUID | None]:
    """Where the caller's view of people is limited to (admins: everywhere)."""
    if caller.has("platform_admin"):
        return {"funder_id": None, "partner_id": None}
    if caller.has("funder_staff") and caller.funder_id is not None:
        return {"funder_id": caller.funder_id, "partner_id": None}
    if caller.has("partner") and caller.partner_id is not None:
        return {"funder_id": None, "partner_id": caller.partner_id}
    raise Forbidden(
        "Only platform admins, a funder's staff and an organisation's people see people."
    )


# people and memberships


async def list_people(*, session: AsyncSession, caller: Caller, query: ListQuery) -> Page:
    """People holding a membership where the caller works (admins: everyone)."""
    scope = _scope_of(caller)
    return await repository.list_people(
        session, query, everyone=caller.has("platform_admin"), **scope
    )


async def get_person(*, session: AsyncSession, caller: Caller, person_id: uuid.UUID) -> Person:
    scope = _scope_of(caller)
    person = await repository.get_person(session, person_id)
    if person is not None and not caller.has("platform_admin"):
        visible = [
            m
            for m in await repository.active_memberships(session, person.id)
            if (scope["funder_id"] and m.funder_id == scope["funder_id"])
            or (scope["partner_id"] and m.partner_id == scope["partner_id"])
        ]
        if not visible:
            person = None
    if person is None:
        raise NotFound("There is no person with this id.")
    return person


async def get_membership(
    *, session: AsyncSession, caller: Caller, membership_id: uuid.UUID
) -> Membership:
    """One membership where the caller works (another's answers 404, as if absent)."""
    _scope_of(caller)
    membership = await repository.get_membership(session, membership_id)
    if (
        membership is None
        or membership.removed_at is not None
        or not _may_manage(caller, membership)
    ):
        raise NotFound("There is no membership with this id.")
    return membership


async def list_memberships(*, session: AsyncSession, caller: Caller, query: ListQuery) -> Page:
    return await repository.list_memberships(session, query, **_scope_of(caller))


def _may_manage(caller: Caller, membership: Membership) -> bool:
    if caller.has("platform_admin"):
        return True
    if membership.role == "funder_staff":
        return caller.has("funder_staff") and caller.funder_id == membership.funder_id
    if membership.role == "partner":
        return caller.has("partner") and caller.partner_id == membership.partner_id
    return False


async def remove_membership(
    *, session: AsyncSession, caller: Caller, membership_id: uuid.UUID
) -> Membership:
    """End a membership; every sign-in acting under it is revoked at once."""
    membership = await repository.get_membership(session, membership_id)
    if (
        membership is None
        or membership.removed_at is not None
        or not _may_manage(caller, membership)
    ):
        raise NotFound("There is no membership with this id.")
    if membership.role == "partner" and membership.partner_id is not None:
        if await repository.count_active_members(session, membership.partner_id) <= 1:
            raise Conflict(
                "This is the organisation's last person on Trellis; invite someone else "
                "first, so the organisation is never left without its own people."
            )
    now = utcnow()
    membership.removed_at = now
    membership.removed_by = caller.actor
    # Revocation point: membership removed.
    revoked = await identity_repository.revoke_sessions(
        session, now=now, reason="membership_removed", membership_id=membership.id
    )
    await revoke(
        session=session, key=mid_key(membership.id), reason="membership_removed", caller=caller
    )
    await session.flush()
    audit.record(
        session,
        caller=caller,
        action="remove",
        entity_type="membership",
        entity_id=membership.id,
        changes={"person_id": membership.person_id, "revoked_sessions": revoked},
    )
    return membership


async def disable_person(*, session: AsyncSession, caller: Caller, person_id: uuid.UUID) -> Person:
    """Stop a person signing in (platform admins): every sign-in of theirs is revoked."""
    person = await repository.get_person(session, person_id)
    if person is None:
        raise NotFound("There is no person with this id.")
    if person.disabled_at is None:
        now = utcnow()
        person.disabled_at = now
        # Revocation point: person disabled.
        revoked = await identity_repository.revoke_sessions(
            session, now=now, reason="person_disabled", person_id=person.id
        )
        await revoke(
            session=session,
            key=sub_key(f"person:{person.id}"),
            reason="person_disabled",
            caller=caller,
        )
        await session.flush()
        audit.record(
            session,
            caller=caller,
            action="disable",
            entity_type="person",
            entity_id=person.id,
            changes={"revoked_sessions": revoked},
        )
    return person


# password resets


async def request_password_reset(
    *, session: AsyncSession, email: str, mailer: Mailer, base_url: str, ttl: int
) -> None:
    """Mail a one-time reset link if there is such an account; answer the same either way."""
    person = await repository.get_person_by_email(session, email)
    if person is None or person.disabled_at is not None:
        return
    token = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(
        PasswordReset(
            token_hash=hash_secret(token),
            person_id=person.id,
            created_at=now,
            expires_at=now + timedelta(seconds=ttl),
        )
    )
    await session.flush()
    minutes = max(1, ttl // 60)
    link = f"{base_url}/account/password-reset?token={token}"
    text = (
        f"Hello {person.name},\n\nSomeone asked to reset the password of your Trellis "
        f"account. If it was you, choose a new password here (the link works once, for "
        f"{minutes} minutes):\n\n{link}\n\nIf it was not you, ignore this message: your "
        "password stays as it is.\n"
    )
    mailer.send_after_commit(
        session, mailer.message(to=person.email, subject="Reset your Trellis password", text=text)
    )


async def open_password_reset(*, session: AsyncSession, token: str) -> PasswordReset:
    reset = await repository.get_reset_by_hash(session, hash_secret(token))
    if reset is None or reset.used_at is not None or reset.expires_at <= utcnow():
        raise NotFound(RESET_GONE, slug="password-reset-gone")
    return reset


async def reset_password(*, session: AsyncSession, token: str, password: str) -> Person:
    """Set a new password with a reset link; every sign-in of the person is revoked."""
    reset = await open_password_reset(session=session, token=token)
    check_strength(password)
    now = utcnow()
    if not await repository.use_reset(session, reset.id, now):
        raise NotFound(RESET_GONE, slug="password-reset-gone")
    person = await repository.get_person(session, reset.person_id)
    assert person is not None
    if person.disabled_at is not None:
        raise NotFound(RESET_GONE, slug="password-reset-gone")
    person.password_hash = await hash_password(password)
    if person.email_verified_at is None:
        person.email_verified_at = now
    await repository.expire_resets_of(session, person.id, now)
    # Revocation point: password reset (whoever knew the old password is signed out).
    await identity_repository.revoke_sessions(
        session, now=now, reason="password_reset", person_id=person.id
    )
    await revoke(session=session, key=sub_key(f"person:{person.id}"), reason="password_reset")
    await session.flush()
    audit.record(
        session,
        caller=system_caller(f"person:{person.id}"),
        action="reset_password",
        entity_type="person",
        entity_id=person.id,
    )
    return person


async def authenticate(*, session: AsyncSession, email: str, password: str) -> Person | None:
    """The person with this email and password, if any and not disabled."""
    person = await repository.get_person_by_email(session, email)
    ok = await verify_password(person.password_hash if person else None, password)
    if not ok or person is None or person.disabled_at is not None:
        return None
    return person
