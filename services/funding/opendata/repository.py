"""All SQL of open data: funder settings and the keyset reads the 360Giving export streams."""

import re
import uuid
from collections import namedtuple
from datetime import date
from typing import Any

from asyncpg import InterfaceError, PostgresConnectionError
from asyncpg.exceptions import OperatorInterventionError
from sqlalchemy import exists, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.util import greenlet_spawn

from services.common.db import Database
from services.funding.grants.models import Grant, GrantFundingOrganisation
from services.funding.opendata.models import FunderSetting
from services.funding.pools.models import Pool, PoolMember

EXPORTED_STATUSES = ("approved", "active", "completed")
EXPORT_COLUMNS = (
    Grant.id,
    Grant.list_date,
    Grant.grant_360_id,
    Grant.title,
    Grant.description,
    Grant.currency,
    Grant.amount_awarded,
    Grant.approved_on,
    Grant.planned_start_date,
    Grant.planned_end_date,
    Grant.partner_id,
    Grant.updated_at,
    Grant.funder_id,
    Grant.pool_id,
)

#: A grant as the export writes it: every field text, as ``isoformat``/``str`` write it
#: (``pool_id`` empty when not pooled), the same whichever database it was read from.
ExportRow = namedtuple(
    "ExportRow",
    "grant_360_id title description currency amount_awarded approved_on planned_start_date "
    "planned_end_date partner_id updated_at pool_id list_date id funder_id",
)

# PostgreSQL writes the same text itself, in COPY's text format: a row costs the export a
# split of a line instead of decoding typed values into Python objects (about a third of
# the CPU). Dates by to_char, not DateStyle; `updated_at` as Python's isoformat of an aware
# UTC datetime (microseconds only when not zero).
_UTC = "updated_at AT TIME ZONE 'UTC'"
_COPY_COLUMNS = (
    "grant_360_id, title, description, currency, amount_awarded, "
    "to_char(approved_on, 'YYYY-MM-DD'), to_char(planned_start_date, 'YYYY-MM-DD'), "
    "to_char(planned_end_date, 'YYYY-MM-DD'), partner_id, "
    f"to_char({_UTC}, 'YYYY-MM-DD\"T\"HH24:MI:SS') "
    f"|| CASE to_char({_UTC}, 'US') WHEN '000000' THEN '' ELSE '.' || to_char({_UTC}, 'US') END "
    "|| '+00:00', "
    "coalesce(pool_id::text, ''), to_char(list_date, 'YYYY-MM-DD'), id, funder_id"
)
_COPY_EXPORTED = "status IN ('approved', 'active', 'completed') AND grant_360_id IS NOT NULL"
_COPY_OWN = f"SELECT {_COPY_COLUMNS} FROM grants WHERE funder_id = {{funder}} AND {_COPY_EXPORTED}"
_COPY_OTHERS = (
    f"SELECT {_COPY_COLUMNS} FROM grants WHERE {_COPY_EXPORTED} "
    "AND pool_id IN (SELECT pool_id FROM pool_members WHERE funder_id = {funder}) "
    "AND funder_id <> {funder} AND EXISTS (SELECT 1 FROM grant_funding_organisations o "
    "WHERE o.grant_id = grants.id AND o.funder_id = {funder})"
)
#: The driver's errors of a connection, not of the statement (those are bugs, not retried).
LOST = (InterfaceError, PostgresConnectionError, OperatorInterventionError, OSError)
_COPY_UNESCAPE = re.compile(r"\\(.)")
_COPY_ESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}


async def get_settings(
    session: AsyncSession, funder_id: uuid.UUID, *, for_update: bool = False
) -> FunderSetting | None:
    stmt = select(FunderSetting).where(FunderSetting.funder_id == funder_id)
    if for_update:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_settings_by_slug(session: AsyncSession, slug: str) -> FunderSetting | None:
    stmt = select(FunderSetting).where(FunderSetting.funder_slug == slug)
    return (await session.execute(stmt)).scalar_one_or_none()


def _pools_of(funder_id: uuid.UUID) -> Any:
    return select(PoolMember.pool_id).where(PoolMember.funder_id == funder_id)


def _funds(funder_id: uuid.UUID) -> Any:
    """The grant names ``funder_id`` as a funding organisation."""
    org = aliased(GrantFundingOrganisation)
    return exists().where(org.grant_id == Grant.id, org.funder_id == funder_id)


async def export_batch(
    session: AsyncSession,
    *,
    funder_id: uuid.UUID,
    after: tuple[date, uuid.UUID] | None,
    limit: int,
    pooled: bool = True,
) -> list[Any]:
    """The next ``limit`` awarded grants of a funder in award order, after ``after``: its own
    (pooled grants it hosts included) merged with the pooled grants it funds as a member
    (``pooled=False`` when it funds none: one query then)."""
    stmt = (
        select(*EXPORT_COLUMNS)
        .where(
            Grant.funder_id == funder_id,
            Grant.status.in_(EXPORTED_STATUSES),
            Grant.grant_360_id.is_not(None),
        )
        .order_by(Grant.list_date, Grant.id)
        .limit(limit)
    )
    if after is not None:
        stmt = stmt.where(tuple_(Grant.list_date, Grant.id) > after)
    # Plain rows on the session's connection: no ORM loading for a read of columns.
    connection = await session.connection()
    rows = list((await connection.execute(stmt)).all())
    if not pooled:
        return rows
    others = (
        select(*EXPORT_COLUMNS)
        .where(
            Grant.pool_id.in_(_pools_of(funder_id)),
            Grant.funder_id != funder_id,
            _funds(funder_id),
            Grant.status.in_(EXPORTED_STATUSES),
            Grant.grant_360_id.is_not(None),
        )
        .order_by(Grant.list_date, Grant.id)
        .limit(limit)
    )
    if after is not None:
        others = others.where(tuple_(Grant.list_date, Grant.id) > after)
    rows += (await connection.execute(others)).all()
    return sorted(rows, key=lambda r: (r.list_date, r.id))[:limit]


async def export_rows(
    db: Database,
    *,
    funder_id: uuid.UUID,
    after: tuple[str, str] | None,
    limit: int,
    pooled: bool = True,
) -> list[ExportRow]:
    """``export_batch`` as ``ExportRow``s; ``after`` is the last row's (list_date, id).

    On PostgreSQL the rows come by ``COPY ... TO STDOUT`` on a pooled connection borrowed
    for this one batch: a slow reader of the export holds no connection between batches.
    """
    if db.is_postgres:
        try:
            return await _copied_rows(
                db, funder_id=funder_id, after=after, limit=limit, pooled=pooled
            )
        except LOST:
            # A lost or cancelled connection: the same read through SQLAlchemy raises the
            # error as the error handlers know it (a 503), or succeeds on a new connection.
            pass
    typed_after = None if after is None else (date.fromisoformat(after[0]), uuid.UUID(after[1]))
    async with db.sessionmaker() as session:
        rows = await export_batch(
            session, funder_id=funder_id, after=typed_after, limit=limit, pooled=pooled
        )
    return [_export_row(row) for row in rows]


def _export_row(row: Any) -> ExportRow:
    return ExportRow(
        row.grant_360_id,
        row.title,
        row.description,
        row.currency,
        str(row.amount_awarded),
        row.approved_on.isoformat(),
        row.planned_start_date.isoformat(),
        row.planned_end_date.isoformat(),
        str(row.partner_id),
        row.updated_at.isoformat(),
        "" if row.pool_id is None else str(row.pool_id),
        row.list_date.isoformat(),
        str(row.id),
        str(row.funder_id),
    )


async def _copied_rows(
    db: Database,
    *,
    funder_id: uuid.UUID,
    after: tuple[str, str] | None,
    limit: int,
    pooled: bool,
) -> list[ExportRow]:
    # COPY takes no parameters: the values are written as literals, from types whose text
    # cannot hold a quote (asyncpg's own way, `copy_from_query(*args)`, costs two more round
    # trips per batch, and they would hold the next batch back).
    keyset = ""
    if after is not None:
        keyset = (
            f" AND (list_date, id) > ({_literal(date.fromisoformat(after[0]))}, "
            f"{_literal(uuid.UUID(after[1]))})"
        )
    where = {"funder": _literal(funder_id)}
    tail = f"{keyset} ORDER BY list_date, id LIMIT {_literal(limit)}"
    raw = await db.engine.raw_connection()
    try:
        driver = raw.driver_connection
        rows = await _copy(driver, _COPY_OWN.format_map(where) + tail)
        if pooled:
            rows += await _copy(driver, _COPY_OTHERS.format_map(where) + tail)
            rows.sort(key=lambda r: (r.list_date, r.id))  # text sorts as the values do
            del rows[limit:]
    finally:
        await greenlet_spawn(raw.close)
    return rows


def _literal(value: uuid.UUID | date | int) -> str:
    """A SQL literal of a value whose text is only digits, hex and dashes."""
    if isinstance(value, uuid.UUID):
        return f"'{value}'::uuid"
    if isinstance(value, date):
        return f"'{value.isoformat()}'::date"
    if isinstance(value, int) and not isinstance(value, bool):
        return str(int(value))
    raise TypeError(f"no literal for {type(value).__name__}")


async def _copy(driver: Any, query: str) -> list[ExportRow]:
    chunks: list[bytes] = []

    async def collect(chunk: bytes) -> None:
        chunks.append(chunk)

    await driver.copy_from_query(query, output=collect)
    lines = b"".join(chunks).decode().split("\n")
    lines.pop()  # after the last row's line end
    make = ExportRow._make
    # No NULLs are selected; a backslash is an escape (rare: a tab or line break in a text).
    return [
        make(line.split("\t") if "\\" not in line else map(_unescape, line.split("\t")))
        for line in lines
    ]


def _unescape(field: str) -> str:
    return _COPY_UNESCAPE.sub(lambda m: _COPY_ESCAPES.get(m.group(1), m.group(1)), field)


async def pooled_shape(session: AsyncSession, funder_id: uuid.UUID) -> int:
    """The most funding organisations of any pooled grant the funder funds (0 if none)."""
    counts = (
        select(func.count().label("n"))
        .select_from(GrantFundingOrganisation)
        .join(Grant, Grant.id == GrantFundingOrganisation.grant_id)
        .where(
            Grant.pool_id.in_(_pools_of(funder_id)),
            Grant.status.in_(EXPORTED_STATUSES),
            _funds(funder_id),
        )
        .group_by(GrantFundingOrganisation.grant_id)
        .subquery()
    )
    return int((await session.execute(select(func.max(counts.c.n)))).scalar() or 0)


async def pool_names(session: AsyncSession, pool_ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    if not pool_ids:
        return {}
    stmt = select(Pool.id, Pool.name).where(Pool.id.in_(pool_ids))
    return {pool_id: name for pool_id, name in (await session.execute(stmt)).all()}


async def funders_of_grants(
    session: AsyncSession, grant_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[tuple[uuid.UUID, int | None]]]:
    """The funding organisations of each grant, in order, with their shares (pooled grants)."""
    stmt = (
        select(
            GrantFundingOrganisation.grant_id,
            GrantFundingOrganisation.funder_id,
            GrantFundingOrganisation.share_amount,
        )
        .where(GrantFundingOrganisation.grant_id.in_(grant_ids))
        .order_by(GrantFundingOrganisation.grant_id, GrantFundingOrganisation.position)
    )
    result: dict[uuid.UUID, list[tuple[uuid.UUID, int | None]]] = {}
    for grant_id, funder_id, share in (await session.execute(stmt)).all():
        result.setdefault(grant_id, []).append((funder_id, share))
    return result
