"""Dates, times and ids read as the very text their JSON shows.

A list page that writes its rows as JSON reads each date, time and id only to write it
back as text. The drivers turn each into a Python object on the way, and orjson turns
it back into text:

- on PostgreSQL, asyncpg decodes a binary date or timestamp for about 1 us apiece; for a
  page of grants, with their eleven dates and times, that was half of what reading its
  rows cost the serving process (asyncpg's own UUID, by contrast, is cheap to write);
- on SQLite, which stores all three as text, SQLAlchemy parses each one back (a UUID
  from its 32 hex digits, then written with hyphens again: 3 us apiece).

:func:`json_text` asks the database for the text itself, written as orjson writes these
values with ``OPT_UTC_Z`` (and so as pydantic does): a date as ``2026-11-28``; a time in
UTC with ``Z``, with six digits of microseconds unless it falls on a whole second, then
none; an id in its hyphenated form (on PostgreSQL, asyncpg's UUID, as it comes).

The value is then text, not a ``date``, ``datetime`` or ``UUID``: only for what writes
it as JSON (a cursor takes a sort value as text too), never for anything that compares
or computes with it in Python.
"""

from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, String, Uuid, type_coerce
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement

__all__ = ["json_text"]

# to_char's pattern for a UTC time, with and without microseconds (``US``: six digits).
_MOMENT = 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'
_WHOLE_SECOND = 'YYYY-MM-DD"T"HH24:MI:SS"Z"'
# asyncpg stores Python's last and first date and time as PostgreSQL's infinities, and
# reads them back as those values; to_char has no text for them.
_DATE_BOUNDS = ("9999-12-31", "0001-01-01")
_MOMENT_BOUNDS = ("9999-12-31T23:59:59.999999Z", "0001-01-01T00:00:00Z")


class _DateJson(FunctionElement[Any]):
    inherit_cache = True
    name = "date_json"


class _MomentJson(FunctionElement[Any]):
    inherit_cache = True
    name = "moment_json"


class _IdJson(FunctionElement[Any]):
    inherit_cache = True
    name = "id_json"


def _bounded(value: str, text: str, bounds: tuple[str, str]) -> str:
    last, first = bounds
    return (
        f"CASE WHEN {value} = 'infinity' THEN '{last}' "
        f"WHEN {value} = '-infinity' THEN '{first}' ELSE {text} END"
    )


@compiles(_DateJson, "postgresql")
def _date_json_postgresql(element: _DateJson, compiler: Any, **kw: Any) -> str:
    day = compiler.process(element.clauses, **kw)
    return _bounded(day, f"to_char({day}, 'YYYY-MM-DD')", _DATE_BOUNDS)


@compiles(_MomentJson, "postgresql")
def _moment_json_postgresql(element: _MomentJson, compiler: Any, **kw: Any) -> str:
    moment = compiler.process(element.clauses, **kw)
    pattern = (
        f"CASE WHEN date_trunc('second', {moment}) = {moment} "
        f"THEN '{_WHOLE_SECOND}' ELSE '{_MOMENT}' END"
    )
    return _bounded(moment, f"to_char({moment} AT TIME ZONE 'UTC', {pattern})", _MOMENT_BOUNDS)


@compiles(_IdJson, "postgresql")
def _id_json_postgresql(element: _IdJson, compiler: Any, **kw: Any) -> str:
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


def json_text(column: ColumnElement[Any]) -> ColumnElement[Any]:
    """``column`` (a date, a time kept in UTC or a UUID), labelled with its own name, read
    as the text its JSON shows: for the columns of a list whose rows are written as JSON.
    Built once, as a module constant."""
    if isinstance(column.type, Uuid):
        read: FunctionElement[Any] = _IdJson(column)
    elif column.type.python_type is datetime:
        read = _MomentJson(column)
    elif column.type.python_type is date:
        read = _DateJson(column)
    else:
        raise TypeError(f"{column}: json_text reads dates, times and ids, not {column.type}")
    return type_coerce(read, String()).label(column.key)
