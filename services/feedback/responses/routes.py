"""HTTP routes of responses to feedback rounds.

The anonymous routes carry nothing that identifies the partner in their path,
and the receipt travels in a header (never logged).
"""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Response

from services.common.auth import PartnerDep, StaffDep
from services.common.db import SessionDep
from services.common.lists import ListQuery, list_query
from services.common.service_app import problem_responses
from services.feedback.deps import PartnersDep
from services.feedback.responses import service
from services.feedback.responses.schemas import (
    RECEIPT_HEADER,
    AnonymousResponse,
    NamedResponse,
    ResponseChange,
    ResponseCreate,
)

router = APIRouter(tags=["responses"])

ResponseListQuery = Annotated[
    ListQuery,
    Depends(
        list_query(
            "responses",
            sortable=["submitted_at", "partner_name"],
            filterable=["round_id", "partner_id"],
            default_sort=("submitted_at", "DESC"),
        )
    ),
]
ReceiptHeader = Annotated[
    str | None,
    Header(alias=RECEIPT_HEADER, description="The receipt you were given when you answered"),
]
NO_STORE = {"Cache-Control": "no-store"}


@router.post(
    "/rounds/{round_id}/responses",
    status_code=201,
    response_model=NamedResponse | AnonymousResponse,
    responses=problem_responses(409),
)
async def submit_response(
    round_id: uuid.UUID,
    body: ResponseCreate,
    session: SessionDep,
    caller: PartnerDep,
    partners: PartnersDep,
    response: Response,
) -> NamedResponse | AnonymousResponse:
    """Answer a round you were invited to: rate every commitment 1 to 5 or ``dont_know``,
    with optional comments, named or anonymously. One response per partner per round.

    An anonymous answer comes back with a ``receipt``, shown this once: it is the only
    way to read or change the answer, and Trellis keeps only its hash. Nothing stored or
    logged links an anonymous answer to you; Trellis records only that you answered.
    """
    out = await service.submit(
        session=session,
        caller=caller,
        partners=partners,
        round_id=round_id,
        anonymous=body.anonymous,
        ratings=body.ratings,
        comment=body.comment,
    )
    response.headers.update(NO_STORE)
    if out["anonymous"]:
        return AnonymousResponse.model_validate(out)
    response.headers["Location"] = f"/api/v1/rounds/{round_id}/responses/mine"
    return NamedResponse.model_validate(out)


@router.get("/rounds/{round_id}/responses/mine", response_model=NamedResponse)
async def get_my_response(
    round_id: uuid.UUID, session: SessionDep, caller: PartnerDep
) -> NamedResponse:
    """Your named response to a round."""
    return NamedResponse.model_validate(
        await service.mine(session=session, caller=caller, round_id=round_id)
    )


@router.put(
    "/rounds/{round_id}/responses/mine",
    response_model=NamedResponse,
    responses=problem_responses(409),
)
async def change_my_response(
    round_id: uuid.UUID, body: ResponseChange, session: SessionDep, caller: PartnerDep
) -> NamedResponse:
    """Change your named response while the round is open."""
    out = await service.change_mine(
        session=session,
        caller=caller,
        round_id=round_id,
        ratings=body.ratings,
        comment=body.comment,
    )
    return NamedResponse.model_validate(out)


@router.get("/rounds/{round_id}/responses/anonymous", response_model=AnonymousResponse)
async def get_anonymous_response(
    round_id: uuid.UUID,
    session: SessionDep,
    caller: PartnerDep,
    response: Response,
    receipt: ReceiptHeader = None,
) -> AnonymousResponse:
    """Read the anonymous response your receipt belongs to."""
    out = await service.read_anonymous(
        session=session, caller=caller, round_id=round_id, receipt=receipt
    )
    response.headers.update(NO_STORE)
    return AnonymousResponse.model_validate(out)


@router.put(
    "/rounds/{round_id}/responses/anonymous",
    response_model=AnonymousResponse,
    responses=problem_responses(409),
)
async def change_anonymous_response(
    round_id: uuid.UUID,
    body: ResponseChange,
    session: SessionDep,
    caller: PartnerDep,
    response: Response,
    receipt: ReceiptHeader = None,
) -> AnonymousResponse:
    """Change an anonymous response while the round is open: whoever holds its receipt can."""
    out = await service.change_anonymous(
        session=session,
        caller=caller,
        round_id=round_id,
        receipt=receipt,
        ratings=body.ratings,
        comment=body.comment,
    )
    response.headers.update(NO_STORE)
    return AnonymousResponse.model_validate(out)


@router.get("/responses", response_model=list[NamedResponse])
async def list_responses(
    session: SessionDep, caller: StaffDep, query: ResponseListQuery, response: Response
) -> list[NamedResponse]:
    """Named responses to your funder's rounds. Anonymous responses are only ever read as
    results, never one by one."""
    page = await service.list_named(session=session, caller=caller, query=query)
    page.apply(response, "responses")
    return [NamedResponse.model_validate(r) for r in await service.named_many(session, page.items)]


@router.get("/responses/{response_id}", response_model=NamedResponse)
async def get_response(
    response_id: uuid.UUID, session: SessionDep, caller: StaffDep
) -> NamedResponse:
    """One named response to one of your funder's rounds."""
    return NamedResponse.model_validate(
        await service.get_named(session=session, caller=caller, response_id=response_id)
    )
