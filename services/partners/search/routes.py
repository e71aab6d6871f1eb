"""HTTP routes of search."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from services.common.auth import StaffOrPartnerDep
from services.common.db import SessionDep
from services.common.lists import ListQuery, list_query
from services.partners.search import service
from services.partners.search.schemas import SearchHit

router = APIRouter(tags=["search"])

SearchQuery = Annotated[
    ListQuery,
    Depends(
        list_query(
            "search",
            sortable=["relevance", "at"],
            filterable=[
                "q",
                "partner_id",
                "funder_id",
                "update_id",
                "kind",
                "at_gte",
                "at_lte",
                "tag",
                "thread_id",
            ],
            default_sort=("relevance", "DESC"),
        )
    ),
]


@router.get("/search", response_model=list[SearchHit])
async def search(
    session: SessionDep,
    caller: StaffOrPartnerDep,
    query: SearchQuery,
    response: Response,
    q: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=200,
            description='What to look for, as in a web search: words, "a phrase", '
            "or between alternatives, -word to leave out.",
            examples=["volunteers energy costs"],
        ),
    ] = None,
) -> list[SearchHit]:
    """Search the stories you may read: reflective updates and their replies,
    interactions, feedback threads' messages, documents' titles and (staff) your
    funder's learning notes.

    ``GET /api/v1/search?q=volunteer`` finds "volunteers" and "volunteering"
    (English stemming) and ``cafe`` finds "café" (accents folded). Best matches
    first (``sort=["relevance","DESC"]``), or by date (``sort=["at","DESC"]``);
    paged with ``range`` and a ``Content-Range: search 0-24/N`` header.
    react-admin's full-text search sends the words as ``filter={"q":"..."}``, which
    works the same. Without words, the list is everything you may read, newest first.

    Filters: ``partner_id``, ``funder_id``, ``update_id`` (an update and its replies),
    ``kind`` (update, reply, interaction, document, thread, learning_note; one or a
    list), ``at_gte`` / ``at_lte`` (a date or datetime), ``thread_id`` (a thread's
    messages), and for staff ``tag`` (your funder's tags, one or a list: an update's tag
    finds its replies, a thread's its messages). Each hit has a ``snippet``: the words
    around the match, escaped,
    with ``<mark>`` around matched words.

    Staff find their own funder's copies of updates and their threads, their
    funder's interactions (private ones too), the links their staff added and the
    documents of partners that share with their funder, their funder's threads and
    learning notes. A partner finds what concerns itself (its threads included),
    without interactions a funder kept private, and never a tag or learning note.
    A thread message is found a few seconds after it is written (feedback announces it). Nobody finds
    another funder's copy of an update. Relevance ranks text, never partners.
    """
    hits, page = await service.search(session=session, caller=caller, words=q, query=query)
    page.apply(response, "search")
    return hits


@router.get("/search/{hit_id}", response_model=SearchHit)
async def get_search_hit(
    hit_id: uuid.UUID, session: SessionDep, caller: StaffOrPartnerDep
) -> SearchHit:
    """One record as search shows it (its opening words as the snippet): by the record's
    own id, if you may read it; 404 otherwise, as for one that does not exist."""
    return await service.get_hit(session=session, caller=caller, hit_id=hit_id)
