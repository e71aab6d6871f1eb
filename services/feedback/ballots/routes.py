"""HTTP routes of anonymous ballots."""

import uuid

from fastapi import APIRouter, Response

from services.common.auth import PartnerDep
from services.common.db import SessionDep
from services.common.service_app import problem_responses
from services.feedback.ballots import service
from services.feedback.ballots.schemas import BallotKeyOut, BallotOut, BallotRequest

router = APIRouter()
NO_STORE = {"Cache-Control": "no-store"}


@router.get(
    "/public/feedback/rounds/{round_id}/ballot-key",
    response_model=BallotKeyOut,
    tags=["public"],
)
async def ballot_key(round_id: uuid.UUID, session: SessionDep) -> BallotKeyOut:
    """The public key that signs every anonymous ballot of a round (RFC 9474,
    RSABSSA-SHA384-PSS-Randomized). No token needed, and fetch it without one: it is
    the same for everyone, which is what your client checks."""
    return BallotKeyOut.model_validate(await service.public_key(session=session, round_id=round_id))


@router.post(
    "/rounds/{round_id}/ballots",
    status_code=201,
    response_model=BallotOut,
    tags=["responses"],
    responses=problem_responses(409),
)
async def take_ballot(
    round_id: uuid.UUID,
    body: BallotRequest,
    session: SessionDep,
    caller: PartnerDep,
    response: Response,
) -> BallotOut:
    """Take your anonymous ballot for a round you were invited to: send a blinded message,
    get its blind signature. Once per round (the same request again gets the same
    signature). Trellis records only that you took your ballot; it cannot link the
    ballot you later cast to you. The ``trellis_ballot`` Python package does all of it
    in one call."""
    out = await service.issue(
        session=session, caller=caller, round_id=round_id, blinded_message=body.blinded_message
    )
    response.headers.update(NO_STORE)
    return BallotOut.model_validate(out)
