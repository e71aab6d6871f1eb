"""The list contract of react-admin's ``ra-data-simple-rest`` data provider.

``GET /things?sort=["name","ASC"]&range=[0,24]&filter={"status":"active"}``
answers a JSON array with ``Content-Range: things 0-24/319``. ``filter={"id":[...]}``
fetches many. Page sizes are capped. A malformed ``sort``, ``range`` or
``filter`` is a 400 problem that says what is wrong.

Deep pages: ``range`` is an offset, which a database must walk. Every page also
answers ``X-Next-Cursor``; sending it back as ``cursor=`` continues from the last
row by its sort key (keyset pagination), so page 4,000 costs what page 1 does.
A cursor page reports where it sits (``Content-Range: things 5-9/32``).

Every list can be sorted by ``id`` (react-admin's default sort) and filtered by
``id``; rows that tie on the sort key come in ``id`` order, so pages never overlap.
A ``filter`` a list does not know is refused, never ignored. Lists that a service
builds in memory (a handful of rows) page with :func:`page_of`, so they answer the
same parameters and headers as the ones read from the database.
"""

import base64
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar

import orjson
from fastapi import Query, Request, Response
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    Select,
    SmallInteger,
    func,
    select,
    tuple_,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import TypeDecorator

from services.common.errors import BadRequest

T = TypeVar("T")

DEFAULT_PAGE_SIZE = 25
# The largest index a ``range`` or a cursor may name: what a JavaScript client can
# count exactly (2^53 - 1), far below what a database's OFFSET takes (2^63 - 1).
MAX_INDEX = 2**53 - 1
# The integers a filter may hold: what the databases store (64-bit signed).
MAX_FILTER_INT = 2**63 - 1


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where a cursor page starts: after the row with this sort value and id, at ``position``."""

    value: Any
    row_id: str
    position: int


@dataclass(frozen=True, slots=True)
class ListQuery:
    """A parsed list request: one sort, a window and filters."""

    resource: str
    sort: str
    descending: bool
    start: int
    end: int
    filters: dict[str, Any] = field(default_factory=dict)
    cursor: Cursor | None = None

    @property
    def limit(self) -> int:
        return self.end - self.start + 1


def _json_param(name: str, raw: str, example: str) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(
            f"The '{name}' parameter is not valid JSON. Send it like {name}={example}.",
            slug="bad-list-parameter",
            errors={name: ["is not valid JSON"]},
        ) from exc


def _bad_cursor(reason: str = "is not a valid cursor") -> BadRequest:
    return BadRequest(
        "The 'cursor' parameter is not one this service gave out; "
        "use the X-Next-Cursor header of the previous page.",
        slug="bad-list-parameter",
        errors={"cursor": [reason]},
    )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _encode_cursor(sort: str, descending: bool, value: Any, row_id: Any, position: int) -> str:
    if isinstance(value, datetime | date):
        value = value.isoformat()
    elif isinstance(value, Decimal | uuid.UUID):
        value = str(value)
    raw = orjson.dumps([sort, descending, value, str(row_id), position])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(raw: str, sort: str, descending: bool) -> Cursor:
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
        _is_int(value) and abs(value) > MAX_FILTER_INT
    ):
        raise _bad_cursor()
    if not isinstance(row_id, str) or not _is_int(position) or not 0 <= position <= MAX_INDEX:
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


def _check_filter_values(value: Any) -> None:
    """Numbers in a filter must fit what the databases store, and text must hold no NUL
    (PostgreSQL's text cannot); anything else is a 400."""
    if isinstance(value, dict):
        for key, item in value.items():
            _check_filter_values(key)
            _check_filter_values(item)
    elif isinstance(value, list):
        for item in value:
            _check_filter_values(item)
    elif isinstance(value, str) and "\x00" in value:
        raise BadRequest(
            "Text in 'filter' cannot hold a NUL character (\\u0000).",
            slug="bad-list-parameter",
            errors={"filter": ["holds a NUL character"]},
        )
    elif (_is_int(value) or isinstance(value, float)) and not abs(value) <= MAX_FILTER_INT:
        raise BadRequest(
            f"A number in 'filter' is out of range: whole numbers go up to {MAX_FILTER_INT}.",
            slug="bad-list-parameter",
            errors={"filter": ["holds a number out of range"]},
        )


def list_query(
    resource: str,
    *,
    sortable: Sequence[str],
    filterable: Sequence[str],
    default_sort: tuple[str, str] = ("created_at", "DESC"),
    max_page_size: int | None = None,
) -> Callable[..., ListQuery]:
    """A FastAPI dependency that parses and checks the list parameters of ``resource``.

    ``id`` is always sortable and filterable (react-admin sorts by it by default and
    fetches many by it); any other filter not in ``filterable`` is a 400.
    """
    sortable_set = {*sortable, "id"}
    filterable_set = {*filterable, "id"}

    def parse(
        request: Request,
        sort: str | None = Query(
            None,
            description='Sort as a JSON pair: ["field","ASC"|"DESC"].',
            examples=['["created_at","DESC"]'],
        ),
        range_: str | None = Query(
            None,
            alias="range",
            description="Window as a JSON pair of 0-based inclusive indexes.",
            examples=["[0,24]"],
        ),
        filter_: str | None = Query(
            None,
            alias="filter",
            description='Filters as a JSON object, e.g. {"id":["..."]}.',
            examples=["{}"],
        ),
        cursor: str | None = Query(
            None, description="Continue after the last row of a page (its X-Next-Cursor header)."
        ),
    ) -> ListQuery:
        field_name, direction = default_sort
        if sort is not None:
            value = _json_param("sort", sort, '["created_at","DESC"]')
            if (
                not isinstance(value, list)
                or len(value) != 2
                or not all(isinstance(v, str) for v in value)
            ):
                raise BadRequest(
                    'The \'sort\' parameter must be a JSON pair like ["created_at","DESC"].',
                    slug="bad-list-parameter",
                    errors={"sort": ["must be a pair of field and direction"]},
                )
            field_name, direction = value
            if field_name not in sortable_set:
                allowed = ", ".join(sorted(sortable_set))
                raise BadRequest(
                    f"{resource} cannot be sorted by '{field_name}'. Sort by one of: {allowed}.",
                    slug="bad-list-parameter",
                    errors={"sort": [f"'{field_name}' is not sortable"]},
                )
            if direction.upper() not in {"ASC", "DESC"}:
                raise BadRequest(
                    f"The sort direction must be ASC or DESC, not '{direction}'.",
                    slug="bad-list-parameter",
                    errors={"sort": ["direction must be ASC or DESC"]},
                )
        start, end = 0, DEFAULT_PAGE_SIZE - 1
        if range_ is not None:
            value = _json_param("range", range_, "[0,24]")
            if (
                not isinstance(value, list)
                or len(value) != 2
                or not all(_is_int(v) for v in value)
                or value[0] < 0
                or value[1] < value[0]
            ):
                raise BadRequest(
                    "The 'range' parameter must be a JSON pair of whole numbers [start,end] "
                    "with 0 <= start <= end, like [0,24].",
                    slug="bad-list-parameter",
                    errors={"range": ["must be [start,end] with 0 <= start <= end"]},
                )
            if value[0] > MAX_INDEX:
                raise BadRequest(
                    f"The 'range' start is out of range: it goes up to {MAX_INDEX}.",
                    slug="bad-list-parameter",
                    errors={"range": [f"start must be at most {MAX_INDEX}"]},
                )
            start, end = value
        # The route's own cap, else the service's (TRELLIS_<SERVICE>_MAX_PAGE_SIZE).
        cap = max_page_size or getattr(request.app.state.settings, "max_page_size", 100)
        end = min(end, start + cap - 1)
        filters: dict[str, Any] = {}
        if filter_ is not None:
            value = _json_param("filter", filter_, '{"id":["..."]}')
            if not isinstance(value, dict):
                raise BadRequest(
                    "The 'filter' parameter must be a JSON object of field names to values.",
                    slug="bad-list-parameter",
                    errors={"filter": ["must be a JSON object"]},
                )
            unknown = sorted(set(value) - filterable_set)
            if unknown:
                allowed = ", ".join(sorted(filterable_set))
                raise BadRequest(
                    f"{resource} cannot be filtered by {', '.join(repr(u) for u in unknown)}. "
                    f"Filter by one of: {allowed}.",
                    slug="bad-list-parameter",
                    errors={"filter": [f"unknown filter {u!r}" for u in unknown]},
                )
            _check_filter_values(value)
            filters = value
        descending = direction.upper() == "DESC"
        decoded = None
        if cursor:
            decoded = _decode_cursor(cursor, field_name, descending)
            # A cursor page is as long as the range asks; it starts where the cursor says.
            start, end = decoded.position, decoded.position + (end - start)
        return ListQuery(resource, field_name, descending, start, end, filters, decoded)

    return parse


def parse_uuid_list(name: str, value: Any) -> list[uuid.UUID]:
    """A filter value that is one id or a list of ids."""
    values = value if isinstance(value, list) else [value]
    try:
        return [uuid.UUID(str(v)) for v in values]
    except ValueError as exc:
        raise BadRequest(
            f"The '{name}' filter must hold ids (UUIDs).",
            slug="bad-list-parameter",
            errors={"filter": [f"{name} must be a UUID or a list of UUIDs"]},
        ) from exc


def filter_values(name: str, value: Any, allowed: Sequence[str]) -> list[str]:
    """A filter value that is one of ``allowed`` or a list of them."""
    values = value if isinstance(value, list) else [value]
    bad = [v for v in values if v not in allowed]
    if bad:
        raise BadRequest(
            f"The '{name}' filter takes {', '.join(allowed)}; {bad[0]!r} is not one of them.",
            slug="bad-list-parameter",
            errors={"filter": [f"{name} must be one of {', '.join(allowed)}"]},
        )
    return [str(v) for v in values]


@dataclass(slots=True)
class Page:
    """One page of rows, the total that matched and where to continue."""

    items: list[Any]
    total: int
    start: int
    next_cursor: str | None

    def headers(self, resource: str) -> dict[str, str]:
        if self.items:
            content_range = (
                f"{resource} {self.start}-{self.start + len(self.items) - 1}/{self.total}"
            )
        else:
            content_range = f"{resource} */{self.total}"
        headers = {"Content-Range": content_range}
        if self.next_cursor:
            headers["X-Next-Cursor"] = self.next_cursor
        return headers

    def apply(self, response: Response, resource: str) -> None:
        response.headers.update(self.headers(resource))


async def fetch_page(
    session: AsyncSession,
    stmt: Select[Any],
    query: ListQuery,
    *,
    sort_columns: dict[str, ColumnElement[Any]],
    id_column: ColumnElement[Any],
    count: bool = True,
    row_key: Callable[[Any, str], tuple[Any, Any]] | None = None,
) -> Page:
    """Run ``stmt`` as one page of ``query``: sorted, windowed (by offset or cursor), counted.

    Rows are ordered by the sort column, then by ``id_column``, so rows that tie on
    the sort come in a stable order and a cursor continues exactly. Sorting by
    ``id`` needs no entry in ``sort_columns``: it is ``id_column``.
    """
    by_id = query.sort == "id" and "id" not in sort_columns
    sort_column = id_column if by_id else sort_columns[query.sort]
    total = 0
    if count:
        count_stmt = select(func.count()).select_from(stmt.order_by(None).subquery())
        total = (await session.execute(count_stmt)).scalar_one()
    direction = (lambda c: c.desc()) if query.descending else (lambda c: c.asc())
    ordered = stmt.order_by(
        *([direction(id_column)] if by_id else [direction(sort_column), direction(id_column)])
    )
    if query.cursor is not None:
        row_uuid = uuid.UUID(query.cursor.row_id)
        if by_id:
            ordered = ordered.where(
                id_column < row_uuid if query.descending else id_column > row_uuid
            )
        else:
            value = _coerce(sort_column, query.cursor.value)
            key = tuple_(sort_column, id_column)
            ordered = ordered.where(
                key < (value, row_uuid) if query.descending else key > (value, row_uuid)
            )
    else:
        ordered = ordered.offset(query.start)
    rows = list((await session.execute(ordered.limit(query.limit + 1))).scalars().all())
    more = len(rows) > query.limit
    rows = rows[: query.limit]
    next_cursor = None
    if more and rows:
        last = rows[-1]
        value, row_id = (
            row_key(last, query.sort)
            if row_key
            else (last.id if by_id else getattr(last, query.sort), last.id)
        )
        if by_id:
            value = row_id
        next_cursor = _encode_cursor(
            query.sort, query.descending, value, row_id, query.start + len(rows)
        )
    return Page(rows, total, query.start, next_cursor)


def _coerce(column: ColumnElement[Any], value: Any) -> Any:
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
        if python_type is int and _is_int(value):
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


def _field(item: Any, name: str) -> Any:
    return item.get(name) if isinstance(item, dict) else getattr(item, name, None)


def _sort_key(value: Any) -> tuple[bool, Any]:
    if isinstance(value, uuid.UUID):
        value = str(value)
    return (value is None, value if value is not None else 0)


def page_of(
    items: Sequence[T],
    query: ListQuery,
    *,
    filters: dict[str, Callable[[T, Any], bool]] | None = None,
) -> Page:
    """One page of a short list a service already holds, with the same contract as a query.

    ``query.filters`` are matched by ``filters[name](item, value)`` where given, else by
    equality on the item's field of that name (a list value matches any of its
    members; ids compare as text). Rows are sorted by ``query.sort`` then ``id``;
    a cursor resumes at the position it names.
    """
    chosen: list[T] = list(items)
    for name, wanted in query.filters.items():
        if filters and name in filters:
            check = filters[name]
            chosen = [item for item in chosen if check(item, wanted)]
            continue
        options = {_text(v) for v in (wanted if isinstance(wanted, list) else [wanted])}
        chosen = [item for item in chosen if _text(_field(item, name)) in options]
    chosen.sort(key=lambda item: _sort_key(_field(item, "id")), reverse=query.descending)
    if query.sort != "id":
        chosen.sort(key=lambda item: _sort_key(_field(item, query.sort)), reverse=query.descending)
    rows = chosen[query.start : query.start + query.limit]
    next_cursor = None
    if query.start + len(rows) < len(chosen) and rows:
        last = rows[-1]
        value = _field(last, query.sort)
        value = value if isinstance(value, str | int | float | bool | None) else str(value)
        next_cursor = _encode_cursor(
            query.sort, query.descending, value, _field(last, "id"), query.start + len(rows)
        )
    return Page(rows, len(chosen), query.start, next_cursor)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def where_ids(
    stmt: Select[Any], filters: dict[str, Any], columns: dict[str, ColumnElement[Any]]
) -> Select[Any]:
    """``stmt`` narrowed by each id filter present in ``filters`` (one id or a list of them).

    ``columns`` maps a filter name (``funder_id``, ``partner_id``...) to its column: what
    react-admin's ``getManyReference`` sends to read the records of one parent.
    """
    for name, column in columns.items():
        if name in filters:
            stmt = stmt.where(column.in_(parse_uuid_list(name, filters[name])))
    return stmt


def one_query(resource: str, record_id: Any) -> ListQuery:
    """A query for one record by id: how a ``GET /{list}/{id}`` reuses its list's visibility."""
    return ListQuery(resource, "id", False, 0, 0, {"id": [str(record_id)]})


def filter_flag(name: str, value: Any) -> bool:
    """A yes/no filter: ``true`` or ``false`` (JSON, or as text); anything else is a 400."""
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    raise BadRequest(
        f"The '{name}' filter takes true or false.",
        slug="bad-list-parameter",
        errors={"filter": [f"{name} must be true or false"]},
    )
