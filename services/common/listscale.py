"""How a list stays cheap at any size: bounded counts, estimated totals and page anchors.

**Totals.** ``Content-Range`` needs the number of rows that match. Counting them all
costs what reading them all costs, so a list counts at most ``exact_count_limit + 1``
rows (``TRELLIS_<SERVICE>_LIST_EXACT_COUNT_LIMIT``). Up to the limit the total is
exact. Beyond it the total is, in order of preference: the exact count kept for the
table's current version (see below), or an estimate: PostgreSQL's planner estimate
for the same statement, or on SQLite the last exact count of the same list (kept for
``COUNT_TTL`` seconds). An estimate is never below what the page itself proves exists,
it is a whole number react-admin parses like any other, and the response says it is
one with ``X-Total-Count-Estimated: true``.

**Anchors.** react-admin pages with ``range``, an OFFSET that a database walks row by
row. A list whose table keeps a *version* (a row of ``list_versions`` that triggers
bump on every insert, update or delete of the table, made by the service's
migrations) remembers, per statement and sort, the sort key of every
``anchor_every``-th row and the exact count, built in one statement together with the
version they describe. A deep page then seeks to the nearest anchor on the sort index
and skips fewer than ``anchor_every`` rows, on the index alone (a subquery finds the
page's first row from the anchor, reading sort values and ids only; the page then seeks
from it, so only the page's rows are read whole). A list that also tests another table
depends on the sum of both tables' versions. The page statement reads the version in
the same statement (one snapshot): when it is not the version the anchors were built
at, the rows are thrown away and the anchors rebuilt, so anchors never give rows
OFFSET would not. On PostgreSQL the version is bumped by a deferred trigger, once per
transaction at commit (a write never waits on the counter before then), and a
transaction that has changed the table but not committed sees no version at all
(a statement trigger marks it), so it never uses anchors older than its own writes.

Caches are per process, keyed by the database, the compiled statement and its
parameters (which carry the caller's scope, e.g. ``funder_id``): one funder's anchors
or counts are never another's.
"""

import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from weakref import WeakKeyDictionary

import orjson
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Select,
    String,
    bindparam,
    case,
    column,
    func,
    literal_column,
    or_,
    select,
    table,
    tuple_,
    type_coerce,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.cache_key import CacheKey
from sqlalchemy.sql.expression import ClauseElement, Executable, FunctionElement
from sqlalchemy.types import TypeDecorator

# Defaults of the service settings ``list_exact_count_limit`` and ``list_anchor_every``.
EXACT_COUNT_LIMIT = 5_000
ANCHOR_EVERY = 500
# How long SQLite reuses an exact count of a list whose table keeps no version (seconds).
COUNT_TTL = 30.0
CACHE_SIZE = 512
# Lists whose anchors are kept (a 1M-row list at one anchor per 500 rows holds 2,000 keys).
ANCHOR_LISTS = 64

K = TypeVar("K")
V = TypeVar("V")

LIST_VERSIONS = table("list_versions", column("name", String), column("version", BigInteger))


class _Explain(Executable, ClauseElement):
    """``EXPLAIN (FORMAT JSON)`` of a statement, its parameters bound as usual."""

    inherit_cache = False

    def __init__(self, statement: Select[Any]) -> None:
        self.statement = statement


@compiles(_Explain, "postgresql")
def _compile_explain(element: _Explain, compiler: Any, **kw: Any) -> str:
    return "EXPLAIN (FORMAT JSON) " + compiler.process(element.statement, **kw)


class Lru(Generic[K, V]):
    """A small least-recently-used map."""

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self._items: OrderedDict[K, V] = OrderedDict()
        self._size = size

    def get(self, key: K) -> V | None:
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self._size:
            self._items.popitem(last=False)


@dataclass(frozen=True, slots=True)
class Anchors:
    """The sort key of every ``every``-th row of one list at one table version, and its count."""

    version: int
    count: int
    every: int
    keys: list[tuple[Any, Any]]


_anchors: Lru[tuple[Any, ...], Anchors] = Lru(ANCHOR_LISTS)
_sql: Lru[Any, str] = Lru()
# Each engine's URL as text (hashing a URL object renders it every time).
_urls: WeakKeyDictionary[Any, str] = WeakKeyDictionary()
_version_columns: dict[tuple[bool, tuple[str, ...]], ColumnElement[Any]] = {}
_counts: Lru[tuple[Any, ...], tuple[int | None, int, float]] = Lru()


def _is_postgres(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def list_key(session: AsyncSession, stmt: Select[Any]) -> tuple[Any, ...]:
    """What identifies one list: its database, its SQL and its parameters (the caller's
    scope among them). The SQL is compiled once per SQLAlchemy cache key of the
    statement, not on every request."""
    unordered = stmt.order_by(None) if stmt._order_by_clauses else stmt
    cache_key = unordered._generate_cache_key()
    assert cache_key is not None
    return key_of(session, unordered, cache_key)


def key_of(session: AsyncSession, stmt: Select[Any], cache_key: CacheKey) -> tuple[Any, ...]:
    """:func:`list_key` of ``stmt``, unordered, whose cache key is ``cache_key``. (Keyed by
    SQL, not by the cache key itself: a statement's key can differ with how SQLAlchemy
    has handled its parts, e.g. an ORM subquery, while its SQL stays the same.)"""
    bind = session.get_bind()
    sql = _sql.get(cache_key.key)
    if sql is None:
        sql = str(stmt.compile(bind))
        _sql.put(cache_key.key, sql)
    params = tuple(repr(p.effective_value) for p in cache_key.bindparams)
    url = _urls.get(bind)
    if url is None:
        url = _urls[bind] = bind.url.render_as_string()
    return (id(bind), url, sql, params)


def kept_count(key: tuple[Any, ...]) -> tuple[int, int] | None:
    """The exact count of the list ``key`` kept with the table version it was taken at."""
    kept = _counts.get(key)
    if kept is None or kept[0] is None:
        return None
    return kept[0], kept[1]


def keep_count(key: tuple[Any, ...], version: int | None, total: int) -> None:
    """Keep the exact ``total`` of the list ``key``, read at table ``version`` (a
    PostgreSQL transaction that has changed the table reads none: nothing is kept)."""
    if version is not None:
        _counts.put(key, (version, total, time.monotonic()))


Versioned = str | tuple[str, ...]


def version_column(session: AsyncSession, names: Versioned) -> ColumnElement[Any]:
    """The list version of the table ``names`` (or the sum of the versions of the tables,
    when a list depends on several: each only grows, so the sum changes whenever one of
    them does), read in the statement it is added to; NULL inside a PostgreSQL
    transaction that has changed one of them and not yet committed. Built once per
    database kind and tables."""
    postgres = _is_postgres(session)
    tables = (names,) if isinstance(names, str) else names
    built = _version_columns.get((postgres, tables))
    if built is None:
        stored = (
            select(func.sum(LIST_VERSIONS.c.version))
            .where(LIST_VERSIONS.c.name.in_(tables))
            .having(func.count() == len(tables))
            .scalar_subquery()
            if len(tables) > 1
            else select(LIST_VERSIONS.c.version)
            .where(LIST_VERSIONS.c.name == tables[0])
            .scalar_subquery()
        )
        if postgres:
            dirty = or_(
                *(
                    func.coalesce(func.current_setting(f"trellis.list_dirty_{name}", True), "")
                    == "on"
                    for name in tables
                )
            )
            built = case((dirty, None), else_=stored)
        else:
            built = stored
        built = _version_columns[(postgres, tables)] = built.label("list_version")
    return built


def _window(stmt: Select[Any], limit: int, key: Any, bound: Any = None) -> Any:
    if key is not None:
        stmt = stmt.with_only_columns(key, maintain_column_froms=True)
    return stmt.order_by(None).limit(limit + 1 if bound is None else bound).subquery()


async def bounded_count(
    session: AsyncSession, stmt: Select[Any], limit: int, *, key: Any = None
) -> int:
    """How many rows ``stmt`` matches, counting no further than ``limit + 1``. With ``key``
    (a unique column of a single-table statement) only that column is read, so SQLite can
    count from an index instead of reading whole rows."""
    window = _window(stmt, limit, key)
    return int((await session.execute(select(func.count()).select_from(window))).scalar_one())


def count_column(
    stmt: Select[Any], limit: int, *, key: Any = None, bound: Any = None
) -> ColumnElement[int]:
    """:func:`bounded_count` as a column of the page's own statement (labelled
    ``list_total``): one round trip for the page and its total. It does not depend on the
    outer row, so both databases run it once per statement. ``bound``, a parameter, stands
    for ``limit + 1`` in a statement compiled once for any limit."""
    window = _window(stmt, limit, key, bound)
    return select(func.count()).select_from(window).scalar_subquery().label("list_total")


async def exact_count(
    session: AsyncSession, stmt: Select[Any], versioned: Versioned | None
) -> tuple[int, int | None]:
    """The exact count of ``stmt`` and, for a versioned table, the version it was taken at."""
    rows = stmt.order_by(None).subquery()
    counted = select(func.count()).select_from(rows).scalar_subquery()
    probe = select(counted, version_column(session, versioned) if versioned else None)
    total, version = (await session.execute(probe)).one()
    return int(total), version


async def planner_estimate(session: AsyncSession, stmt: Select[Any]) -> int:
    """PostgreSQL's estimate of how many rows ``stmt`` matches (no rows are read)."""
    probe = select(literal_column("1")).select_from(stmt.order_by(None).subquery())
    plan = (await session.execute(_Explain(probe))).scalar_one()
    if isinstance(plan, str | bytes):
        plan = orjson.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


async def large_total(
    session: AsyncSession,
    stmt: Select[Any],
    key: tuple[Any, ...],
    *,
    versioned: Versioned | None,
    version: int | None,
) -> tuple[int, bool]:
    """The total of a list known to pass the exact-count limit, and whether it is an estimate."""
    kept = _counts.get(key)
    if kept is not None and versioned and version is not None and kept[0] == version:
        return kept[1], False
    if _is_postgres(session):
        return await planner_estimate(session, stmt), True
    if kept is not None and kept[0] is None and time.monotonic() - kept[2] < COUNT_TTL:
        return kept[1], True
    total, counted_at = await exact_count(session, stmt, versioned)
    _counts.put(key, (counted_at if versioned else None, total, time.monotonic()))
    return total, False


class _IdList(TypeDecorator[list[uuid.UUID]]):
    """The ids :func:`related_ids` reads: a PostgreSQL array, or SQLite's
    ``position:id`` pairs joined by commas (put in order here)."""

    impl = String
    cache_ok = True

    def process_result_value(self, value: Any, dialect: Any) -> list[uuid.UUID]:
        if not value:
            return []
        if isinstance(value, str):
            if "," not in value:  # one related row (a grant and its one funder): no sorting
                return [uuid.UUID(hex=value.partition(":")[2])]
            pairs = sorted(
                (int(position), uuid.UUID(hex=row_id))
                for position, row_id in (item.split(":") for item in value.split(","))
            )
            return [row_id for _, row_id in pairs]
        return [v if type(v) is uuid.UUID else uuid.UUID(str(v)) for v in value]

    def result_processor(self, dialect: Any, coltype: Any) -> Callable[[Any], Any] | None:
        # asyncpg's array (never NULL: see the compiled SQL) is already the list, of its own
        # UUIDs: instances of uuid.UUID, equal to and hashed as the standard ones
        # (converting them was half a page's typing). JSON writers that do not know them:
        # ``uuid_text``.
        if dialect.driver == "asyncpg":
            return None
        return super().result_processor(dialect, coltype)


def uuid_text(value: Any) -> str:
    """orjson's ``default`` for UUIDs of a type it does not know (asyncpg's): as text."""
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


class _GatherIds(FunctionElement[Any]):
    """The ids of a correlated subquery's rows with their positions, as one value."""

    inherit_cache = True
    name = "gather_ids"


@compiles(_GatherIds, "postgresql")
def _compile_gather_ids_postgresql(element: _GatherIds, compiler: Any, **kw: Any) -> str:
    column, position = (compiler.process(c, **kw) for c in element.clauses)
    # Never NULL (a row with no related rows gets an empty array): asyncpg's array is then
    # the list itself, with nothing to type per row.
    return f"coalesce(array_agg({column} ORDER BY {position}), '{{}}')"


@compiles(_GatherIds)
def _compile_gather_ids(element: _GatherIds, compiler: Any, **kw: Any) -> str:
    column, position = (compiler.process(c, **kw) for c in element.clauses)
    return f"group_concat(printf('%d:%s', {position}, {column}), ',')"


def related_ids(
    column: ColumnElement[Any],
    *,
    where: ColumnElement[bool],
    position: ColumnElement[Any],
    name: str,
) -> ColumnElement[list[uuid.UUID]]:
    """The ids in ``column`` of the rows related to each listed row (``where`` correlates
    them), in ``position`` order, as one column of the page's statement labelled ``name``:
    a list reads its rows' children in its own query, not one more round trip. Built once
    (it holds no values), it serves both databases."""
    gathered = select(_GatherIds(column, position)).where(where).scalar_subquery()
    return type_coerce(gathered, _IdList()).label(name)


async def bounded_total(
    session: AsyncSession, stmt: Select[Any], limit: int, *, proven: int
) -> tuple[int, bool]:
    """The total of a list read without :func:`services.common.lists.fetch_page` (a search),
    and whether it is an estimate: counted up to ``limit``, else :func:`large_total`, never
    below ``proven`` (the rows a page has shown to exist)."""
    total = await bounded_count(session, stmt, limit)
    if total <= limit:
        return total, False
    total, estimated = await large_total(
        session, stmt, list_key(session, stmt), versioned=None, version=None
    )
    return max(total, limit + 1, proven), estimated


def sort_key(sort_column: ColumnElement[Any], id_column: ColumnElement[Any], by_id: bool) -> Any:
    """The expression a seek compares: the sort column and id, or the id alone."""
    return id_column if by_id else tuple_(sort_column, id_column)


def nullable(sort_column: Any) -> bool:
    """Whether a sort column may hold NULL (no anchors then: NULLs sort apart by database)."""
    return bool(getattr(getattr(sort_column, "expression", sort_column), "nullable", True))


async def build_anchors(
    session: AsyncSession,
    stmt: Select[Any],
    *,
    sort_column: ColumnElement[Any],
    id_column: ColumnElement[Any],
    by_id: bool,
    descending: bool,
    every: int,
    versioned: Versioned,
) -> Anchors | None:
    """The anchors of ``stmt`` in this order, in one statement with the version they hold at."""
    listed = stmt.order_by(None)
    shown = listed.subquery()
    keys = {
        name: getattr(column, "expression", column)
        for name, column in (("trellis_sort_key", sort_column), ("trellis_row_id", id_column))
    }
    # A list may show its sort column or id otherwise (as JSON text, say): anchors hold
    # them as stored, which a seek compares with.
    hidden = {name: e for name, e in keys.items() if shown.corresponding_column(e) is None}
    if hidden:
        listed = listed.add_columns(*(e.label(name) for name, e in hidden.items()))
    rows = listed.subquery()
    key_col, id_col = (
        rows.c[name] if name in hidden else rows.corresponding_column(e) for name, e in keys.items()
    )
    order = [id_col] if by_id else [key_col, id_col]
    ordering = [c.desc() if descending else c.asc() for c in order]
    ranked = select(
        key_col.label("k"),
        id_col.label("i"),
        func.row_number().over(order_by=ordering).label("rn"),
        func.lead(id_col).over(order_by=ordering).label("after"),
    ).subquery()
    probe = (
        select(
            ranked.c.k, ranked.c.i, ranked.c.rn, ranked.c.after, version_column(session, versioned)
        )
        .where(or_((ranked.c.rn - 1) % every == 0, ranked.c.after.is_(None)))
        .order_by(ranked.c.rn)
    )
    # One statement, one snapshot: the version is the one these rows were read at.
    result = (await session.execute(probe)).all()
    if not result or result[0].list_version is None:
        return None
    version = result[0].list_version
    count = int(result[-1].rn)
    keys = [(row.k, row.i) for row in result if (row.rn - 1) % every == 0]
    return Anchors(int(version), count, every, keys)


# The anchor a page is seeked from, bound by name: its statement is the same for every
# page of one list with the same window, so it can be compiled once (``lists``: on the
# driver). The window (rows skipped after the anchor, rows read) is written out: with it
# bound, PostgreSQL's generic plan looks dearer than each custom one, and it would plan
# every deep page anew. react-admin pages in steps of its page size, so a list has few
# windows (at 25 rows a page and an anchor every 500 rows, 20).
ANCHOR_VALUE = "trellis_anchor_value"
ANCHOR_ID = "trellis_anchor_id"
ANCHOR_PARAMS = frozenset({ANCHOR_VALUE, ANCHOR_ID})
# A page seeked from an anchor, built for its window (rows skipped, rows read).
AnchoredPage = Callable[[int, int], Select[Any]]
# How an anchored page is read: given how to build its statement, its values and window.
AnchoredRead = Callable[[AnchoredPage, dict[str, Any], tuple[int, int]], Any]


def written_out(rows: int) -> ColumnElement[int]:
    """A number of rows for LIMIT or OFFSET, written into the statement, not bound (so
    PostgreSQL can keep one plan for a prepared page: see above)."""
    return literal_column(str(int(rows)))


async def read_in_session(
    session: AsyncSession, build: AnchoredPage, values: dict[str, Any], window: tuple[int, int]
) -> list[Any]:
    """An anchored page's rows read through the session (``anchored_rows``' own way)."""
    return list((await session.execute(build(*window), values)).all())


async def anchored_rows(
    session: AsyncSession,
    ordered: Select[Any],
    stmt: Select[Any],
    key: tuple[Any, ...],
    *,
    sort_column: ColumnElement[Any],
    id_column: ColumnElement[Any],
    by_id: bool,
    descending: bool,
    start: int,
    limit: int,
    every: int,
    versioned: Versioned,
    columns: Sequence[ColumnElement[Any]] = (),
    read: AnchoredRead | None = None,
) -> tuple[list[Any], int, int] | None:
    """Rows ``start`` to ``start + limit`` of ``ordered`` by seeking from an anchor, each
    with ``columns`` added and, last, the version it was read at; that version; and the
    list's exact total at it (the anchors' count: a deep page counts nothing). None when
    no valid anchors could be had (read by OFFSET then). ``read`` runs the page's
    statement with its values (by default, in the session)."""
    version_col = version_column(session, versioned)

    def build(skip: int, rows: int) -> Select[Any]:
        # The page's first row is found on the sort index alone (the sort value and id of
        # the row ``skip`` rows from the anchor: an index-only scan, no row read whole nor
        # any per-row column worked out for skipped rows), in a subquery PostgreSQL runs
        # once before the page (an InitPlan); the page then seeks from it, as a first page
        # reads from the top. PostgreSQL keeps one plan for this shape: a deferred join
        # (the page's ids in a subquery, joined back and sorted again) looked dearer as a
        # generic plan than each custom one, so every deep page was planned anew (0.2-0.4
        # ms, more than running it).
        seek = sort_key(sort_column, id_column, by_id)
        anchor_id = bindparam(ANCHOR_ID, type_=id_column.type)
        anchor = (
            anchor_id
            if by_id
            else tuple_(bindparam(ANCHOR_VALUE, type_=sort_column.type), anchor_id)
        )
        first = (
            ordered.with_only_columns(
                *([id_column] if by_id else [sort_column, id_column]), maintain_column_froms=True
            )
            .where(seek <= anchor if descending else seek >= anchor)
            .offset(written_out(skip))
            .limit(written_out(1))
            .correlate(None)
            .scalar_subquery()
        )
        return (
            ordered.where(seek <= first if descending else seek >= first)
            .limit(written_out(rows))
            .add_columns(*columns, version_col)
        )

    for attempt in range(2):
        anchors = _anchors.get(key)
        if anchors is None or attempt:
            anchors = await build_anchors(
                session,
                stmt,
                sort_column=sort_column,
                id_column=id_column,
                by_id=by_id,
                descending=descending,
                every=every,
                versioned=versioned,
            )
            if anchors is None:
                return None
            _anchors.put(key, anchors)
            _counts.put(key[:4], (anchors.version, anchors.count, time.monotonic()))
        slot = min(start // anchors.every, len(anchors.keys) - 1)
        value, row_id = anchors.keys[slot]
        values = {ANCHOR_ID: row_id}
        if not by_id:
            values[ANCHOR_VALUE] = value
        window = (start - slot * anchors.every, limit)
        if read is None:
            result = await read_in_session(session, build, values, window)
        else:
            result = await read(build, values, window)
        if result and result[0][-1] == anchors.version:
            return result, anchors.version, anchors.count
        if not result:
            # The version only grows: read at the anchors' version after the page, it was
            # that version when the page was read, so the page is truly empty.
            now = (await session.execute(select(version_col))).scalar()
            return ([], now, anchors.count) if now == anchors.version else None
    return None
