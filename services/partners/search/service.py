"""The rules of search. Keyword-only functions; they only read.

A caller finds only what it may read through each record's own endpoint: staff
their own funder's copies of updates and their threads, their own funder's
interactions (private ones too), the links their staff added and the documents
of partners that share with their funder; a partner everything about itself
except interactions a funder kept private. Nobody finds another funder's copy of
an update, even of the same submission.

Feedback's threads are searched here too: feedback announces each message
(``thread.message``, with the thread's funder and partner) and ``on_thread_message``
keeps a copy that a trigger indexes. A thread's funder and partner never change and
are the whole of its reading rule (its funder's staff and its partner), so the copy
is readable by exactly those who read the thread, by construction. A funder's own
learning notes are indexed private, under no partner: only its staff find them.
"""

import html
import logging
import re
import uuid
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Caller
from services.common.errors import BadRequest, NotFound, Unprocessable
from services.common.events import Event
from services.common.lists import ListQuery, Page, filter_values, parse_uuid_list
from services.partners.access import date_bound
from services.partners.learning.repository import tag_keys
from services.partners.search import repository
from services.partners.search.models import NO_PARTNER, SEARCH_KINDS, SearchEntry
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
from services.partners.search.schemas import SearchHit, ThreadMessageEvent

logger = logging.getLogger("trellis.partners.search")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _scope(caller: Caller) -> Scope:
    if caller.own_partner_id is not None:
        return Scope(partner_id=caller.own_partner_id)
    return Scope(funder_id=caller.staff_funder_id)


def staff_tag_keys(caller: Caller, given: dict[str, Any]) -> list[str] | None:
    """A ``tag`` filter's keys: tags are a funder's own, so a partner's is a 400."""
    if "tag" not in given:
        return None
    if caller.staff_funder_id is None:
        raise BadRequest(
            "Tags are a funder's own themes; there is no 'tag' filter for a partner.",
            slug="bad-list-parameter",
            errors={"filter": ["tag is for funder staff"]},
        )
    return tag_keys(given["tag"])


def _filters(caller: Caller, query: ListQuery) -> Filters:
    given = query.filters

    def ids(name: str) -> list[uuid.UUID] | None:
        return parse_uuid_list(name, given[name]) if name in given else None

    return Filters(
        tag_keys=staff_tag_keys(caller, given),
        thread_ids=ids("thread_id"),
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
        partner_id=None if entry.partner_id == NO_PARTNER else entry.partner_id,
        funder_id=entry.funder_id,
        update_id=entry.update_id,
        thread_id=entry.thread_id,
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
        entries, total, estimated = await browse(
            session,
            scope=_scope(caller),
            filters=_filters(caller, query),
            sort=query.sort,
            descending=query.descending,
            offset=query.start,
            limit=query.limit,
            count_limit=query.exact_count_limit,
        )
        hits = [Hit(e, 0.0, _opening(e)) for e in entries]
    else:
        hits, total, estimated = await index_for(session).search(
            session,
            words=words,
            scope=_scope(caller),
            filters=_filters(caller, query),
            sort=query.sort,
            descending=query.descending,
            offset=query.start,
            limit=query.limit,
            count_limit=query.exact_count_limit,
        )
    out = [_out(h) for h in hits]
    return out, Page(out, total, query.start, None, estimated)


async def get_hit(*, session: AsyncSession, caller: Caller, hit_id: uuid.UUID) -> SearchHit:
    """One record as search shows it, if the caller may read it (404 otherwise)."""
    entries, _, _ = await browse(
        session,
        scope=_scope(caller),
        filters=Filters(ids=[hit_id]),
        sort="at",
        descending=True,
        offset=0,
        limit=1,
        count_limit=None,
    )
    if not entries:
        raise NotFound("There is nothing you may read with this id.")
    return _out(Hit(entries[0], 0.0, _opening(entries[0])))


async def on_thread_message(*, session: AsyncSession, event: Event) -> None:
    """``thread.message`` from feedback: index the message under its thread's funder and
    partner (idempotent by message id)."""
    try:
        message = ThreadMessageEvent.model_validate(event.data)
    except ValidationError as exc:
        # A malformed event would fail forever if retried: log it and let it be acknowledged.
        logger.warning(
            "ignored a malformed thread message",
            extra={"event_id": str(event.id), "error": str(exc)[:500]},
        )
        return
    await repository.keep_thread_message(
        session,
        {
            "id": message.message_id,
            "thread_id": message.thread_id,
            "funder_id": message.funder_id,
            "partner_id": message.partner_id,
            "subject": message.subject[:300],
            "body": message.body,
            "created_at": message.created_at,
        },
    )


EVENT_HANDLERS = {"thread.message": on_thread_message}
