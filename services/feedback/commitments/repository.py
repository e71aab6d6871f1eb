"""All SQL of commitments."""

import uuid
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.lists import ListQuery, Page, fetch_page, filter_values, parse_uuid_list
from services.feedback.models import COMMITMENT_STATUSES, Commitment, CommitmentVersion

SORTS: dict[str, ColumnElement[Any]] = {
    "position": Commitment.position,
    "status": Commitment.status,
    "created_at": Commitment.created_at,
    "updated_at": Commitment.updated_at,
}


async def get(
    session: AsyncSession, commitment_id: uuid.UUID, *, funder_id: uuid.UUID
) -> Commitment | None:
    stmt = select(Commitment).where(
        Commitment.id == commitment_id, Commitment.funder_id == funder_id
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def current_versions(
    session: AsyncSession, commitments: list[Commitment]
) -> dict[uuid.UUID, CommitmentVersion]:
    """The version each commitment shows now, by commitment id."""
    if not commitments:
        return {}
    wanted = {(c.id, c.current_version) for c in commitments}
    stmt = select(CommitmentVersion).where(
        CommitmentVersion.commitment_id.in_([c.id for c in commitments])
    )
    rows = (await session.execute(stmt)).scalars()
    return {v.commitment_id: v for v in rows if (v.commitment_id, v.number) in wanted}


async def versions(session: AsyncSession, commitment_id: uuid.UUID) -> list[CommitmentVersion]:
    stmt = (
        select(CommitmentVersion)
        .where(CommitmentVersion.commitment_id == commitment_id)
        .order_by(CommitmentVersion.number)
    )
    return list((await session.execute(stmt)).scalars())


async def version(
    session: AsyncSession, commitment_id: uuid.UUID, number: int
) -> CommitmentVersion | None:
    stmt = select(CommitmentVersion).where(
        CommitmentVersion.commitment_id == commitment_id, CommitmentVersion.number == number
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def list_page(
    session: AsyncSession,
    query: ListQuery,
    *,
    funder_ids: list[uuid.UUID],
    statuses: list[str] | None = None,
) -> Page:
    stmt = select(Commitment).where(Commitment.funder_id.in_(funder_ids))
    if statuses is not None:
        stmt = stmt.where(Commitment.status.in_(statuses))
    filters = query.filters
    if "id" in filters:
        stmt = stmt.where(Commitment.id.in_(parse_uuid_list("id", filters["id"])))
    if "funder_id" in filters:
        stmt = stmt.where(
            Commitment.funder_id.in_(parse_uuid_list("funder_id", filters["funder_id"]))
        )
    if "status" in filters:
        stmt = stmt.where(
            Commitment.status.in_(filter_values("status", filters["status"], COMMITMENT_STATUSES))
        )
    if "measure" in filters:
        stmt = stmt.where(Commitment.measure == str(filters["measure"]))
    return await fetch_page(session, stmt, query, sort_columns=SORTS, id_column=Commitment.id)


async def published_of_funder(session: AsyncSession, funder_id: uuid.UUID) -> list[Commitment]:
    """A funder's current (published, not retired) commitments in charter order."""
    stmt = (
        select(Commitment)
        .where(Commitment.funder_id == funder_id, Commitment.status == "published")
        .order_by(Commitment.position, Commitment.created_at, Commitment.id)
    )
    return list((await session.execute(stmt)).scalars())


async def of_funder(session: AsyncSession, funder_id: uuid.UUID) -> list[Commitment]:
    """Every commitment a funder has published (current or retired), in charter order."""
    stmt = (
        select(Commitment)
        .where(Commitment.funder_id == funder_id, Commitment.status != "draft")
        .order_by(Commitment.position, Commitment.created_at, Commitment.id)
    )
    return list((await session.execute(stmt)).scalars())
