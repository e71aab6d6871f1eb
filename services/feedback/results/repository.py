"""All SQL of results: every figure is an aggregate computed by the database."""

import uuid
from typing import Any

from sqlalchemy import Select, delete, false, func, insert, literal, select, true, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from services.feedback.models import (
    AnonymousRating,
    AnonymousResponse,
    Rating,
    Response,
    ResultRelease,
    ResultSummary,
    Round,
    RoundCommitment,
)

FIGURES = ("n", "rated", "total", "s1", "s2", "s3", "s4", "s5")


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
    """(named responses, anonymous responses) of each round."""
    if not round_ids:
        return {}
    named = (
        select(Response.round_id, func.count())
        .where(Response.round_id.in_(round_ids))
        .group_by(Response.round_id)
    )
    anonymous = (
        select(AnonymousResponse.round_id, func.count())
        .where(AnonymousResponse.round_id.in_(round_ids))
        .group_by(AnonymousResponse.round_id)
    )
    found = {r: [0, 0] for r in round_ids}
    for r, n in (await session.execute(named)).all():
        found[r][0] = int(n)
    for r, n in (await session.execute(anonymous)).all():
        found[r][1] = int(n)
    return {r: (n, a) for r, (n, a) in found.items()}


def aggregates_statement(
    round_ids: list[uuid.UUID], *, commitment_ids: list[uuid.UUID] | None = None
) -> Select[Any]:
    """Per round, commitment and kind (named or anonymous): count, rated (not "don't
    know"), sum, and the distribution, in one GROUP BY over both kinds of ratings."""
    parts = []
    for table, anonymous in ((Rating, false()), (AnonymousRating, true())):
        part = select(
            table.round_id.label("round_id"),
            table.commitment_id.label("commitment_id"),
            table.score.label("score"),
            anonymous.label("anonymous"),
        ).where(table.round_id.in_(round_ids))
        if commitment_ids is not None:
            part = part.where(table.commitment_id.in_(commitment_ids))
        parts.append(part)
    ratings = union_all(*parts).subquery("all_ratings")
    columns: list[Any] = [
        ratings.c.round_id,
        ratings.c.commitment_id,
        ratings.c.anonymous,
        func.count().label("n"),
        func.count(ratings.c.score).label("rated"),
        func.coalesce(func.sum(ratings.c.score), 0).label("total"),
    ]
    columns += [func.count().filter(ratings.c.score == i).label(f"s{i}") for i in range(1, 6)]
    return select(*columns).group_by(
        ratings.c.round_id, ratings.c.commitment_id, ratings.c.anonymous
    )


def empty_aggregate() -> dict[str, int]:
    return {"n": 0, "rated": 0, "total": 0, **{str(i): 0 for i in range(1, 6)}}


async def aggregates(
    session: AsyncSession,
    round_ids: list[uuid.UUID],
    *,
    commitment_ids: list[uuid.UUID] | None = None,
) -> dict[tuple[uuid.UUID, uuid.UUID], dict[str, dict[str, int]]]:
    """The aggregates of ``aggregates_statement`` by (round, commitment), split into
    ``named`` and ``anonymous``; the mean is then the exact ratio of sum to count."""
    if not round_ids:
        return {}
    stmt = aggregates_statement(round_ids, commitment_ids=commitment_ids)
    found: dict[tuple[uuid.UUID, uuid.UUID], dict[str, dict[str, int]]] = {}
    for row in (await session.execute(stmt)).mappings():
        key = (row["round_id"], row["commitment_id"])
        split = found.setdefault(key, {"named": empty_aggregate(), "anonymous": empty_aggregate()})
        split["anonymous" if row["anonymous"] else "named"] = {
            "n": int(row["n"]),
            "rated": int(row["rated"]),
            "total": int(row["total"]),
            **{str(i): int(row[f"s{i}"]) for i in range(1, 6)},
        }
    return found


async def write_summaries(session: AsyncSession, round_id: uuid.UUID) -> None:
    """Store a round's figures (``aggregates_statement``) as its summaries: one statement
    in the database, written when the round closes, after its last answer."""
    await session.execute(delete(ResultSummary).where(ResultSummary.round_id == round_id))
    figures = aggregates_statement([round_id])
    columns = ["round_id", "commitment_id", "anonymous", *FIGURES]
    await session.execute(insert(ResultSummary).from_select(columns, figures))


async def write_release(session: AsyncSession, round_id: uuid.UUID, body: str) -> None:
    """Store a closed round's release (its serialised result records)."""
    await session.execute(delete(ResultRelease).where(ResultRelease.round_id == round_id))
    await session.execute(insert(ResultRelease).values(round_id=round_id, body=body))


async def release_of(session: AsyncSession, round_id: uuid.UUID) -> Any:
    """A round's stored release with the round's own fields, in one query (``None`` when
    the round has none: not closed, or closed before releases were stored)."""
    stmt = (
        select(
            Round.funder_id,
            Round.status,
            Round.title,
            Round.closes_on,
            Round.opened_at,
            ResultRelease.body,
        )
        .join(ResultRelease, ResultRelease.round_id == Round.id)
        .where(Round.id == round_id)
    )
    return (await session.execute(stmt)).one_or_none()


async def summaries(
    session: AsyncSession,
    round_ids: list[uuid.UUID],
    *,
    commitment_ids: list[uuid.UUID] | None = None,
) -> dict[tuple[uuid.UUID, uuid.UUID], dict[str, dict[str, int]]]:
    """The figures of closed rounds as ``aggregates`` gives them, read from their summaries."""
    if not round_ids:
        return {}
    stmt = select(ResultSummary).where(ResultSummary.round_id.in_(round_ids))
    if commitment_ids is not None:
        stmt = stmt.where(ResultSummary.commitment_id.in_(commitment_ids))
    found: dict[tuple[uuid.UUID, uuid.UUID], dict[str, dict[str, int]]] = {}
    for row in (await session.execute(stmt)).scalars():
        key = (row.round_id, row.commitment_id)
        split = found.setdefault(key, {"named": empty_aggregate(), "anonymous": empty_aggregate()})
        split["anonymous" if row.anonymous else "named"] = {
            "n": row.n,
            "rated": row.rated,
            "total": row.total,
            **{str(i): getattr(row, f"s{i}") for i in range(1, 6)},
        }
    return found


async def comments(
    session: AsyncSession, round_id: uuid.UUID, *, anonymous: bool
) -> list[dict[str, Any]]:
    """Comments of a round's named or anonymous answers, ordered by commitment and text
    (never by when they were written)."""
    rating_table: Any = AnonymousRating if anonymous else Rating
    response_table: Any = AnonymousResponse if anonymous else Response
    who = (
        [literal(None).label("partner_id"), literal(None).label("partner_name")]
        if anonymous
        else [Response.partner_id, Response.partner_name]
    )
    per_commitment = (
        select(rating_table.commitment_id, rating_table.comment, *who, RoundCommitment.position)
        .join(response_table, response_table.id == rating_table.response_id)
        .join(
            RoundCommitment,
            (RoundCommitment.round_id == rating_table.round_id)
            & (RoundCommitment.commitment_id == rating_table.commitment_id),
        )
        .where(rating_table.round_id == round_id, rating_table.comment.is_not(None))
        .order_by(RoundCommitment.position, rating_table.comment)
    )
    overall = (
        select(response_table.comment, *who)
        .where(response_table.round_id == round_id, response_table.comment.is_not(None))
        .order_by(response_table.comment)
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
