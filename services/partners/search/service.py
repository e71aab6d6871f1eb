"""The rules of search. Keyword-only functions; they only read.

A caller finds only what it may read through each record's own endpoint: staff
their own funder's copies of updates and their threads, their own funder's
interactions (private ones too), the links their staff added and the documents
of partners that share with their funder; a partner everything about itself
except interactions a funder kept private. Nobody finds another funder's copy of
an update, even of the same submission.
"""

import html
import re
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Caller
from services.common.errors import BadRequest, NotFound, Unprocessable
from services.common.lists import ListQuery, Page, filter_values, parse_uuid_list
from services.partners.access import date_bound
from services.partners.search.models import SEARCH_KINDS, SearchEntry
from services.partners.search.repository import (
    MARK_END,
    MARK_START,
    SNIPPET_WORDS,
    Filters,
    Hit,
    Scope,
    browse,
    index_for,
)
from services.partners.search.schemas import SearchHit

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _scope(caller: Caller) -> Scope:
    if caller.own_partner_id is not None:
        return Scope(partner_id=caller.own_partner_id)
    return Scope(funder_id=caller.staff_funder_id)


def _filters(query: ListQuery) -> Filters:
    given = query.filters

    def ids(name: str) -> list[uuid.UUID] | None:
        return parse_uuid_list(name, given[name]) if name in given else None

    return Filters(
        ids=ids("id"),
        partner_ids=ids("partner_id"),
        funder_ids=ids("funder_id"),
        update_ids=ids("update_id"),
        kinds=filter_values("kind", given["kind"], SEARCH_KINDS) if "kind" in given else None,
        at_gte=date_bound("at_gte", given["at_gte"], upper=False) if "at_gte" in given else None,
        at_lte=date_bound("at_lte", given["at_lte"], upper=True) if "at_lte" in given else None,
    )


def _snippet(raw: str | None) -> str:
    """Escape the text, then mark the matched words (so no partner's text becomes markup)."""
    escaped = html.escape(raw or "", quote=False)
    marked = escaped.replace(MARK_START, "<mark>").replace(MARK_END, "</mark>")
    return _CONTROL.sub("", marked)


def _out(hit: Hit) -> SearchHit:
    entry = hit.entry
    return SearchHit(
        id=entry.source_id,
        kind=entry.kind,  # type: ignore[arg-type]
        partner_id=entry.partner_id,
        funder_id=entry.funder_id,
        update_id=entry.update_id,
        at=entry.at,
        title=entry.title,
        snippet=_snippet(hit.snippet),
        relevance=round(hit.relevance, 6),
    )


def _opening(entry: SearchEntry) -> str:
    """Without words to highlight, the snippet is the text's opening words."""
    words = " — ".join(t for t in (entry.title, entry.body) if t).split()
    shown = " ".join(words[:SNIPPET_WORDS])
    return shown + (" …" if len(words) > SNIPPET_WORDS else "")


async def search(
    *, session: AsyncSession, caller: Caller, words: str | None, query: ListQuery
) -> tuple[list[SearchHit], Page]:
    """The hits of one page and the page (for Content-Range)."""
    if words is None and "q" in query.filters:
        words = str(query.filters["q"])[:200]
    if words is not None and not re.search(r"\w", words):
        message = "Say what to look for: q needs at least one word."
        raise Unprocessable(message, errors={"q": [message]})
    if query.cursor is not None:
        raise BadRequest(
            "Search results are paged with range=[start,end], not cursor.",
            slug="bad-list-parameter",
            errors={"cursor": ["search pages by range"]},
        )
    if words is None:
        entries, total = await browse(
            session,
            scope=_scope(caller),
            filters=_filters(query),
            sort=query.sort,
            descending=query.descending,
            offset=query.start,
            limit=query.limit,
        )
        hits = [Hit(e, 0.0, _opening(e)) for e in entries]
    else:
        hits, total = await index_for(session).search(
            session,
            words=words,
            scope=_scope(caller),
            filters=_filters(query),
            sort=query.sort,
            descending=query.descending,
            offset=query.start,
            limit=query.limit,
        )
    out = [_out(h) for h in hits]
    return out, Page(out, total, query.start, None)


async def get_hit(*, session: AsyncSession, caller: Caller, hit_id: uuid.UUID) -> SearchHit:
    """One record as search shows it, if the caller may read it (404 otherwise)."""
    entries, _ = await browse(
        session,
        scope=_scope(caller),
        filters=Filters(ids=[hit_id]),
        sort="at",
        descending=True,
        offset=0,
        limit=1,
    )
    if not entries:
        raise NotFound("There is nothing you may read with this id.")
    return _out(Hit(entries[0], 0.0, _opening(entries[0])))
