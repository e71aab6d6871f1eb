"""All SQL of bank details."""

import uuid

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.partners.bank.models import BankAccount
from services.partners.people.models import Membership, Person
from services.partners.relationships.models import Relationship


async def current(session: AsyncSession, partner_id: uuid.UUID, state: str) -> BankAccount | None:
    stmt = (
        select(BankAccount)
        .where(BankAccount.partner_id == partner_id, BankAccount.state == state)
        .order_by(BankAccount.created_at.desc())
        .limit(1)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def get(
    session: AsyncSession, partner_id: uuid.UUID, account_id: uuid.UUID
) -> BankAccount | None:
    stmt = select(BankAccount).where(
        BankAccount.id == account_id, BankAccount.partner_id == partner_id
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def retire(session: AsyncSession, partner_id: uuid.UUID, *, state: str, to: str) -> None:
    await session.execute(
        update(BankAccount)
        .where(BankAccount.partner_id == partner_id, BankAccount.state == state)
        .values(state=to)
        .execution_options(synchronize_session=False)
    )


async def move(
    session: AsyncSession, account_id: uuid.UUID, *, source: str, **values: object
) -> bool:
    result = await session.execute(
        update(BankAccount)
        .where(BankAccount.id == account_id, BankAccount.state == source)
        .values(state="confirmed", **values)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


async def shares_with(session: AsyncSession, partner_id: uuid.UUID, funder_id: uuid.UUID) -> bool:
    """Whether the organisation shares its own data with this funder (relationships.sharing)."""
    stmt = select(Relationship.id).where(
        Relationship.partner_id == partner_id,
        Relationship.funder_id == funder_id,
        Relationship.sharing == "accepted",
    )
    return (await session.execute(stmt)).first() is not None


async def all_accounts(session: AsyncSession) -> list[BankAccount]:
    return list((await session.execute(select(BankAccount))).scalars())


async def key_ids_in_use(session: AsyncSession) -> set[str]:
    """The ids of the keys stored accounts are encrypted with."""
    return set((await session.execute(select(BankAccount.key_id).distinct())).scalars())


async def people_emails(session: AsyncSession, partner_id: uuid.UUID) -> list[str]:
    """Addresses of the organisation's own people (current memberships, enabled people)."""
    stmt = (
        select(Person.email)
        .join(Membership, Membership.person_id == Person.id)
        .where(
            Membership.partner_id == partner_id,
            Membership.removed_at.is_(None),
            Person.disabled_at.is_(None),
        )
        .distinct()
    )
    return list((await session.execute(stmt)).scalars())
