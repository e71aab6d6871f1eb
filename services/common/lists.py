"""The list contract of react-admin's ``ra-data-simple-rest`` data provider.

``GET /things?sort=["name","ASC"]&range=[0,24]&filter={"status":"active"}``
answers a JSON array with ``Content-Range: things 0-24/319``. ``filter={"id":[...]}``
fetches many. Page sizes are capped. A malformed ``sort``, ``range`` or
``filter`` is a 400 problem that says what is wrong.

Deep pages: ``range`` is an offset, which a database must walk. Every page also
answers ``X-Next-Cursor``; sending it back as ``cursor=`` continues from the last
row by its sort key (keyset pagination), so page 4,000 costs what page 1 does.
A cursor page reports where it sits (``Content-Range: things 5-9/32``). Lists whose
table keeps a version also seek deep ``range`` pages from cached anchors, and large
totals may be estimates (``X-Total-Count-Estimated: true``): see
:mod:`services.common.listscale`.

Every list can be sorted by ``id`` (react-admin's default sort) and filtered by
``id``; rows that tie on the sort key come in ``id`` order, so pages never overlap.
A ``filter`` a list does not know is refused, never ignored. Lists that a service
builds in memory (a handful of rows) page with :func:`page_of`, so they answer the
same parameters and headers as the ones read from the database.
"""

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import orjson
from fastapi import Query, Request, Response
from sqlalchemy import (
    ColumnElement,
    Select,
    tuple_,
)
from sqlalchemy.ext.asyncio import AsyncSession

from services.common import listscale
from services.common.cursors import (
    MAX_FILTER_INT,
    MAX_INDEX,
    Cursor,
    coerce_cursor_value,
    decode_cursor,
    encode_cursor,
    is_int,
)
from services.common.errors import BadRequest

T = TypeVar("T")

DEFAULT_PAGE_SIZE = 25
# Present (``true``) when a list's ``Content-Range`` total is an estimate, not a count.
ESTIMATED_HEADER = "X-Total-Count-Estimated"


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
    exact_count_limit: int = listscale.EXACT_COUNT_LIMIT
    anchor_every: int = listscale.ANCHOR_EVERY

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
    elif (is_int(value) or isinstance(value, float)) and not abs(value) <= MAX_FILTER_INT:
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

    async def parse(
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
                or not all(is_int(v) for v in value)
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
            decoded = decode_cursor(cursor, field_name, descending)
            # A cursor page is as long as the range asks; it starts where the cursor says.
            start, end = decoded.position, decoded.position + (end - start)
        settings = request.app.state.settings
        return ListQuery(
            resource,
            field_name,
            descending,
            start,
            end,
            filters,
            decoded,
            getattr(settings, "list_exact_count_limit", listscale.EXACT_COUNT_LIMIT),
            getattr(settings, "list_anchor_every", listscale.ANCHOR_EVERY),
        )

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
    estimated: bool = False

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
        if self.estimated:
            headers[ESTIMATED_HEADER] = "true"
        return headers

    def apply(self, response: Response, resource: str) -> None:
        response.headers.update(self.headers(resource))


def _entity_rows(stmt: Select[Any]) -> bool:
    """Whether ``stmt`` selects one ORM entity (its rows are the objects), not columns."""
    described = stmt.column_descriptions
    return len(described) == 1 and described[0]["expr"] is described[0]["entity"]


async def fetch_page(
    session: AsyncSession,
    stmt: Select[Any],
    query: ListQuery,
    *,
    sort_columns: dict[str, ColumnElement[Any]],
    id_column: ColumnElement[Any],
    count: bool = True,
    row_key: Callable[[Any, str], tuple[Any, Any]] | None = None,
    versioned: listscale.Versioned | None = None,
    columns: Sequence[ColumnElement[Any]] = (),
) -> Page:
    """Run ``stmt`` as one page of ``query``: sorted, windowed (by offset or cursor), counted.

    Rows are ordered by the sort column, then by ``id_column``, so rows that tie on
    the sort come in a stable order and a cursor continues exactly. Sorting by
    ``id`` needs no entry in ``sort_columns``: it is ``id_column``. A statement of one
    ORM entity gives its objects; a statement of columns gives its rows (cheaper: no
    objects are built), with ``list_total`` and ``list_version`` among their fields.
    ``columns`` are read for the page's rows only (not counted, not anchored): e.g. a
    row's children gathered by :func:`services.common.listscale.related_ids`.

    The total is exact up to the query's ``exact_count_limit`` and may be an estimate
    beyond it (:mod:`services.common.listscale`); it is read in the page's own
    statement (one round trip). ``versioned`` names the table version
    (``list_versions``) that every row ``stmt`` can match depends on, and nothing else:
    it lets deep ``range`` pages seek from anchors and keeps exact totals of large lists;
    a tuple names several tables (a list that joins or tests another table).
    """
    by_id = query.sort == "id" and "id" not in sort_columns
    sort_column = id_column if by_id else sort_columns[query.sort]
    if versioned and not by_id and listscale.nullable(sort_column):
        versioned = None
    extras: list[ColumnElement[Any]] = []
    if count:
        extras.append(
            listscale.count_column(
                stmt, query.exact_count_limit, key=id_column if versioned else None
            )
        )
    direction = (lambda c: c.desc()) if query.descending else (lambda c: c.asc())
    ordered = stmt.order_by(
        *([direction(id_column)] if by_id else [direction(sort_column), direction(id_column)])
    ).add_columns(*columns)
    key: tuple[Any, ...] = ()
    found: list[Any] | None = None
    version: int | None = None
    if query.cursor is not None:
        row_uuid = uuid.UUID(query.cursor.row_id)
        if by_id:
            ordered = ordered.where(
                id_column < row_uuid if query.descending else id_column > row_uuid
            )
        else:
            value = coerce_cursor_value(sort_column, query.cursor.value)
            key_columns = tuple_(sort_column, id_column)
            ordered = ordered.where(
                key_columns < (value, row_uuid)
                if query.descending
                else key_columns > (value, row_uuid)
            )
    elif versioned and query.start >= query.anchor_every:
        key = listscale.list_key(session, stmt)
        anchored = await listscale.anchored_rows(
            session,
            ordered,
            stmt,
            (*key, query.sort, query.descending, query.anchor_every),
            sort_column=sort_column,
            id_column=id_column,
            by_id=by_id,
            descending=query.descending,
            start=query.start,
            limit=query.limit + 1,
            every=query.anchor_every,
            versioned=versioned,
            columns=extras,
        )
        if anchored is not None:
            found, version = anchored
    if found is None:
        page_stmt = ordered if query.cursor is not None else ordered.offset(query.start)
        page_stmt = page_stmt.limit(query.limit + 1).add_columns(*extras)
        if versioned:
            page_stmt = page_stmt.add_columns(listscale.version_column(session, versioned))
        found = list((await session.execute(page_stmt)).all())
        version = found[0][-1] if versioned and found else None
    total = 0
    if count:
        if found:
            total = found[0][len(found[0]) - len(extras) - int(bool(versioned))]
        elif query.start or query.cursor is not None:
            total = await listscale.bounded_count(
                session, stmt, query.exact_count_limit, key=id_column if versioned else None
            )
    rows = [row[0] for row in found] if not columns and _entity_rows(stmt) else found
    more = len(rows) > query.limit
    rows = rows[: query.limit]
    estimated = False
    if total > query.exact_count_limit:
        total, estimated = await listscale.large_total(
            session,
            stmt,
            key or listscale.list_key(session, stmt),
            versioned=versioned,
            version=version,
        )
        # Never fewer than the page itself proves there are.
        proven = query.start + len(rows) + int(more) if rows else 0
        total = max(total, query.exact_count_limit + 1, proven)
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
        next_cursor = encode_cursor(
            query.sort, query.descending, value, row_id, query.start + len(rows)
        )
    return Page(rows, total, query.start, next_cursor, estimated)


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
        next_cursor = encode_cursor(
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
