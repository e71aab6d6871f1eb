"""The rules about funders (tenants). Keyword-only functions; they flush, never commit."""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from services.common import audit
from services.common.auth import Caller
from services.common.concurrency import check_if_match
from services.common.errors import Conflict, Forbidden, NotFound
from services.common.lists import ListQuery, Page
from services.partners.funders import repository
from services.partners.funders.models import Funder
from services.partners.funders.schemas import FunderCreate, FunderUpdate


async def create_funder(*, session: AsyncSession, caller: Caller, data: FunderCreate) -> Funder:
    if await repository.get_funder_by_slug(session, data.slug):
        raise Conflict(f"A funder with the slug '{data.slug}' exists already; choose another slug.")
    funder = Funder(**data.model_dump(), version=1)
    session.add(funder)
    await session.flush()
    audit.record(
        session,
        caller=caller,
        action="create",
        entity_type="funder",
        entity_id=funder.id,
        changes=data.model_dump(),
    )
    return funder


async def get_funder(*, session: AsyncSession, caller: Caller, funder_id: uuid.UUID) -> Funder:
    funder = await repository.get_funder(session, funder_id)
    visible = caller.has("platform_admin") or caller.staff_funder_id == funder_id
    if funder is None or not visible:
        raise NotFound("There is no funder with this id.")
    return funder


async def list_funders(*, session: AsyncSession, caller: Caller, query: ListQuery) -> Page:
    only = None if caller.has("platform_admin") else caller.staff_funder_id
    if only is None and not caller.has("platform_admin"):
        raise Forbidden("Only platform admins and funder staff list funders.")
    return await repository.list_funders(session, query, only=only)


async def update_funder(
    *,
    session: AsyncSession,
    caller: Caller,
    funder_id: uuid.UUID,
    data: FunderUpdate,
    if_match: str | None,
) -> Funder:
    funder = await get_funder(session=session, caller=caller, funder_id=funder_id)
    check_if_match(if_match, funder)
    changes = data.changes()
    for field, value in changes.items():
        setattr(funder, field, value)
    await session.flush()
    audit.record(
        session,
        caller=caller,
        action="update",
        entity_type="funder",
        entity_id=funder.id,
        changes=changes,
    )
    return funder


async def find_funder(*, session: AsyncSession, funder_id: uuid.UUID) -> Funder:
    """A funder by id, for the other services (no caller check: internal only)."""
    funder = await repository.get_funder(session, funder_id)
    if funder is None:
        raise NotFound("There is no funder with this id.")
    return funder


async def find_funder_by_slug(*, session: AsyncSession, slug: str) -> Funder:
    funder = await repository.get_funder_by_slug(session, slug)
    if funder is None:
        raise NotFound(f"There is no funder with the slug '{slug}'.")
    return funder


async def funders_of_partner(*, session: AsyncSession, partner_id: uuid.UUID) -> list[Funder]:
    return await repository.funders_of_partner(session, partner_id=partner_id)
