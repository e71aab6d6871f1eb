"""All SQL about people, memberships, invitations, password resets and external identities."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.lists import ListQuery, Page, fetch_page, filter_values, parse_uuid_list
from services.partners.contacts.models import Contact
from services.partners.funders.models import Funder
from services.partners.organisations.models import Partner
from services.partners.people.models import (
    MEMBERSHIP_ROLES,
    ExternalIdentity,
    Invitation,
    Membership,
    PasswordReset,
    Person,
)

PEOPLE_SORTS: dict[str, ColumnElement[Any]] = {
    "id": Person.id,
    "name": Person.name,
    "email": Person.email_key,
    "created_at": Person.created_at,
}
MEMBERSHIP_SORTS: dict[str, ColumnElement[Any]] = {
    "id": Membership.id,
    "role": Membership.role,
    "created_at": Membership.created_at,
}
INVITATION_SORTS: dict[str, ColumnElement[Any]] = {
    "id": Invitation.id,
    "email": Invitation.email,
    "created_at": Invitation.created_at,
    "expires_at": Invitation.expires_at,
}


def email_key(email: str) -> str:
    """The form an email is compared in: trimmed and lower-cased."""
    return email.strip().lower()


# people


async def get_person(session: AsyncSession, person_id: uuid.UUID) -> Person | None:
    return await session.get(Person, person_id)


async def get_person_by_email(session: AsyncSession, email: str) -> Person | None:
    stmt = select(Person).where(Person.email_key == email_key(email))
    return (await session.execute(stmt)).scalar_one_or_none()


def _visible_memberships(
    *, funder_id: uuid.UUID | None, partner_id: uuid.UUID | None
) -> ColumnElement[bool]:
    """Active memberships at the given funder or organisation (None = everywhere)."""
    clause = Membership.removed_at.is_(None)
    if funder_id is not None:
        clause = clause & (Membership.funder_id == funder_id)
    if partner_id is not None:
        clause = clause & (Membership.partner_id == partner_id)
    return clause


async def list_people(
    session: AsyncSession,
    query: ListQuery,
    *,
    funder_id: uuid.UUID | None = None,
    partner_id: uuid.UUID | None = None,
    everyone: bool = False,
) -> Page:
    stmt = select(Person)
    if not everyone:
        stmt = stmt.where(
            exists().where(
                Membership.person_id == Person.id,
                _visible_memberships(funder_id=funder_id, partner_id=partner_id),
            )
        )
    if "id" in query.filters:
        stmt = stmt.where(Person.id.in_(parse_uuid_list("id", query.filters["id"])))
    if "email" in query.filters:
        stmt = stmt.where(Person.email_key == email_key(str(query.filters["email"])))
    return await fetch_page(
        session,
        stmt,
        query,
        sort_columns=PEOPLE_SORTS,
        id_column=Person.id,
        row_key=lambda row, sort: (
            row.email_key if sort == "email" else getattr(row, sort),
            row.id,
        ),
    )


# memberships


async def active_memberships(session: AsyncSession, person_id: uuid.UUID) -> list[Membership]:
    stmt = (
        select(Membership)
        .where(Membership.person_id == person_id, Membership.removed_at.is_(None))
        .order_by(Membership.created_at, Membership.id)
    )
    return list((await session.execute(stmt)).scalars())


async def get_membership(session: AsyncSession, membership_id: uuid.UUID) -> Membership | None:
    return await session.get(Membership, membership_id)


async def find_active_membership(
    session: AsyncSession,
    *,
    person_id: uuid.UUID,
    role: str,
    funder_id: uuid.UUID | None,
    partner_id: uuid.UUID | None,
) -> Membership | None:
    stmt = select(Membership).where(
        Membership.person_id == person_id,
        Membership.role == role,
        Membership.removed_at.is_(None),
        Membership.funder_id.is_(None) if funder_id is None else Membership.funder_id == funder_id,
        Membership.partner_id.is_(None)
        if partner_id is None
        else Membership.partner_id == partner_id,
    )
    return (await session.execute(stmt)).scalars().first()


async def count_active_members(session: AsyncSession, partner_id: uuid.UUID) -> int:
    stmt = select(Membership.id).where(
        Membership.partner_id == partner_id,
        Membership.role == "partner",
        Membership.removed_at.is_(None),
    )
    return len(list((await session.execute(stmt)).scalars()))


async def list_memberships(
    session: AsyncSession,
    query: ListQuery,
    *,
    funder_id: uuid.UUID | None = None,
    partner_id: uuid.UUID | None = None,
) -> Page:
    stmt = select(Membership).where(
        _visible_memberships(funder_id=funder_id, partner_id=partner_id)
    )
    filters = query.filters
    if "id" in filters:
        stmt = stmt.where(Membership.id.in_(parse_uuid_list("id", filters["id"])))
    for name, column in (
        ("person_id", Membership.person_id),
        ("funder_id", Membership.funder_id),
        ("partner_id", Membership.partner_id),
    ):
        if name in filters:
            stmt = stmt.where(column.in_(parse_uuid_list(name, filters[name])))
    if "role" in filters:
        stmt = stmt.where(
            Membership.role.in_(filter_values("role", filters["role"], MEMBERSHIP_ROLES))
        )
    return await fetch_page(
        session, stmt, query, sort_columns=MEMBERSHIP_SORTS, id_column=Membership.id
    )


async def membership_labels(
    session: AsyncSession, memberships: list[Membership]
) -> dict[uuid.UUID, str]:
    """What each membership is called on the chooser: the funder's or organisation's name."""
    funder_ids = {m.funder_id for m in memberships if m.funder_id}
    partner_ids = {m.partner_id for m in memberships if m.partner_id}
    funders = {}
    partners = {}
    if funder_ids:
        rows = await session.execute(
            select(Funder.id, Funder.name).where(Funder.id.in_(funder_ids))
        )
        funders = {k: v for k, v in rows.all()}
    if partner_ids:
        rows = await session.execute(
            select(Partner.id, Partner.name).where(Partner.id.in_(partner_ids))
        )
        partners = {k: v for k, v in rows.all()}
    labels = {}
    for m in memberships:
        if m.role == "funder_staff" and m.funder_id:
            labels[m.id] = f"Staff of {funders.get(m.funder_id, 'a funder')}"
        elif m.role == "partner" and m.partner_id:
            labels[m.id] = f"{partners.get(m.partner_id, 'an organisation')}"
        else:
            labels[m.id] = "Platform administration"
    return labels


# invitations


async def get_invitation_by_hash(session: AsyncSession, token_hash: str) -> Invitation | None:
    stmt = select(Invitation).where(Invitation.token_hash == token_hash)
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_invitation(session: AsyncSession, invitation_id: uuid.UUID) -> Invitation | None:
    return await session.get(Invitation, invitation_id)


async def claim_invitation(session: AsyncSession, invitation_id: uuid.UUID, now: datetime) -> bool:
    """Mark an invitation accepted, once: False if someone used it first."""
    result = await session.execute(
        update(Invitation)
        .where(
            Invitation.id == invitation_id,
            Invitation.accepted_at.is_(None),
            Invitation.withdrawn_at.is_(None),
        )
        .values(accepted_at=now)
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


async def list_invitations(
    session: AsyncSession, query: ListQuery, *, scope: ColumnElement[bool] | None
) -> Page:
    stmt = select(Invitation)
    if scope is not None:
        stmt = stmt.where(scope)
    filters = query.filters
    if "id" in filters:
        stmt = stmt.where(Invitation.id.in_(parse_uuid_list("id", filters["id"])))
    for name, column in (
        ("funder_id", Invitation.funder_id),
        ("partner_id", Invitation.partner_id),
        ("accepted_by_person_id", Invitation.accepted_by_person_id),
    ):
        if name in filters:
            stmt = stmt.where(column.in_(parse_uuid_list(name, filters[name])))
    if "status" in filters:
        statuses = filter_values("status", filters["status"], ("pending", "accepted", "withdrawn"))
        clauses = []
        if "pending" in statuses:
            clauses.append(Invitation.accepted_at.is_(None) & Invitation.withdrawn_at.is_(None))
        if "accepted" in statuses:
            clauses.append(Invitation.accepted_at.is_not(None))
        if "withdrawn" in statuses:
            clauses.append(Invitation.withdrawn_at.is_not(None))
        condition = clauses[0]
        for clause in clauses[1:]:
            condition = condition | clause
        stmt = stmt.where(condition)
    return await fetch_page(
        session, stmt, query, sort_columns=INVITATION_SORTS, id_column=Invitation.id
    )


async def is_contact_email(session: AsyncSession, *, partner_id: uuid.UUID, email: str) -> bool:
    stmt = select(Contact.email).where(Contact.partner_id == partner_id, Contact.email.is_not(None))
    return any(
        email_key(found) == email_key(email) for found in (await session.execute(stmt)).scalars()
    )


# password resets


async def get_reset_by_hash(session: AsyncSession, token_hash: str) -> PasswordReset | None:
    stmt = select(PasswordReset).where(PasswordReset.token_hash == token_hash)
    return (await session.execute(stmt)).scalar_one_or_none()


async def use_reset(session: AsyncSession, reset_id: uuid.UUID, now: datetime) -> bool:
    result = await session.execute(
        update(PasswordReset)
        .where(PasswordReset.id == reset_id, PasswordReset.used_at.is_(None))
        .values(used_at=now)
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


async def expire_resets_of(session: AsyncSession, person_id: uuid.UUID, now: datetime) -> None:
    await session.execute(
        update(PasswordReset)
        .where(PasswordReset.person_id == person_id, PasswordReset.used_at.is_(None))
        .values(used_at=now)
    )


# external identities


async def get_external_identity(
    session: AsyncSession, *, issuer: str, subject: str
) -> ExternalIdentity | None:
    stmt = select(ExternalIdentity).where(
        ExternalIdentity.issuer == issuer, ExternalIdentity.subject == subject
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def has_identity_at(session: AsyncSession, *, person_id: uuid.UUID, issuer: str) -> bool:
    stmt = select(ExternalIdentity.id).where(
        ExternalIdentity.person_id == person_id, ExternalIdentity.issuer == issuer
    )
    return (await session.execute(stmt)).first() is not None
