"""List pages read on the driver: a page's statement compiled once per shape.

A page's statement is its list's own statement (scope and filters) sorted, windowed,
with its per-row columns, its bounded count and its table version. On every request
SQLAlchemy would build it, work out its cache key (a walk of the whole statement, the
count's copy of it included), find its compiled form and wrap the driver's rows: several
times what the database's round trip costs. Here the list's own statement, small, is
keyed instead; with the sort, the per-row columns and the rest of what shapes the page,
that key names a page statement compiled once per database kind, its window (limit,
offset, count limit) as named parameters. Each request takes the values of the list's
parameters from its own cache key, at the positions SQLAlchemy's statement cache relies
on (equal keys list their parameters in the same order), binds them with SQLAlchemy's
type processors and types the rows with them too, so rows read the same as through the
session, on SQLite and PostgreSQL.

Only statements of columns (rows, not ORM objects) whose parameters are all plain values
are read this way; an ``IN`` list (rendered per request), a parameter the compiled form
does not show under the list's own name, or a driver error sends the page through the
session instead, as before.
"""

from collections import namedtuple
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Integer, Select, bindparam
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.cache_key import CacheKey

from services.common.db import driver_rows
from services.common.listscale import ANCHOR_PARAMS, Lru

PAGE_LIMIT = bindparam("trellis_page_limit", type_=Integer)
PAGE_OFFSET = bindparam("trellis_page_offset", type_=Integer)
COUNT_LIMIT = bindparam("trellis_count_limit", type_=Integer)
# The sort value and id of the row a cursor names (a page after a cursor starts past it).
CURSOR_VALUE = "trellis_cursor_value"
CURSOR_ID = "trellis_cursor_id"
# Values bound by name per request: a page's window, an anchored page's anchor, a cursor.
_WINDOW = frozenset(
    {PAGE_LIMIT.key, PAGE_OFFSET.key, COUNT_LIMIT.key, CURSOR_VALUE, CURSOR_ID, *ANCHOR_PARAMS}
)
# A parameter's source: its position among the list's own parameters, a window name, or
# (None) a constant of the page's fixed parts (the version column), already bound.
Source = tuple[int | str | None, Any, Callable[[Any], Any] | None]


@dataclass(frozen=True, slots=True)
class CompiledPage:
    """A page statement as its database runs it, and how to bind it and type its rows."""

    sql: str
    args: tuple[Source, ...]
    results: tuple[tuple[int, Callable[[Any], Any]], ...]
    row: type
    # The objects the shape's key names by identity, kept alive so no other takes their id.
    keep: tuple[Any, ...]


# False: a shape that cannot be read on the driver (read through the session).
_pages: Lru[tuple[Any, ...], CompiledPage | bool] = Lru(256)


def shape_key(
    dialect: Dialect, list_key: CacheKey, *parts: Any, objects: Sequence[Any]
) -> tuple[Any, ...]:
    """What shapes a page: the database kind, the list's own statement (its cache key,
    values aside), ``parts`` (sort, direction, whether counted...) and ``objects`` (its
    sort, id and per-row columns, by identity)."""
    return (dialect.name, list_key.key, parts, tuple(id(o) for o in objects))


def compile_page(
    dialect: Dialect, page: Select[Any], list_key: CacheKey, keep: Sequence[Any]
) -> CompiledPage | None:
    """``page`` compiled for ``dialect`` with where each parameter comes from, or None
    when it cannot be run this way (its parameters are not all plain values of the list's
    own statement, the window and constants)."""
    compiled = page.compile(dialect=dialect)
    if (
        compiled.post_compile_params
        or compiled.literal_execute_params
        or compiled.escaped_bind_names
        or compiled.positiontup is None
    ):
        return None
    positions = {bind.key: n for n, bind in enumerate(list_key.bindparams)}
    shown = {bind.key for bind in compiled.binds.values()}
    if not positions.keys() <= shown:  # a parameter renamed on the way: its value unknown
        return None
    args: list[Source] = []
    for name in compiled.positiontup:
        bind = compiled.binds[name]
        process = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if bind.key in positions:
            args.append((positions[bind.key], None, process))
        elif bind.key in _WINDOW:
            args.append((bind.key, None, process))
        else:
            value = bind.effective_value
            args.append((None, process(value) if process else value, None))
    results = []
    for n, column in enumerate(page.selected_columns):
        process = column.type.dialect_impl(dialect).result_processor(dialect, None)
        if process is not None:
            results.append((n, process))
    names = [column.key for column in page.selected_columns]
    row = namedtuple("Row", names, rename=True)  # type: ignore[misc]
    return CompiledPage(compiled.string, tuple(args), tuple(results), row, tuple(keep))


async def read_page(
    session: AsyncSession,
    key: tuple[Any, ...],
    build: Callable[[], tuple[Select[Any] | None, Sequence[Any]]],
    list_key: CacheKey,
    window: dict[str, Any],
) -> list[Any] | None:
    """The rows of the page shaped ``key``, with ``list_key``'s values and ``window``'s,
    read on the driver; None when it must be read through the session. The first time,
    ``build()`` makes its statement (None if it cannot be read on the driver) and names
    the objects to keep."""
    dialect = session.bind.dialect  # type: ignore[union-attr]
    compiled = _pages.get(key)
    if compiled is None:
        page, keep = build()
        compiled = (page is not None and compile_page(dialect, page, list_key, keep)) or False
        _pages.put(key, compiled)
    if compiled is False:
        return None
    values = list_key.bindparams
    args = []
    for source, constant, process in compiled.args:
        if source is None:
            args.append(constant)
            continue
        value = window[source] if isinstance(source, str) else values[source].effective_value
        args.append(process(value) if process else value)
    fetched = await driver_rows(session, compiled.sql, args)
    if fetched is None:
        return None
    make, results = compiled.row._make, compiled.results
    if not results:
        return [make(record) for record in fetched]
    typed = []
    for record in fetched:
        fields = list(record)
        for n, process in results:
            fields[n] = process(fields[n])
        typed.append(make(fields))
    return typed
