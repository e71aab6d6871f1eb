"""All SQL of responses and ratings, named and anonymous.

Anonymous answers live in their own tables. A round's anonymous answers are always
rewritten together (``rewrite_anonymous``): every write deletes the round's anonymous
rows and inserts them again in the order of their ballot hashes, which are random and
owe nothing to who answered when. So neither the physical order of rows (SQLite rowid,
PostgreSQL ctid) nor the transaction that last wrote them (PostgreSQL xmin) tells one
anonymous answer from another.
"""

import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, delete, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from services.common.lists import ListQuery, Page, fetch_page, parse_uuid_list
from services.feedback.models import AnonymousRating, AnonymousResponse, Rating, Response

SORTS: dict[str, ColumnElement[Any]] = {
    "submitted_at": Response.submitted_at,
    "partner_name": Response.partner_name,
}


@dataclass
class AnonymousAnswer:
    """An anonymous response held in memory while the round's set is rewritten."""

    id: uuid.UUID
    ballot_hash: str
    comment: str | None
    ratings: list[dict[str, Any]] = field(default_factory=list)


async def named_of_partner(
    session: AsyncSession, *, round_id: uuid.UUID, partner_id: uuid.UUID
) -> Response | None:
    stmt = select(Response).where(
        Response.round_id == round_id,
        Response.partner_id == partner_id,
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def named(
    session: AsyncSession, response_id: uuid.UUID, *, round_ids: Any
) -> Response | None:
    stmt = select(Response).where(
        Response.id == response_id,
        Response.round_id.in_(round_ids),
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def ratings_of(
    session: AsyncSession, response_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[Rating]]:
    found: dict[uuid.UUID, list[Rating]] = {r: [] for r in response_ids}
    if not response_ids:
        return found
    stmt = select(Rating).where(Rating.response_id.in_(response_ids))
    for rating in (await session.execute(stmt)).scalars():
        found[rating.response_id].append(rating)
    return found


async def replace_ratings(
    session: AsyncSession, response: Response, ratings: list[dict[str, Any]]
) -> None:
    """Replace a named response's ratings."""
    await session.execute(delete(Rating).where(Rating.response_id == response.id))
    if ratings:
        await session.execute(
            insert(Rating),
            [
                {
                    "id": uuid.uuid4(),
                    "response_id": response.id,
                    "round_id": response.round_id,
                    **r,
                }
                for r in ratings
            ],
        )


async def anonymous_of_round(session: AsyncSession, round_id: uuid.UUID) -> list[AnonymousAnswer]:
    """Every anonymous answer of a round, with its ratings, as plain values (no ORM objects,
    so the rows can be rewritten without stale copies in the session)."""
    stmt = select(
        AnonymousResponse.id, AnonymousResponse.ballot_hash, AnonymousResponse.comment
    ).where(AnonymousResponse.round_id == round_id)
    answers = {
        row.id: AnonymousAnswer(id=row.id, ballot_hash=row.ballot_hash, comment=row.comment)
        for row in (await session.execute(stmt))
    }
    if answers:
        ratings = select(
            AnonymousRating.id,
            AnonymousRating.response_id,
            AnonymousRating.commitment_id,
            AnonymousRating.commitment_version_id,
            AnonymousRating.score,
            AnonymousRating.comment,
        ).where(AnonymousRating.round_id == round_id)
        for row in await session.execute(ratings):
            answers[row.response_id].ratings.append(
                {
                    "id": row.id,
                    "commitment_id": row.commitment_id,
                    "commitment_version_id": row.commitment_version_id,
                    "score": row.score,
                    "comment": row.comment,
                }
            )
    return list(answers.values())


async def rewrite_anonymous(
    session: AsyncSession, round_id: uuid.UUID, answers: list[AnonymousAnswer]
) -> None:
    """Store a round's anonymous answers anew, ordered by ballot hash (a random key)."""
    await session.execute(delete(AnonymousRating).where(AnonymousRating.round_id == round_id))
    await session.execute(delete(AnonymousResponse).where(AnonymousResponse.round_id == round_id))
    ordered = sorted(answers, key=lambda a: a.ballot_hash)
    if not ordered:
        return
    await session.execute(
        insert(AnonymousResponse),
        [
            {"id": a.id, "round_id": round_id, "ballot_hash": a.ballot_hash, "comment": a.comment}
            for a in ordered
        ],
    )
    rows = [
        {
            "id": r.get("id") or uuid.uuid4(),
            "response_id": a.id,
            "round_id": round_id,
            "commitment_id": r["commitment_id"],
            "commitment_version_id": r["commitment_version_id"],
            "score": r["score"],
            "comment": r["comment"],
        }
        for a in ordered
        for r in sorted(a.ratings, key=lambda x: str(x["commitment_id"]))
    ]
    if rows:
        await session.execute(insert(AnonymousRating), rows)


async def list_named(session: AsyncSession, query: ListQuery, *, round_ids: Any) -> Page:
    stmt = select(Response).where(Response.round_id.in_(round_ids))
    filters = query.filters
    if "id" in filters:
        stmt = stmt.where(Response.id.in_(parse_uuid_list("id", filters["id"])))
    if "round_id" in filters:
        stmt = stmt.where(Response.round_id.in_(parse_uuid_list("round_id", filters["round_id"])))
    if "partner_id" in filters:
        stmt = stmt.where(
            Response.partner_id.in_(parse_uuid_list("partner_id", filters["partner_id"]))
        )
    return await fetch_page(session, stmt, query, sort_columns=SORTS, id_column=Response.id)


async def empty_sqlite_wal(engine: AsyncEngine) -> None:
    """SQLite: copy the WAL into the database file and truncate it, so that no copy taken
    later holds the order in which transactions (a ballot taken, an answer cast) were
    written. Nothing to do on PostgreSQL (its WAL is the server's own)."""
    if engine.dialect.name != "sqlite":
        return
    async with engine.connect() as conn:
        # Outside any transaction: the engine begins each of its own (BEGIN IMMEDIATE for
        # writers), and SQLite cannot checkpoint from inside one.
        raw = await conn.get_raw_connection()
        await raw.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
