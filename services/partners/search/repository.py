"""All SQL of search: one interface, a PostgreSQL and a SQLite implementation.

Both answer the same question (the entries a scope may read that match the
words, best first, with a highlighted snippet) with each database's own full
text search: ``websearch_to_tsquery`` over the ``search_vector`` tsvector on
PostgreSQL, an FTS5 ``MATCH`` over ``search_fts`` on SQLite. Snippets come back
with ``MARK_START`` / ``MARK_END`` around matched words; the service turns them
into ``<mark>`` after escaping the text.
"""

import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import (
    ColumnElement,
    Float,
    Select,
    and_,
    column,
    false,
    func,
    literal,
    literal_column,
    or_,
    select,
    table,
    text,
)
from sqlalchemy.ext.asyncio import AsyncSession

from services.common import listscale
from services.common.db import insert_or_ignore
from services.partners.learning.models import Tag
from services.partners.relationships.models import SHARING_ACCEPTED, Relationship
from services.partners.search.models import SearchEntry, ThreadMessageCopy

MARK_START = "\x02"
MARK_END = "\x03"
SNIPPET_WORDS = 24
CONFIG = "trellis_search"


@dataclass(frozen=True, slots=True)
class Scope:
    """Whose reading rights a search runs under: one funder's staff, or one partner."""

    funder_id: uuid.UUID | None = None
    partner_id: uuid.UUID | None = None


@dataclass(frozen=True, slots=True)
class Filters:
    ids: list[uuid.UUID] | None = None
    partner_ids: list[uuid.UUID] | None = None
    funder_ids: list[uuid.UUID] | None = None
    update_ids: list[uuid.UUID] | None = None
    kinds: list[str] | None = None
    at_gte: datetime | None = None
    at_lte: datetime | None = None
    tag_keys: list[str] | None = None
    thread_ids: list[uuid.UUID] | None = None


@dataclass(frozen=True, slots=True)
class Hit:
    entry: SearchEntry
    relevance: float
    snippet: str


class SearchIndex(Protocol):
    async def search(
        self,
        session: AsyncSession,
        *,
        words: str,
        scope: Scope,
        filters: Filters,
        sort: str,
        descending: bool,
        offset: int,
        limit: int,
        count_limit: int,
    ) -> tuple[list[Hit], int, bool]: ...


def _readable(scope: Scope) -> ColumnElement[bool]:
    """What the scope may read; the same rules as each record's own endpoints."""
    if scope.partner_id is not None:
        # A partner: everything about itself except what a funder keeps private (its
        # private interactions; learning notes are private and name no partner).
        return and_(SearchEntry.partner_id == scope.partner_id, SearchEntry.private.is_(False))
    if scope.funder_id is None:
        return false()
    funder_id = scope.funder_id
    related = select(Relationship.partner_id).where(Relationship.funder_id == funder_id)
    sharing = related.where(Relationship.sharing == SHARING_ACCEPTED)
    return or_(
        # Its own copies of updates, their threads, its own interactions (private too),
        # its feedback threads' messages and its own learning notes.
        and_(SearchEntry.kind != "document", SearchEntry.funder_id == funder_id),
        # Links its staff added about partners it relates to.
        and_(
            SearchEntry.kind == "document",
            SearchEntry.funder_id == funder_id,
            SearchEntry.partner_id.in_(related),
        ),
        # A partner's own documents, once that partner shares with this funder.
        and_(
            SearchEntry.kind == "document",
            SearchEntry.funder_id.is_(None),
            SearchEntry.partner_id.in_(sharing),
        ),
    )


def _tagged(scope: Scope, keys: list[str]) -> ColumnElement[bool]:
    """Entries of records the scope's funder tagged with one of ``keys``.

    An update's tags find its replies too, a thread's tags its messages. Tags are a
    funder's own: for anyone else this matches nothing. Each kind is an ``IN`` over the
    funder's few tagged ids, so the database reads them by the entries' own indexes.
    """
    if scope.funder_id is None:
        return false()
    funder_id = scope.funder_id

    def ids(kind: str) -> Select[Any]:
        return select(Tag.subject_id).where(
            Tag.funder_id == funder_id, Tag.subject_kind == kind, Tag.key.in_(keys)
        )

    return or_(
        and_(SearchEntry.kind.in_(("update", "reply")), SearchEntry.update_id.in_(ids("update"))),
        and_(SearchEntry.kind == "interaction", SearchEntry.source_id.in_(ids("interaction"))),
        and_(SearchEntry.kind == "thread", SearchEntry.thread_id.in_(ids("thread"))),
        and_(SearchEntry.kind == "learning_note", SearchEntry.source_id.in_(ids("learning_note"))),
    )


def _filtered(stmt: Select[Any], scope: Scope, filters: Filters) -> Select[Any]:
    stmt = stmt.where(_readable(scope))
    if filters.tag_keys is not None:
        stmt = stmt.where(_tagged(scope, filters.tag_keys))
    if filters.ids is not None:
        stmt = stmt.where(SearchEntry.source_id.in_(filters.ids))
    if filters.partner_ids is not None:
        stmt = stmt.where(SearchEntry.partner_id.in_(filters.partner_ids))
    if filters.funder_ids is not None:
        stmt = stmt.where(SearchEntry.funder_id.in_(filters.funder_ids))
    if filters.thread_ids is not None:
        stmt = stmt.where(SearchEntry.thread_id.in_(filters.thread_ids))
    if filters.update_ids is not None:
        stmt = stmt.where(SearchEntry.update_id.in_(filters.update_ids))
    if filters.kinds is not None:
        stmt = stmt.where(SearchEntry.kind.in_(filters.kinds))
    if filters.at_gte is not None:
        stmt = stmt.where(SearchEntry.at >= filters.at_gte)
    if filters.at_lte is not None:
        stmt = stmt.where(SearchEntry.at <= filters.at_lte)
    return stmt


def _order(relevance: Any, sort: str, descending: bool) -> list[Any]:
    """By relevance, date or id (the record's), ties broken by the entry's own key."""
    key = {"relevance": relevance, "at": SearchEntry.at, "id": SearchEntry.source_id}[sort]
    first = key.desc() if descending else key.asc()
    return [first, SearchEntry.id.desc() if descending else SearchEntry.id.asc()]


async def _page(
    session: AsyncSession, stmt: Select[Any], matched: Select[Any], *, offset: int, count_limit: int
) -> tuple[list[Any], int, bool]:
    """The page's rows, how many rows ``matched`` holds (counted up to ``count_limit``, else
    estimated, see ``listscale``) and whether that total is an estimate."""
    rows = list((await session.execute(stmt)).all())
    total, estimated = await listscale.bounded_total(
        session, matched, count_limit, proven=offset + len(rows) if rows else 0
    )
    return rows, total, estimated


class PostgresSearch:
    """``websearch_to_tsquery`` over the GIN-indexed ``search_vector``; ``ts_headline`` snippets."""

    async def search(
        self,
        session: AsyncSession,
        *,
        words: str,
        scope: Scope,
        filters: Filters,
        sort: str,
        descending: bool,
        offset: int,
        limit: int,
        count_limit: int,
    ) -> tuple[list[Hit], int, bool]:
        config = literal_column(f"'{CONFIG}'::regconfig")
        query = func.websearch_to_tsquery(config, literal(words))
        vector = literal_column("search_entries.search_vector")
        matches = vector.op("@@")(query)
        relevance = func.ts_rank_cd(vector, query, 32, type_=Float).label("relevance")
        base = _filtered(select(SearchEntry.id, relevance).where(matches), scope, filters)
        matched = _filtered(select(SearchEntry.id).where(matches), scope, filters)
        page = (
            base.order_by(*_order(relevance, sort, descending))
            .offset(offset)
            .limit(limit)
            .subquery()
        )
        # Headlines only for the page: ts_headline re-parses each text.
        options = (
            f"StartSel={MARK_START}, StopSel={MARK_END}, MaxWords={SNIPPET_WORDS}, "
            'MinWords=8, MaxFragments=2, FragmentDelimiter=" … "'
        )
        headline = func.ts_headline(
            config,
            func.concat_ws(" — ", func.nullif(SearchEntry.title, ""), SearchEntry.body),
            query,
            literal(options),
        )
        stmt = (
            select(SearchEntry, page.c.relevance, headline)
            .join(page, page.c.id == SearchEntry.id)
            .order_by(*_order(page.c.relevance, sort, descending))
        )
        rows, total, estimated = await _page(
            session, stmt, matched, offset=offset, count_limit=count_limit
        )
        return [Hit(r[0], float(r[1]), r[2]) for r in rows], total, estimated


_TERM = re.compile(r'(-?)"([^"]*)"?|(\S+)')
_WORD = re.compile(r"\w")


def fts5_query(words: str) -> str | None:
    """The FTS5 ``MATCH`` expression for what a person typed, read as web search does.

    Words must all appear; ``"a phrase"`` in quotes matches the words together;
    ``or`` between words accepts either; a leading ``-`` excludes a word or phrase.
    Every term is quoted, so nothing typed is read as FTS5 syntax. None when the
    text holds no word at all.
    """
    groups: list[list[str]] = [[]]
    excluded: list[str] = []
    pending_or = False
    for match in _TERM.finditer(words):
        negated, phrase, bare = match.group(1), match.group(2), match.group(3)
        if bare is not None:
            negated = "-" if bare.startswith("-") and len(bare) > 1 else ""
            phrase = bare[1:] if negated else bare
            if phrase.lower() == "or" and not negated:
                pending_or = True
                continue
        if not phrase or not _WORD.search(phrase):
            continue
        term = '"' + phrase.replace('"', '""') + '"'
        if negated:
            excluded.append(term)
        elif pending_or and groups[-1]:
            groups[-1].append(term)
        else:
            groups.append([term])
        pending_or = False
    required = [g for g in groups if g]
    if not required:
        return None
    expression = " AND ".join(f"({' OR '.join(g)})" if len(g) > 1 else g[0] for g in required)
    for term in excluded:
        expression = f"({expression}) NOT {term}"
    return expression


class SqliteSearch:
    """An FTS5 ``MATCH`` over ``search_fts`` (porter, unicode61 without diacritics); bm25."""

    fts = table("search_fts", column("rowid"))

    async def search(
        self,
        session: AsyncSession,
        *,
        words: str,
        scope: Scope,
        filters: Filters,
        sort: str,
        descending: bool,
        offset: int,
        limit: int,
        count_limit: int,
    ) -> tuple[list[Hit], int, bool]:
        expression = fts5_query(words)
        if expression is None:
            return [], 0, False
        matches = text("search_fts MATCH :fts_query").bindparams(fts_query=expression)
        fts_table = literal_column("search_fts")
        # bm25 is lower for better matches; the title counts twice the body.
        relevance = (-func.bm25(fts_table, 2.0, 1.0, type_=Float)).label("relevance")
        snippet = func.snippet(fts_table, -1, MARK_START, MARK_END, " … ", SNIPPET_WORDS).label(
            "snippet"
        )
        page = (
            _filtered(
                select(SearchEntry.id, relevance)
                .select_from(self.fts)
                .join(SearchEntry, SearchEntry.id == self.fts.c.rowid)
                .where(matches),
                scope,
                filters,
            )
            .order_by(*_order(relevance, sort, descending))
            .offset(offset)
            .limit(limit)
            .subquery()
        )
        # Snippets only for the page: the match runs again on its rows alone (by rowid).
        stmt = (
            select(SearchEntry, page.c.relevance, snippet)
            .select_from(self.fts)
            .join(page, page.c.id == self.fts.c.rowid)
            .join(SearchEntry, SearchEntry.id == page.c.id)
            .where(matches)
            .order_by(*_order(page.c.relevance, sort, descending))
        )
        matched = _filtered(
            select(SearchEntry.id)
            .select_from(self.fts)
            .join(SearchEntry, SearchEntry.id == self.fts.c.rowid)
            .where(matches),
            scope,
            filters,
        )
        rows, total, estimated = await _page(
            session, stmt, matched, offset=offset, count_limit=count_limit
        )
        return [Hit(r[0], float(r[1]), r[2]) for r in rows], total, estimated


async def browse(
    session: AsyncSession,
    *,
    scope: Scope,
    filters: Filters,
    sort: str,
    descending: bool,
    offset: int,
    limit: int,
    count_limit: int | None,
) -> tuple[list[SearchEntry], int, bool]:
    """Without words: everything the scope may read (the same rules), by date or id; and
    their total (not counted when ``count_limit`` is None) and whether it is an estimate."""
    if sort == "relevance":
        sort = "at"
    stmt = (
        _filtered(select(SearchEntry), scope, filters)
        .order_by(*_order(None, sort, descending))
        .offset(offset)
        .limit(limit)
    )
    rows = list((await session.execute(stmt)).scalars())
    if count_limit is None:
        return rows, len(rows), False
    matched = _filtered(select(SearchEntry.id), scope, filters)
    total, estimated = await listscale.bounded_total(
        session, matched, count_limit, proven=offset + len(rows) if rows else 0
    )
    return rows, total, estimated


def index_for(session: AsyncSession) -> SearchIndex:
    """The implementation for the session's database."""
    dialect = session.get_bind().dialect.name
    return PostgresSearch() if dialect == "postgresql" else SqliteSearch()


async def keep_thread_message(session: AsyncSession, values: dict[str, Any]) -> None:
    """Store a thread message feedback announced, once (the trigger indexes it)."""
    await session.execute(insert_or_ignore(session, ThreadMessageCopy).values(**values))
