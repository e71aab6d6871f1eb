"""All SQL of results: every figure is an aggregate computed by the database."""

import uuid
from typing import Any

from sqlalchemy import Select, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.feedback.models import Rating, Response, Round, RoundCommitment


async def rounds_for_results(
    session: AsyncSession, *, funder_ids: list[uuid.UUID], statuses: list[str]
) -> list[Round]:
    stmt = (
        select(Round)
        .where(Round.funder_id.in_(funder_ids), Round.status.in_(statuses))
        .order_by(Round.closes_on, Round.opened_at, Round.id)
    )
    return list((await session.execute(stmt)).scalars())


async def response_counts(
    session: AsyncSession, round_ids: list[uuid.UUID]
) -> dict[uuid.UUID, tuple[int, int]]:
    """(responses, anonymous responses) of each round."""
    if not round_ids:
        return {}
    stmt = (
        select(
            Response.round_id,
            func.count(),
            func.coalesce(func.sum(case((Response.anonymous.is_(True), 1), else_=0)), 0),
        )
        .where(Response.round_id.in_(round_ids))
        .group_by(Response.round_id)
    )
    return {r: (int(n), int(a)) for r, n, a in (await session.execute(stmt)).all()}


def aggregates_statement(
    round_ids: list[uuid.UUID],
    *,
    commitment_ids: list[uuid.UUID] | None = None,
    anonymous: bool | None = None,
) -> Select[Any]:
    """Per round and commitment: count, rated (not "don't know"), sum, and the distribution,
    in one GROUP BY over the ratings."""
    columns: list[Any] = [
        Rating.round_id,
        Rating.commitment_id,
        func.count().label("n"),
        func.count(Rating.score).label("rated"),
        func.coalesce(func.sum(Rating.score), 0).label("total"),
    ]
    columns += [func.count().filter(Rating.score == i).label(f"s{i}") for i in range(1, 6)]
    stmt = select(*columns).where(Rating.round_id.in_(round_ids))
    if commitment_ids is not None:
        stmt = stmt.where(Rating.commitment_id.in_(commitment_ids))
    if anonymous is not None:
        stmt = stmt.where(Rating.anonymous.is_(anonymous))
    return stmt.group_by(Rating.round_id, Rating.commitment_id)


async def aggregates(
    session: AsyncSession,
    round_ids: list[uuid.UUID],
    *,
    commitment_ids: list[uuid.UUID] | None = None,
    anonymous: bool | None = None,
) -> dict[tuple[uuid.UUID, uuid.UUID], dict[str, int]]:
    """The aggregates of ``aggregates_statement`` by (round, commitment); the mean is then
    the exact ratio of the sum to the count of ratings."""
    if not round_ids:
        return {}
    stmt = aggregates_statement(round_ids, commitment_ids=commitment_ids, anonymous=anonymous)
    found = {}
    for row in (await session.execute(stmt)).mappings():
        found[(row["round_id"], row["commitment_id"])] = {
            "n": int(row["n"]),
            "rated": int(row["rated"]),
            "total": int(row["total"]),
            **{str(i): int(row[f"s{i}"]) for i in range(1, 6)},
        }
    return found


async def comments(
    session: AsyncSession, round_id: uuid.UUID, *, anonymous: bool
) -> list[dict[str, Any]]:
    """Comments of a round's named or anonymous responses, ordered by commitment and text
    (never by when they were written)."""
    per_commitment = (
        select(
            Rating.commitment_id,
            Rating.comment,
            Response.partner_id,
            Response.partner_name,
            RoundCommitment.position,
        )
        .join(Response, Response.id == Rating.response_id)
        .join(
            RoundCommitment,
            (RoundCommitment.round_id == Rating.round_id)
            & (RoundCommitment.commitment_id == Rating.commitment_id),
        )
        .where(
            Rating.round_id == round_id,
            Rating.anonymous.is_(anonymous),
            Rating.comment.is_not(None),
        )
        .order_by(RoundCommitment.position, Rating.comment)
    )
    overall = (
        select(Response.comment, Response.partner_id, Response.partner_name)
        .where(
            Response.round_id == round_id,
            Response.anonymous.is_(anonymous),
            Response.comment.is_not(None),
        )
        .order_by(Response.comment)
    )
    found = [
        {
            "commitment_id": row.commitment_id,
            "comment": row.comment,
            "partner_id": row.partner_id,
            "partner_name": row.partner_name,
        }
        for row in await session.execute(per_commitment)
    ]
    found += [
        {
            "commitment_id": None,
            "comment": row.comment,
            "partner_id": row.partner_id,
            "partner_name": row.partner_name,
        }
        for row in await session.execute(overall)
    ]
    return found
