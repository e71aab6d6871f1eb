"""The parameters of a list request: react-admin's ``sort``, ``range``, ``filter`` and a
``cursor``, parsed and checked once into a :class:`ListQuery`, and the helpers that read
filter values. Anything malformed is a 400 problem that says what is wrong, never a
database error. The contract as a whole is described in :mod:`services.common.lists`.
"""

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import orjson
from fastapi import Query, Request
from sqlalchemy import ColumnElement, Select

from services.common import listscale
from services.common.cursors import MAX_FILTER_INT, MAX_INDEX, Cursor, decode_cursor, is_int
from services.common.errors import BadRequest

DEFAULT_PAGE_SIZE = 25
# How many parsed query strings each list keeps (``from_request``).
_PARSED_QUERIES = 256


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


def filters_key(filters: dict[str, Any]) -> bytes:
    """``filters`` as one hashable value, equal for equal filters (keys in order): part of
    the key of a list statement built from them (``lists.kept_statement``)."""
    return orjson.dumps(filters, option=orjson.OPT_SORT_KEYS) if filters else b"{}"


def json_param(name: str, raw: str, example: str) -> Any:
    """A list parameter's JSON; a 400 that shows how to send it when it is not JSON."""
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

    def limits(request: Request) -> tuple[int, int, int]:
        """What the service's settings set for this list: the page cap (the route's own,
        else ``TRELLIS_<SERVICE>_MAX_PAGE_SIZE``), the exact-count limit, the anchors'
        spacing."""
        settings = request.app.state.settings
        return (
            max_page_size or getattr(settings, "max_page_size", 100),
            getattr(settings, "list_exact_count_limit", listscale.EXACT_COUNT_LIMIT),
            getattr(settings, "list_anchor_every", listscale.ANCHOR_EVERY),
        )

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
            value = json_param("sort", sort, '["created_at","DESC"]')
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
            value = json_param("range", range_, "[0,24]")
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
        cap, exact_count_limit, anchor_every = limits(request)
        end = min(end, start + cap - 1)
        filters: dict[str, Any] = {}
        if filter_ is not None:
            value = json_param("filter", filter_, '{"id":["..."]}')
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
        return ListQuery(
            resource,
            field_name,
            descending,
            start,
            end,
            filters,
            decoded,
            exact_count_limit,
            anchor_every,
        )

    # Parsed queries by their query string and the settings they were parsed with: a
    # front end asks for the same few pages again and again (cursor pages aside).
    parsed: listscale.Lru[tuple[Any, ...], ListQuery] = listscale.Lru(_PARSED_QUERIES)

    async def from_request(request: Request) -> ListQuery:
        """The same parse, of the request's own query string: how a hot list
        (:mod:`services.common.hotreads`) reads it without FastAPI's dependency solver.
        A parameter sent twice counts by its last value, as FastAPI takes it. A query
        string parsed before is not parsed again (nor its parameters decoded)."""
        key = (request.scope["query_string"], *limits(request))
        kept = parsed.get(key)
        if kept is None:
            params = request.query_params
            query = await parse(
                request,
                params.get("sort"),
                params.get("range"),
                params.get("filter"),
                params.get("cursor"),
            )
            if query.cursor is not None:
                return query
            parsed.put(key, query)
            kept = query
        # Its own filters: no request's query is shared with another's.
        return replace(kept, filters=dict(kept.filters))

    parse.from_request = from_request  # type: ignore[attr-defined]
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
