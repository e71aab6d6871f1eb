"""``json_text``: dates, times and ids read as the text their JSON shows, on both databases.

Whatever a column holds, the value ``json_text`` reads writes the same JSON as the value
stored: on SQLite it is the database's text, on PostgreSQL the value as asyncpg reads
it. Times on a whole second have no fraction, others six digits (trailing zeros kept),
always in UTC with "Z"; years before 1000 keep four digits."""

import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import orjson
import pytest
from sqlalchemy import Column, Date, DateTime, Integer, MetaData, Table, Text, Uuid, insert, select

from services.common.db import UTCDateTime
from services.common.jsontext import json_columns, json_text

_metadata = MetaData()
_moments = Table(
    "json_text_cases",
    _metadata,
    Column("n", Integer, primary_key=True),
    Column("moment", UTCDateTime),
    Column("day", Date),
    Column("ref", Uuid),
)
_READ = select(
    _moments.c.n,
    json_text(_moments.c.moment),
    json_text(_moments.c.day),
    json_text(_moments.c.ref),
)

IST = timezone(timedelta(hours=5, minutes=30))
CASES: list[tuple[datetime | None, date | None]] = [
    (datetime(2026, 11, 28, 16, 17, 51, 123456, tzinfo=UTC), date(2026, 11, 28)),
    (datetime(2026, 11, 28, 16, 17, 51, tzinfo=UTC), date(2026, 1, 2)),
    (datetime(2026, 11, 28, 16, 17, 51, 500000, tzinfo=UTC), date(1999, 12, 31)),
    (datetime(2026, 11, 28, 16, 17, 51, 5, tzinfo=UTC), date(5, 3, 1)),
    (datetime(2026, 3, 29, 1, 30, 0, 250, tzinfo=IST), date(9999, 12, 31)),
    (datetime(5, 1, 1, 0, 0, 0, tzinfo=UTC), None),
    (None, date(2024, 2, 29)),
    (datetime(1, 1, 2, tzinfo=UTC), date(9999, 12, 30)),
    (datetime(9999, 12, 31, 23, 59, 59, 999998, tzinfo=UTC), date(1, 1, 2)),
]


def _ref(n: int) -> uuid.UUID | None:
    """Ids with letters and leading zeros, and one missing."""
    return None if n == 3 else uuid.UUID(int=(0xABCDEF << (n * 12)) | n)


def _json(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_UTC_Z)


async def test_json_text_writes_what_the_stored_value_writes(kit: Any, backend: str) -> None:
    app, _client, _tokens = kit
    engine = app.state.db.engine
    async with engine.begin() as connection:
        await connection.run_sync(_metadata.create_all)
        await connection.execute(
            insert(_moments),
            [{"n": n, "moment": m, "day": d, "ref": _ref(n)} for n, (m, d) in enumerate(CASES)],
        )
    try:
        async with engine.connect() as connection:
            rows = (await connection.execute(_READ.order_by(_moments.c.n))).all()
    finally:
        async with engine.begin() as connection:
            await connection.run_sync(_metadata.drop_all)
    assert [
        (_json(row.moment), _json(row.day), _json(row.ref and str(row.ref))) for row in rows
    ] == [
        (_json(m and m.astimezone(UTC)), _json(d), _json(_ref(n) and str(_ref(n))))
        for n, (m, d) in enumerate(CASES)
    ]
    if backend == "sqlite":  # SQLite wrote the text: nothing was parsed
        for name in ("moment", "day", "ref"):
            assert {type(getattr(row, name)) for row in rows} == {str, type(None)}


def test_json_text_refuses_a_column_that_is_not_a_date_or_time() -> None:
    with pytest.raises(TypeError, match="dates, times and ids"):
        json_text(Column("title", Text))
    # A time kept without its zone would be written with a "Z" it does not have.
    with pytest.raises(TypeError, match="dates, times and ids"):
        json_text(Column("noted_at", DateTime))


def test_json_columns_reads_dates_times_and_ids_and_leaves_the_rest() -> None:
    read = json_columns(_moments.c)
    assert [c.key for c in read] == ["n", "moment", "day", "ref"]
    assert read[0] is _moments.c.n
    assert all(c is not o for c, o in zip(read[1:], list(_moments.c)[1:], strict=True))
