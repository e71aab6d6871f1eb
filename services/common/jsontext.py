"""Dates and times read as the very text their JSON shows.

A list page that writes its rows as JSON reads each date and time only to write it
back as text. On PostgreSQL, asyncpg turns each into a Python ``date`` or ``datetime``
on the way (about 1 us apiece: for a page of grants, with their eleven dates and times,
that was half of what reading its rows cost the serving process), and orjson then turns
it back into text. :func:`json_text` asks PostgreSQL for the text itself, written as
orjson writes these values with ``OPT_UTC_Z`` (and so as pydantic does): a date as
``2026-11-28``; a time in UTC with ``Z``, with six digits of microseconds unless it
falls on a whole second, then none. On SQLite, which stores both as text anyway, the
column is read as before (typed by its own type), and JSON shows the same text.

The value is then text on one database and a ``date`` or ``datetime`` on the other:
only for what writes it as JSON, never for anything that compares or computes with it.
"""

from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Date, type_coerce
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement
from sqlalchemy.types import TypeDecorator

from services.common.db import UTCDateTime

__all__ = ["json_text"]

# to_char's pattern for a UTC time, with and without microseconds (``US``: six digits).
_MOMENT = 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'
_WHOLE_SECOND = 'YYYY-MM-DD"T"HH24:MI:SS"Z"'


class _DateJson(FunctionElement[Any]):
    inherit_cache = True
    name = "date_json"


class _MomentJson(FunctionElement[Any]):
    inherit_cache = True
    name = "moment_json"


# asyncpg stores Python's last and first date and time as PostgreSQL's infinities, and
# reads them back as those values; to_char has no text for them.
_DATE_BOUNDS = ("9999-12-31", "0001-01-01")
_MOMENT_BOUNDS = ("9999-12-31T23:59:59.999999Z", "0001-01-01T00:00:00Z")


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


@compiles(_DateJson)
@compiles(_MomentJson)
def _stored(element: FunctionElement[Any], compiler: Any, **kw: Any) -> str:
    return str(compiler.process(element.clauses, **kw))


class _DateText(TypeDecorator[Any]):
    """A date: PostgreSQL's text as it comes, else the stored date, typed."""

    impl = Date
    cache_ok = True

    def result_processor(self, dialect: Dialect, coltype: Any) -> Any:
        if dialect.name == "postgresql":
            return None
        return super().result_processor(dialect, coltype)


class _MomentText(UTCDateTime):
    """A time: PostgreSQL's text as it comes, else the stored time, typed (UTC)."""

    cache_ok = True

    def result_processor(self, dialect: Dialect, coltype: Any) -> Any:
        if dialect.name == "postgresql":
            return None
        return super().result_processor(dialect, coltype)


def json_text(column: ColumnElement[Any]) -> ColumnElement[Any]:
    """``column`` (a date, or a time kept in UTC), labelled with its own name, read as the
    text its JSON shows on PostgreSQL and as itself elsewhere: for the columns of a list
    whose rows are written as JSON. Built once, as a module constant."""
    python_type = column.type.python_type
    if python_type is datetime:
        read: ColumnElement[Any] = type_coerce(_MomentJson(column), _MomentText())
    elif python_type is date:
        read = type_coerce(_DateJson(column), _DateText())
    else:
        raise TypeError(f"{column}: json_text reads dates and times, not {python_type}")
    return read.label(column.key)
