"""All SQL of feedback rounds and invitations."""

import uuid
from typing import Any

from sqlalchemy import ColumnElement, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.db import insert_or_ignore
from services.common.errors import BadRequest
from services.common.lists import ListQuery, Page, fetch_page, filter_values, parse_uuid_list
from services.feedback.models import (
    ROUND_STATUSES,
    BallotKey,
    CommitmentVersion,
    Round,
    RoundChosenPartner,
    RoundCommitment,
    RoundInvitation,
)

SORTS: dict[str, ColumnElement[Any]] = {
    "opens_on": Round.opens_on,
    "closes_on": Round.closes_on,
    "status": Round.status,
    "title": Round.title,
    "created_at": Round.created_at,
}


async def get(session: AsyncSession, round_id: uuid.UUID, *, funder_id: uuid.UUID) -> Round | None:
    stmt = select(Round).where(Round.id == round_id, Round.funder_id == funder_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_any(session: AsyncSession, round_id: uuid.UUID) -> Round | None:
    return await session.get(Round, round_id)


async def invitation(
    session: AsyncSession, *, round_id: uuid.UUID, partner_id: uuid.UUID
) -> RoundInvitation | None:
    stmt = select(RoundInvitation).where(
        RoundInvitation.round_id == round_id, RoundInvitation.partner_id == partner_id
    )
    return (await session.execute(stmt)).scalar_one_or_none()


def _filters(stmt: Any, filters: dict[str, Any]) -> Any:
    if "id" in filters:
        stmt = stmt.where(Round.id.in_(parse_uuid_list("id", filters["id"])))
    if "status" in filters:
        stmt = stmt.where(
            Round.status.in_(filter_values("status", filters["status"], ROUND_STATUSES))
        )
    if "funder_id" in filters:
        stmt = stmt.where(Round.funder_id.in_(parse_uuid_list("funder_id", filters["funder_id"])))
    if "ballot_key_id" in filters:
        wanted = filters["ballot_key_id"]
        key_ids = wanted if isinstance(wanted, list) else [wanted]
        if not all(isinstance(k, str) and 0 < len(k) <= 64 for k in key_ids):
            raise BadRequest(
                "The 'ballot_key_id' filter takes a key id (64 hex digits) or a list of them.",
                slug="bad-list-parameter",
                errors={"filter": ["ballot_key_id must be a key id"]},
            )
        keyed = select(BallotKey.round_id).where(BallotKey.key_id.in_(key_ids))
        stmt = stmt.where(Round.id.in_(keyed))
    if "invited_partner_id" in filters:
        partners = parse_uuid_list("invited_partner_id", filters["invited_partner_id"])
        invited = select(RoundInvitation.round_id).where(RoundInvitation.partner_id.in_(partners))
        stmt = stmt.where(Round.id.in_(invited))
    return stmt


async def list_of_funder(session: AsyncSession, query: ListQuery, *, funder_id: uuid.UUID) -> Page:
    stmt = _filters(select(Round).where(Round.funder_id == funder_id), query.filters)
    return await fetch_page(session, stmt, query, sort_columns=SORTS, id_column=Round.id)


async def list_of_partner(
    session: AsyncSession, query: ListQuery, *, partner_id: uuid.UUID
) -> Page:
    """Rounds the partner was invited to."""
    invited = select(RoundInvitation.round_id).where(RoundInvitation.partner_id == partner_id)
    stmt = _filters(select(Round).where(Round.id.in_(invited)), query.filters)
    return await fetch_page(session, stmt, query, sort_columns=SORTS, id_column=Round.id)


async def commitments_of(
    session: AsyncSession, round_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[tuple[RoundCommitment, CommitmentVersion]]]:
    """Each round's commitments with the version it asks about, in order."""
    if not round_ids:
        return {}
    stmt = (
        select(RoundCommitment, CommitmentVersion)
        .join(CommitmentVersion, CommitmentVersion.id == RoundCommitment.commitment_version_id)
        .where(RoundCommitment.round_id.in_(round_ids))
        .order_by(RoundCommitment.round_id, RoundCommitment.position)
    )
    found: dict[uuid.UUID, list[tuple[RoundCommitment, CommitmentVersion]]] = {
        r: [] for r in round_ids
    }
    for rc, version in (await session.execute(stmt)).all():
        found[rc.round_id].append((rc, version))
    return found


async def invited_counts(session: AsyncSession, round_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    if not round_ids:
        return {}
    stmt = (
        select(RoundInvitation.round_id, func.count())
        .where(RoundInvitation.round_id.in_(round_ids))
        .group_by(RoundInvitation.round_id)
    )
    return {r: n for r, n in (await session.execute(stmt)).all()}


async def answered_rounds(
    session: AsyncSession, *, partner_id: uuid.UUID, round_ids: list[uuid.UUID]
) -> set[uuid.UUID]:
    if not round_ids:
        return set()
    stmt = select(RoundInvitation.round_id).where(
        RoundInvitation.partner_id == partner_id,
        RoundInvitation.round_id.in_(round_ids),
        RoundInvitation.answered.is_(True),
    )
    return set((await session.execute(stmt)).scalars())


async def published_of_funder(session: AsyncSession, funder_id: uuid.UUID) -> list[Round]:
    """A funder's published rounds, oldest first."""
    stmt = (
        select(Round)
        .where(Round.funder_id == funder_id, Round.status == "published")
        .order_by(Round.closes_on, Round.opened_at, Round.id)
    )
    return list((await session.execute(stmt)).scalars())


def round_ids_of_funder(funder_id: uuid.UUID) -> Any:
    """A subquery of a funder's round ids."""
    return select(Round.id).where(Round.funder_id == funder_id)


async def lock(session: AsyncSession, round_id: uuid.UUID) -> Round | None:
    """The round, locked until the transaction ends (PostgreSQL), so that answers to one
    round are written one at a time: the anonymous set is rewritten whole each time."""
    stmt = (
        select(Round)
        .where(Round.id == round_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def chosen_of(
    session: AsyncSession, round_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[uuid.UUID]]:
    """The organisations each round was set to ask (``chosen`` and end-of-grant rounds)."""
    if not round_ids:
        return {}
    stmt = (
        select(RoundChosenPartner.round_id, RoundChosenPartner.partner_id)
        .where(RoundChosenPartner.round_id.in_(round_ids))
        .order_by(RoundChosenPartner.round_id, RoundChosenPartner.partner_id)
    )
    found: dict[uuid.UUID, list[uuid.UUID]] = {}
    for round_id, partner_id in (await session.execute(stmt)).all():
        found.setdefault(round_id, []).append(partner_id)
    return found


async def choose(
    session: AsyncSession, round_id: uuid.UUID, partner_ids: list[uuid.UUID], *, replace: bool
) -> None:
    """Set (``replace``) or add to the organisations a round asks; adding one twice is a no-op."""
    if replace:
        await session.execute(
            delete(RoundChosenPartner).where(RoundChosenPartner.round_id == round_id)
        )
    for partner_id in dict.fromkeys(partner_ids):
        await session.execute(
            insert_or_ignore(session, RoundChosenPartner).values(
                round_id=round_id, partner_id=partner_id
            )
        )


async def offered_draft(session: AsyncSession, funder_id: uuid.UUID, origin: str) -> Round | None:
    """The funder's round offered by Trellis for ``origin`` that has not opened yet, locked."""
    stmt = (
        select(Round)
        .where(Round.funder_id == funder_id, Round.origin == origin, Round.status == "draft")
        .order_by(Round.created_at, Round.id)
        .limit(1)
        .with_for_update()
    )
    return (await session.execute(stmt)).scalar_one_or_none()
