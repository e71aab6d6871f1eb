"""HTTP routes of results."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Response

from services.common.auth import StaffDep, StaffOrPartnerDep
from services.common.db import SessionDep
from services.common.errors import NotFound
from services.common.lists import ListQuery, list_query, page_of
from services.common.schemas import json_response
from services.common.service_app import problem_responses
from services.feedback.deps import PartnersDep
from services.feedback.results import service
from services.feedback.results.schemas import Result, RoundComments

router = APIRouter(tags=["results"])

ResultListQuery = Annotated[
    ListQuery,
    Depends(
        list_query(
            "results",
            sortable=["closes_on", "position"],
            filterable=["round_id", "commitment_id", "kind"],
            default_sort=("closes_on", "DESC"),
        )
    ),
]
RoundResultListQuery = Annotated[
    ListQuery,
    Depends(
        list_query(
            "results",
            sortable=["position"],
            filterable=["round_id", "commitment_id"],
            default_sort=("position", "ASC"),
        )
    ),
]


@router.get("/results", response_model=list[Result])
async def list_results(
    session: SessionDep,
    caller: StaffOrPartnerDep,
    partners: PartnersDep,
    query: ResultListQuery,
    response: Response,
) -> list[Result]:
    """Results per commitment and round: count, mean, distribution, "don't know" count.

    Staff read rounds once closed; partners once published. Filter by ``round_id``,
    ``commitment_id`` (its trend over rounds) or ``kind`` (all, named, anonymous). Each
    round uses the k it opened with. Any figure based on fewer than k responses is null,
    with the reason in ``withheld``, and so is any figure that, with another release (all
    minus named, all minus anonymous), would reveal fewer than k.
    """
    page = await service.list_(session=session, caller=caller, partners=partners, query=query)
    page.apply(response, "results")
    return [Result.model_validate(r) for r in page.items]


@router.get("/results/{result_id}", response_model=Result, responses=problem_responses(404))
async def get_result(
    result_id: uuid.UUID, session: SessionDep, caller: StaffOrPartnerDep, partners: PartnersDep
) -> Result:
    """One result, to whoever may read it in the list (the same k rule holds)."""
    for kind in service.KINDS:
        query = ListQuery("results", "id", False, 0, 0, {"id": [str(result_id)], "kind": kind})
        page = await service.list_(session=session, caller=caller, partners=partners, query=query)
        if page.items:
            return Result.model_validate(page.items[0])
    raise NotFound("There is no result with this id, or it is not yours to read yet.")


@router.get("/rounds/{round_id}/results", response_model=list[Result])
async def round_results(
    round_id: uuid.UUID,
    session: SessionDep,
    caller: StaffOrPartnerDep,
    partners: PartnersDep,
    query: RoundResultListQuery,
) -> Response:
    """One round's results, per commitment in charter order."""
    found = await service.round_results(
        session=session, caller=caller, partners=partners, round_id=round_id
    )
    page = page_of(found, query)
    answer = json_response(page.items)
    page.apply(answer, "results")
    return answer


@router.get(
    "/rounds/{round_id}/comments",
    response_model=RoundComments,
    responses=problem_responses(409),
)
async def round_comments(
    round_id: uuid.UUID, session: SessionDep, caller: StaffDep
) -> RoundComments:
    """A closed round's comments, ordered by commitment and text (never by when written).
    Anonymous comments are released only when at least k of the round's answers are
    anonymous. 409 while the round is still open: comments are read once it has closed,
    so none can be matched to who answered while answers still come in."""
    return RoundComments.model_validate(
        await service.comments(session=session, caller=caller, round_id=round_id)
    )
