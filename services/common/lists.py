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

What a page costs: a list's statement (its scope and filters) may be built once for the
values it holds and kept (:func:`kept_statement`), so a page asked again does not build it
and work out its SQL again. An offset page of a list whose table keeps a version counts
its total once per version (the count is kept with the version it was read at; the page's own
statement reads the version, and only when it has moved is the list counted again, in
the page's statement). A page of plain rows is compiled once per shape and read on the
driver (:mod:`services.common.listdriver`). The parameters are parsed in
:mod:`services.common.listparams`.
"""

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import Response
from sqlalchemy import ColumnElement, Select, bindparam, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.cache_key import CacheKey

from services.common import listscale
from services.common.cursors import coerce_cursor_value, encode_cursor
from services.common.listdriver import (
    COUNT_LIMIT,
    CURSOR_ID,
    CURSOR_VALUE,
    PAGE_LIMIT,
    PAGE_OFFSET,
    read_page,
    shape_key,
)
from services.common.listparams import (
    DEFAULT_PAGE_SIZE,
    ListQuery,
    filter_flag,
    filter_values,
    filters_key,
    list_query,
    one_query,
    parse_uuid_list,
    where_ids,
)

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "ESTIMATED_HEADER",
    "ListQuery",
    "Page",
    "fetch_page",
    "filter_flag",
    "filter_values",
    "filters_key",
    "kept_statement",
    "list_query",
    "one_query",
    "page_of",
    "parse_uuid_list",
    "where_ids",
]

T = TypeVar("T")

# Present (``true``) when a list's ``Content-Range`` total is an estimate, not a count.
ESTIMATED_HEADER = "X-Total-Count-Estimated"

# Lists' statements by the values they were built from; and, by the id of each kept
# statement (held, so its id is not taken by another), its list key on each database.
_statements: listscale.Lru[tuple[Any, ...], Select[Any]] = listscale.Lru()
_statement_keys: listscale.Lru[int, tuple[Select[Any], dict[int, tuple[Any, ...]]]] = (
    listscale.Lru()
)


def kept_statement(key: tuple[Any, ...], build: Callable[[], Select[Any]]) -> Select[Any]:
    """The list statement ``build()`` makes, built once for ``key`` and kept.

    ``key`` must hold every value the statement is built from (the caller's scope, each
    filter's value: :func:`services.common.listparams.filters_key`, the day where a filter
    depends on it): two requests with equal keys get the very same statement. A page of a
    kept statement skips building it, working out its cache key (SQLAlchemy memoises it
    on the statement) and its list key. A ``build()`` that raises (a bad filter value)
    keeps nothing."""
    stmt = _statements.get(key)
    if stmt is None:
        stmt = build()
        _statements.put(key, stmt)
        _statement_keys.put(id(stmt), (stmt, {}))
    return stmt


def _key_of(session: AsyncSession, stmt: Select[Any], cache_key: CacheKey) -> tuple[Any, ...]:
    """:func:`listscale.key_of`, remembered for a kept statement."""
    kept = _statement_keys.get(id(stmt))
    if kept is None or kept[0] is not stmt:
        return listscale.key_of(session, stmt, cache_key)
    bind = id(session.bind)
    key = kept[1].get(bind)
    if key is None:
        key = kept[1][bind] = listscale.key_of(session, stmt, cache_key)
    return key


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


class _Shape:
    """How one page of a list is read: the list's statement, its order and its columns."""

    __slots__ = ("by_id", "columns", "id_column", "query", "sort_column", "stmt", "versioned")

    def __init__(
        self,
        stmt: Select[Any],
        query: ListQuery,
        *,
        sort_column: ColumnElement[Any],
        id_column: ColumnElement[Any],
        by_id: bool,
        versioned: listscale.Versioned | None,
        columns: Sequence[ColumnElement[Any]],
    ) -> None:
        self.stmt, self.query, self.sort_column, self.id_column = (
            stmt,
            query,
            sort_column,
            id_column,
        )
        self.by_id, self.versioned, self.columns = by_id, versioned, columns

    @property
    def objects(self) -> tuple[Any, ...]:
        """What a page's compiled form names by identity: its sort, id and per-row columns."""
        return (self.sort_column, self.id_column, *self.columns)

    def driver_key(
        self, session: AsyncSession, cache_key: CacheKey, *parts: Any
    ) -> tuple[Any, ...]:
        """The key of this page's compiled form (``listdriver``), ``parts`` telling apart
        the statements read for one list (counted or not, seeked from an anchor)."""
        return shape_key(
            session.bind.dialect,  # type: ignore[union-attr]
            cache_key,
            self.query.sort,
            self.query.descending,
            *parts,
            self.versioned,
            objects=self.objects,
        )

    def on_driver(
        self, page: Callable[[], Select[Any]]
    ) -> Callable[[], tuple[Select[Any] | None, Sequence[Any]]]:
        """How ``read_page`` builds a page of this shape the first time: ``page()`` and the
        objects its key names; None for a list of ORM objects (the session builds them)."""

        def build() -> tuple[Select[Any] | None, Sequence[Any]]:
            if _entity_rows(self.stmt):
                return None, ()
            return page(), self.objects

        return build

    def count_column(self) -> ColumnElement[int]:
        """The list's bounded count, its limit bound by name (``COUNT_LIMIT``)."""
        key = self.id_column if self.versioned else None
        return listscale.count_column(
            self.stmt, self.query.exact_count_limit, key=key, bound=COUNT_LIMIT
        )

    def ordered(self) -> Select[Any]:
        """The list's rows in the page's order (then by id), with the per-row columns."""
        descending = self.query.descending
        direction = (lambda c: c.desc()) if descending else (lambda c: c.asc())
        order = [self.id_column] if self.by_id else [self.sort_column, self.id_column]
        return self.stmt.order_by(*(direction(c) for c in order)).add_columns(*self.columns)

    def tail(self, session: AsyncSession, counted: bool) -> list[ColumnElement[Any]]:
        """The columns after the row's own: its total (``counted``), then its version."""
        tail = [self.count_column()] if counted else []
        if self.versioned:
            tail.append(listscale.version_column(session, self.versioned))
        return tail

    def total_of(self, row: Any) -> int:
        return row[len(row) - 1 - int(bool(self.versioned))]

    def offset_page(
        self, session: AsyncSession, counted: bool, *, limit: Any, offset: Any
    ) -> Select[Any]:
        tail = self.tail(session, counted)
        return self.ordered().offset(offset).limit(limit).add_columns(*tail)

    def cursor_page(self, session: AsyncSession, counted: bool) -> Select[Any]:
        """The page after the row the cursor names (its sort value and id bound by name:
        ``cursor_values``), its LIMIT written out, as an offset page's first."""
        query = self.query
        row_id = bindparam(CURSOR_ID, type_=self.id_column.type)
        if self.by_id:
            after = self.id_column < row_id if query.descending else self.id_column > row_id
        else:
            value = bindparam(CURSOR_VALUE, type_=self.sort_column.type)
            keys = tuple_(self.sort_column, self.id_column)
            after = (
                keys < tuple_(value, row_id) if query.descending else keys > tuple_(value, row_id)
            )
        page = self.ordered().where(after).limit(listscale.written_out(query.limit + 1))
        return page.add_columns(*self.tail(session, counted))

    def cursor_values(self) -> dict[str, Any]:
        """The values :meth:`cursor_page` binds: the sort value and id the cursor names."""
        cursor = self.query.cursor
        assert cursor is not None
        values: dict[str, Any] = {CURSOR_ID: uuid.UUID(cursor.row_id)}
        if not self.by_id:
            values[CURSOR_VALUE] = coerce_cursor_value(self.sort_column, cursor.value)
        return values


async def _offset_rows(
    session: AsyncSession, shape: _Shape, cache_key: CacheKey | None, counted: bool
) -> list[Any]:
    """An offset page's rows (and tail), on the driver where its shape allows."""
    query = shape.query
    # A first page's window is written out: with LIMIT bound, PostgreSQL's generic plan
    # of the prepared statement looks dearer than each custom one, so it planned the
    # page anew on every request (a third of what the page cost the database).
    first = query.start == 0

    def page() -> Select[Any]:
        return shape.offset_page(
            session,
            counted,
            limit=listscale.written_out(query.limit + 1) if first else PAGE_LIMIT,
            offset=None if first else PAGE_OFFSET,
        )

    window = {
        PAGE_LIMIT.key: query.limit + 1,
        PAGE_OFFSET.key: query.start,
        COUNT_LIMIT.key: query.exact_count_limit + 1,
    }
    if cache_key is not None:
        key = shape.driver_key(session, cache_key, counted, query.limit if first else None)
        rows = await read_page(session, key, shape.on_driver(page), cache_key, window)
        if rows is not None:
            return rows
    return list((await session.execute(page(), window)).all())


def _list_key(session: AsyncSession, stmt: Select[Any]) -> tuple[tuple[Any, ...], CacheKey | None]:
    """``stmt``'s list key (remembered for a kept statement) and, unordered, its cache key."""
    cache_key = None if stmt._order_by_clauses else stmt._generate_cache_key()
    if cache_key is None:
        return listscale.list_key(session, stmt), None
    return _key_of(session, stmt, cache_key), cache_key


async def _anchored_read(
    session: AsyncSession,
    shape: _Shape,
    cache_key: CacheKey | None,
    build: listscale.AnchoredPage,
    values: dict[str, Any],
    window: tuple[int, int],
) -> list[Any]:
    """A page seeked from an anchor (``listscale.anchored_rows``), on the driver where its
    shape allows: compiled once per shape and window, its anchor bound by name."""
    if cache_key is not None:
        key = shape.driver_key(session, cache_key, "anchored", *window)
        rows = await read_page(
            session, key, shape.on_driver(lambda: build(*window)), cache_key, values
        )
        if rows is not None:
            return rows
    return await listscale.read_in_session(session, build, values, window)


async def _counted_page(
    session: AsyncSession,
    shape: _Shape,
    count: bool,
    read: Callable[[bool], Awaitable[list[Any]]],
    key: tuple[Any, ...],
) -> tuple[list[Any], int | None, int | None, tuple[Any, ...]]:
    """A page read by ``read(counted)``: its rows, its total (None when the page is empty
    or not counted), the version it was read at and the list's key (``key``). A
    versioned list's total is the count kept at the version the page reads, else
    counted in the page's statement (and kept)."""
    kept = listscale.kept_count(key) if count and shape.versioned else None
    rows = await read(count and kept is None)
    version = rows[0][-1] if shape.versioned and rows else None
    if not count or not rows:
        return rows, None, version, key
    if kept is not None:
        if version == kept[0]:
            return rows, kept[1], version, key
        # The table has changed since: count again, with the page, in one statement.
        rows = await read(True)
        if not rows:
            return rows, None, None, key
        version = rows[0][-1]
    total = shape.total_of(rows[0])
    if shape.versioned and total <= shape.query.exact_count_limit:
        listscale.keep_count(key, version, total)
    return rows, total, version, key


async def _offset_page(
    session: AsyncSession, shape: _Shape, count: bool
) -> tuple[list[Any], int | None, int | None, tuple[Any, ...]]:
    """An offset page (:func:`_counted_page`), on the driver where its shape allows."""
    key, cache_key = _list_key(session, shape.stmt)
    return await _counted_page(
        session,
        shape,
        count,
        lambda counted: _offset_rows(session, shape, cache_key, counted),
        key,
    )


async def _cursor_page(
    session: AsyncSession, shape: _Shape, count: bool
) -> tuple[list[Any], int | None, int | None, tuple[Any, ...]]:
    """The page after a cursor (:func:`_counted_page`), on the driver where its shape
    allows: it takes the total kept at the version as an offset page does, rather than
    counting again on every page (at 1M grants, 5,001 rows)."""
    query = shape.query
    key, cache_key = _list_key(session, shape.stmt)
    window = {**shape.cursor_values(), COUNT_LIMIT.key: query.exact_count_limit + 1}

    async def read(counted: bool) -> list[Any]:
        def page() -> Select[Any]:
            return shape.cursor_page(session, counted)

        if cache_key is not None:
            page_key = shape.driver_key(session, cache_key, "cursor", counted, query.limit)
            rows = await read_page(session, page_key, shape.on_driver(page), cache_key, window)
            if rows is not None:
                return rows
        return list((await session.execute(page(), window)).all())

    return await _counted_page(session, shape, count, read, key)


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
    objects are built, and offset pages are read on the driver), with ``list_total``
    and ``list_version`` among their fields. ``columns`` are read for the page's rows
    only (not counted, not anchored): e.g. a row's children gathered by
    :func:`services.common.listscale.related_ids`; they must be built once (module
    constants), not per request: a page's compiled shape names them.

    The total is exact up to the query's ``exact_count_limit`` and may be an estimate
    beyond it (:mod:`services.common.listscale`); it is read in the page's own
    statement (one round trip), or kept from the last count at the table's version.
    ``versioned`` names the table version (``list_versions``) that every row ``stmt``
    can match depends on, and nothing else: it lets deep ``range`` pages seek from
    anchors and keeps exact totals; a tuple names several tables (a list that joins or
    tests another table).
    """
    by_id = query.sort == "id" and "id" not in sort_columns
    sort_column = id_column if by_id else sort_columns[query.sort]
    if versioned and not by_id and listscale.nullable(sort_column):
        versioned = None
    shape = _Shape(
        stmt,
        query,
        sort_column=sort_column,
        id_column=id_column,
        by_id=by_id,
        versioned=versioned,
        columns=columns,
    )
    key: tuple[Any, ...] = ()
    found: list[Any] | None = None
    version: int | None = None
    total: int | None = None
    if query.cursor is not None:
        found, total, version, key = await _cursor_page(session, shape, count)
    elif versioned and query.start >= query.anchor_every:
        key, cache_key = _list_key(session, stmt)
        anchored = await listscale.anchored_rows(
            session,
            shape.ordered(),
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
            read=lambda build, values, window: _anchored_read(
                session, shape, cache_key, build, values, window
            ),
        )
        if anchored is not None:
            found, version, anchored_total = anchored
            # Exact at the version the page was read at: nothing to count.
            total = anchored_total if count else None
    if found is None:
        found, total, version, key = await _offset_page(session, shape, count)
    elif count and found and total is None:
        total = shape.total_of(found[0])
        version = found[0][-1] if versioned else None
    if total is None:
        total = 0
        if count and not found and (query.start or query.cursor is not None):
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
