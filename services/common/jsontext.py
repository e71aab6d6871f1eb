"""Dates, times and ids read as the very text their JSON shows (on SQLite).

A list page that writes its rows as JSON reads each date, time and id only to write it
back as text. SQLite stores all three as text, and SQLAlchemy parsed each one back into
a ``date``, ``datetime`` or ``UUID`` (a UUID from its 32 hex digits, then written with
hyphens again: 3 us apiece) for orjson to turn into text again. :func:`json_text` asks
SQLite for the text itself, as orjson writes these values with ``OPT_UTC_Z`` (and so as
pydantic does): a date as ``2026-11-28``; a time in UTC with ``Z``, with six digits of
microseconds unless it falls on a whole second, then none; an id in its hyphenated form.

On PostgreSQL the column is read as it is: asyncpg's binary dates and times cost the
service about 1 us apiece to decode, but ``to_char`` costs the database about as much
(measured on a page of grants: 170 us more of PostgreSQL's CPU for 200 us less of the
service's), and the database is what every service shares. asyncpg's UUIDs are cheap to
write.

The value is then text on SQLite: only for what writes it as JSON (a cursor takes a sort
value as text too), never for anything that compares or computes with it in Python.
"""

from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, Date, String, Uuid, type_coerce
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement

from services.common.db import UTCDateTime

__all__ = ["json_columns", "json_text"]


class _DateJson(FunctionElement[Any]):
    inherit_cache = True
    name = "date_json"


class _MomentJson(FunctionElement[Any]):
    inherit_cache = True
    name = "moment_json"


class _IdJson(FunctionElement[Any]):
    inherit_cache = True
    name = "id_json"


@compiles(_DateJson, "postgresql")
@compiles(_MomentJson, "postgresql")
@compiles(_IdJson, "postgresql")
def _as_stored(element: FunctionElement[Any], compiler: Any, **kw: Any) -> str:
    return str(compiler.process(element.clauses, **kw))


@compiles(_DateJson)
def _date_json(element: _DateJson, compiler: Any, **kw: Any) -> str:
    # SQLite keeps a date as its ISO text; date() gives it back in that form.
    return f"date({compiler.process(element.clauses, **kw)})"


@compiles(_MomentJson)
def _moment_json(element: _MomentJson, compiler: Any, **kw: Any) -> str:
    # SQLite keeps a UTC time as "YYYY-MM-DD HH:MM:SS.ffffff" (SQLAlchemy's form; a
    # database default writes no fraction).
    moment = compiler.process(element.clauses, **kw)
    day, clock = f"substr({moment}, 1, 10) || 'T' || ", f"substr({moment}, 12"
    return (
        f"CASE WHEN substr({moment}, 20) IN ('', '.000000') "
        f"THEN {day}{clock}, 8) || 'Z' ELSE {day}{clock}) || 'Z' END"
    )


@compiles(_IdJson)
def _id_json(element: _IdJson, compiler: Any, **kw: Any) -> str:
    # SQLite keeps a UUID as its 32 hex digits, in lower case.
    hex_digits = compiler.process(element.clauses, **kw)
    groups = " || '-' || ".join(
        f"substr({hex_digits}, {start}, {length})"
        for start, length in ((1, 8), (9, 4), (13, 4), (17, 4), (21, 12))
    )
    return f"CASE WHEN {hex_digits} IS NULL THEN NULL ELSE {groups} END"


def _reader(column: ColumnElement[Any]) -> type[FunctionElement[Any]] | None:
    """How :func:`json_text` reads ``column``; None for a column it leaves as it is."""
    if isinstance(column.type, Uuid):
        return _IdJson
    if isinstance(column.type, UTCDateTime):  # UTC: its JSON ends in "Z"
        return _MomentJson
    if isinstance(column.type, Date):
        return _DateJson
    return None


def json_text(column: ColumnElement[Any]) -> ColumnElement[Any]:
    """``column`` (a date, a time kept in UTC or a UUID), labelled with its own name, read
    as the text its JSON shows on SQLite and as it is on PostgreSQL: for the columns of a
    list whose rows are written as JSON. Built once, as a module constant."""
    reader = _reader(column)
    if reader is None:
        raise TypeError(f"{column}: json_text reads dates, times and ids, not {column.type}")
    return type_coerce(reader(column), String()).label(column.key)


def json_columns(columns: Iterable[ColumnElement[Any]]) -> list[ColumnElement[Any]]:
    """``columns``, each date, time kept in UTC and UUID among them read by
    :func:`json_text`, the others as they are: what a list whose rows are only written
    out as JSON selects of a table."""
    return [column if _reader(column) is None else json_text(column) for column in columns]
