"""The list contract of react-admin's ``ra-data-simple-rest`` data provider.

``GET /things?sort=["name","ASC"]&range=[0,24]&filter={"status":"active"}``
answers a JSON array with ``Content-Range: things 0-24/319``. ``filter={"id":[...]}``
fetches many. Page sizes are capped. A malformed ``sort``, ``range`` or
``filter`` is a 400 problem that says what is wrong.

Deep pages: ``range`` is an offset, which a database must walk. Every page also
answers ``X-Next-Cursor``; sending it back as ``cursor=`` continues from the last
row by its sort key (keyset pagination), so page 4,000 costs what page 1 does.
"""

import base64
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import orjson
from fastapi import Query, Request, Response
from sqlalchemy import ColumnElement, Select, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.errors import BadRequest

DEFAULT_PAGE_SIZE = 25


@dataclass(frozen=True, slots=True)
class ListQuery:
    """A parsed list request: one sort, a window and filters."""

    resource: str
    sort: str
    descending: bool
    start: int
    end: int
    filters: dict[str, Any] = field(default_factory=dict)
    cursor: tuple[Any, str] | None = None

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


def _encode_cursor(sort: str, descending: bool, value: Any, row_id: Any) -> str:
    if isinstance(value, datetime | date):
        value = value.isoformat()
    elif isinstance(value, Decimal | uuid.UUID):
        value = str(value)
    raw = orjson.dumps([sort, descending, value, str(row_id)])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(raw: str, sort: str, descending: bool) -> tuple[Any, str]:
    try:
        padded = raw + "=" * (-len(raw) % 4)
        c_sort, c_desc, value, row_id = orjson.loads(base64.urlsafe_b64decode(padded))
    except (ValueError, orjson.JSONDecodeError) as exc:
        raise BadRequest(
            "The 'cursor' parameter is not one this service gave out; "
            "use the X-Next-Cursor header of the previous page.",
            slug="bad-list-parameter",
            errors={"cursor": ["is not a valid cursor"]},
        ) from exc
    if c_sort != sort or bool(c_desc) != descending:
        raise BadRequest(
            "The 'cursor' belongs to another sort order; send the same 'sort' as the page it came from.",
            slug="bad-list-parameter",
            errors={"cursor": ["does not match the sort"]},
        )
    return value, row_id


def list_query(
    resource: str,
    *,
    sortable: Sequence[str],
    filterable: Sequence[str],
    default_sort: tuple[str, str] = ("created_at", "DESC"),
    max_page_size: int | None = None,
) -> Callable[..., ListQuery]:
    """A FastAPI dependency that parses and checks the list parameters of ``resource``."""
    sortable_set = set(sortable)
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
                or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)
                or value[0] < 0
                or value[1] < value[0]
            ):
                raise BadRequest(
                    "The 'range' parameter must be a JSON pair of whole numbers [start,end] "
                    "with 0 <= start <= end, like [0,24].",
                    slug="bad-list-parameter",
                    errors={"range": ["must be [start,end] with 0 <= start <= end"]},
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
            filters = value
        descending = direction.upper() == "DESC"
        decoded = _decode_cursor(cursor, field_name, descending) if cursor else None
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
    """Run ``stmt`` as one page of ``query``: sorted, windowed (by offset or cursor), counted."""
    sort_column = sort_columns[query.sort]
    total = 0
    if count:
        count_stmt = select(func.count()).select_from(stmt.order_by(None).subquery())
        total = (await session.execute(count_stmt)).scalar_one()
    ordered = stmt.order_by(
        sort_column.desc() if query.descending else sort_column.asc(),
        id_column.desc() if query.descending else id_column.asc(),
    )
    if query.cursor is not None:
        value, row_id = query.cursor
        value = _coerce(sort_column, value)
        row_uuid = uuid.UUID(row_id)
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
            row_key(last, query.sort) if row_key else (getattr(last, query.sort), last.id)
        )
        next_cursor = _encode_cursor(query.sort, query.descending, value, row_id)
    return Page(rows, total, query.start, next_cursor)


def _coerce(column: ColumnElement[Any], value: Any) -> Any:
    try:
        python_type = column.type.python_type
    except NotImplementedError:
        return value
    if value is None:
        return None
    if python_type is datetime:
        return datetime.fromisoformat(value)
    if python_type is date:
        return date.fromisoformat(value)
    if python_type is uuid.UUID:
        return uuid.UUID(value)
    if python_type is Decimal:
        return Decimal(value)
    return value
