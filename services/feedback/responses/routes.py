"""HTTP routes of responses to feedback rounds.

The anonymous routes take no token: the ballot travels in a header (never logged),
and nothing in the request names the partner.
"""

import uuid
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, Header, Request, Response

from services.common.auth import PartnerDep, StaffDep
from services.common.db import SessionDep
from services.common.lists import ListQuery, list_query
from services.common.service_app import problem_responses
from services.feedback.ballots.schemas import BALLOT_HEADER
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
    Header(
        alias=RECEIPT_HEADER,
        description="The receipt of an anonymous answer given before ballots existed",
    ),
]
BallotHeader = Annotated[
    str | None,
    Header(
        alias=BALLOT_HEADER,
        description="Your ballot: the message and its unblinded signature, base64url, "
        "joined by a dot",
    ),
]
AuthorizationHeader = Annotated[
    str | None,
    Header(alias="Authorization", include_in_schema=False),
]
NO_STORE = {"Cache-Control": "no-store"}


@router.post(
    "/rounds/{round_id}/responses",
    status_code=201,
    response_model=NamedResponse,
    responses=problem_responses(409),
)
async def submit_response(
    round_id: uuid.UUID,
    body: ResponseCreate,
    session: SessionDep,
    caller: PartnerDep,
    partners: PartnersDep,
    response: Response,
) -> NamedResponse:
    """Answer a round you were invited to by name: rate every commitment 1 to 5 or
    ``dont_know``, with optional comments. One answer per partner per round.

    To answer anonymously, take a ballot (``POST /rounds/{round_id}/ballots``) and cast
    your answer without a token (``POST /rounds/{round_id}/anonymous-responses``)."""
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
    response.headers["Location"] = f"/api/v1/rounds/{round_id}/responses/mine"
    return NamedResponse.model_validate(out)


@router.post(
    "/rounds/{round_id}/anonymous-responses",
    status_code=201,
    response_model=AnonymousResponse,
    # 403: sent with a token (an anonymous answer is cast without one) or without a ballot.
    responses=problem_responses(403, 409),
)
async def cast_anonymous_response(
    round_id: uuid.UUID,
    body: ResponseChange,
    session: SessionDep,
    request: Request,
    response: Response,
    background: BackgroundTasks,
    ballot: BallotHeader = None,
    authorization: AuthorizationHeader = None,
) -> AnonymousResponse:
    """Cast an anonymous answer with your ballot, **without a token**: rate every
    commitment 1 to 5 or ``dont_know``, with optional comments. Nothing stored or logged
    links it to you: Trellis signed your ballot blind and checks only that the round's key
    signed it. Keep the ballot: it is the only way to read or change the answer."""
    service.refuse_identity(authorization)
    out = await service.cast(
        session=session,
        round_id=round_id,
        ballot=ballot,
        ratings=body.ratings,
        comment=body.comment,
    )
    # Once committed and answered: no copy of the SQLite WAL keeps the order of writes.
    background.add_task(service.forget_write_order, engine=request.app.state.db.engine)
    response.headers.update(NO_STORE)
    return AnonymousResponse.model_validate(out)


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


@router.get(
    "/rounds/{round_id}/anonymous-responses/mine",
    response_model=AnonymousResponse,
    responses=problem_responses(403),
)
async def get_anonymous_response(
    round_id: uuid.UUID,
    session: SessionDep,
    response: Response,
    ballot: BallotHeader = None,
    receipt: ReceiptHeader = None,
    authorization: AuthorizationHeader = None,
) -> AnonymousResponse:
    """Read the anonymous answer cast with your ballot (or, for an answer given before
    ballots, your receipt). No token."""
    service.refuse_identity(authorization)
    out = await service.read_anonymous(
        session=session, round_id=round_id, ballot=ballot, receipt=receipt
    )
    response.headers.update(NO_STORE)
    return AnonymousResponse.model_validate(out)


@router.put(
    "/rounds/{round_id}/anonymous-responses/mine",
    response_model=AnonymousResponse,
    responses=problem_responses(403, 409),
)
async def change_anonymous_response(
    round_id: uuid.UUID,
    body: ResponseChange,
    session: SessionDep,
    request: Request,
    response: Response,
    background: BackgroundTasks,
    ballot: BallotHeader = None,
    receipt: ReceiptHeader = None,
    authorization: AuthorizationHeader = None,
) -> AnonymousResponse:
    """Change an anonymous answer while the round is open: whoever holds its ballot (or
    receipt) can. No token."""
    service.refuse_identity(authorization)
    out = await service.change_anonymous(
        session=session,
        round_id=round_id,
        ballot=ballot,
        receipt=receipt,
        ratings=body.ratings,
        comment=body.comment,
    )
    # Once committed and answered: no copy of the SQLite WAL keeps the order of writes.
    background.add_task(service.forget_write_order, engine=request.app.state.db.engine)
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
