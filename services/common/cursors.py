"""List cursors: where a keyset page starts, and the strict checks a cursor must pass.

A cursor is what a page's ``X-Next-Cursor`` header gave out: base64 of
``[sort, descending, last sort value, last id, position of the next row]``. Anything
else sent as ``cursor=`` is a 400 that says so, never a database error: the value must
have its sort column's type and fit it (a 32-bit column takes no 2^40), times carry
their offset, text holds no NUL, ids are UUIDs, the position is at most 2^53 - 1.
"""

import base64
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import BigInteger, ColumnElement, Integer, SmallInteger
from sqlalchemy.types import TypeDecorator

from services.common.errors import BadRequest

# The largest index a ``range`` or a cursor may name: what a JavaScript client can
# count exactly (2^53 - 1), far below what a database's OFFSET takes (2^63 - 1).
MAX_INDEX = 2**53 - 1
# The integers a filter or a cursor may hold: what the databases store (64-bit signed).
MAX_FILTER_INT = 2**63 - 1


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where a cursor page starts: after the row with this sort value and id, at ``position``."""

    value: Any
    row_id: str
    position: int


def _bad_cursor(reason: str = "is not a valid cursor") -> BadRequest:
    return BadRequest(
        "The 'cursor' parameter is not one this service gave out; "
        "use the X-Next-Cursor header of the previous page.",
        slug="bad-list-parameter",
        errors={"cursor": [reason]},
    )


def is_int(value: Any) -> bool:
    """A whole number, and not a boolean (which Python counts as one)."""
    return isinstance(value, int) and not isinstance(value, bool)


def encode_cursor(sort: str, descending: bool, value: Any, row_id: Any, position: int) -> str:
    """The ``X-Next-Cursor`` of a page whose last row has ``value`` and ``row_id``."""
    if isinstance(value, datetime | date):
        value = value.isoformat()
    elif isinstance(value, Decimal | uuid.UUID):
        value = str(value)
    raw = orjson.dumps([sort, descending, value, str(row_id), position])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(raw: str, sort: str, descending: bool) -> Cursor:
    """A cursor, checked strictly: anything but what :func:`_encode_cursor` wrote is a 400."""
    if len(raw) > 2048:
        raise _bad_cursor("is too long")
    try:
        padded = raw + "=" * (-len(raw) % 4)
        decoded = orjson.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, UnicodeEncodeError, orjson.JSONDecodeError) as exc:
        raise _bad_cursor() from exc
    if not isinstance(decoded, list) or len(decoded) != 5:
        raise _bad_cursor()
    c_sort, c_desc, value, row_id, position = decoded
    if not isinstance(c_sort, str) or not isinstance(c_desc, bool):
        raise _bad_cursor()
    if not isinstance(value, str | int | float | bool | None) or (
        is_int(value) and abs(value) > MAX_FILTER_INT
    ):
        raise _bad_cursor()
    if not isinstance(row_id, str) or not is_int(position) or not 0 <= position <= MAX_INDEX:
        raise _bad_cursor()
    try:
        uuid.UUID(row_id)
    except ValueError as exc:
        raise _bad_cursor() from exc
    if c_sort != sort or c_desc != descending:
        raise BadRequest(
            "The 'cursor' belongs to another sort order; send the same 'sort' as the page it came from.",
            slug="bad-list-parameter",
            errors={"cursor": ["does not match the sort"]},
        )
    return Cursor(value, row_id, position)


def coerce_cursor_value(column: ColumnElement[Any], value: Any) -> Any:
    """A cursor's sort value as the column's type; one that does not fit is a 400."""
    if value is None:
        return None
    kind = column.type
    if isinstance(kind, TypeDecorator) and kind.python_type is object:
        kind = kind.impl_instance  # e.g. Money: its Python type is its impl's (int)
    try:
        python_type = kind.python_type
    except NotImplementedError:
        return value
    try:
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("NUL")
        if python_type is datetime and isinstance(value, str):
            moment = datetime.fromisoformat(value)
            if moment.tzinfo is None:  # every cursor Trellis gives out carries its offset
                raise ValueError(value)
            return moment
        if python_type is date and isinstance(value, str):
            return date.fromisoformat(value)
        if python_type is uuid.UUID and isinstance(value, str):
            return uuid.UUID(value)
        if python_type is Decimal and isinstance(value, str | int) and not isinstance(value, bool):
            result = Decimal(value)
            if not result.is_finite():
                raise ValueError(value)
            return result
        if python_type is int and is_int(value):
            if abs(value) > _int_bound(column):
                raise ValueError(value)
            return value
        if python_type is bool and isinstance(value, bool):
            return value
        if python_type is float and isinstance(value, int | float) and not isinstance(value, bool):
            return value
        if python_type is str and isinstance(value, str):
            return value
    except (ValueError, ArithmeticError) as exc:
        raise _bad_cursor() from exc
    raise _bad_cursor()


def _int_bound(column: ColumnElement[Any]) -> int:
    """The largest whole number ``column`` holds (PostgreSQL refuses more, with a 500 if
    we let it)."""
    kind = column.type
    if isinstance(kind, TypeDecorator):
        kind = kind.impl_instance
    if isinstance(kind, BigInteger):
        return MAX_FILTER_INT
    if isinstance(kind, SmallInteger):
        return 2**15 - 1
    if isinstance(kind, Integer):
        return 2**31 - 1
    return MAX_FILTER_INT
