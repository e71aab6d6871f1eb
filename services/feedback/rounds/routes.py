"""HTTP routes of feedback rounds."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Response

from services.common.auth import Caller, StaffDep, StaffOrPartnerDep
from services.common.concurrency import IfMatchDep, etag
from services.common.db import SessionDep
from services.common.idempotency import IdempotencyDep
from services.common.lists import ListQuery, list_query
from services.common.service_app import problem_responses
from services.feedback.deps import FundingDep, PartnersDep
from services.feedback.models import Round as RoundRow
from services.feedback.rounds import service
from services.feedback.rounds.schemas import Round, RoundCreate, RoundPublish, RoundUpdate

router = APIRouter(tags=["rounds"])

RoundListQuery = Annotated[
    ListQuery,
    Depends(
        list_query(
            "rounds",
            sortable=["opens_on", "closes_on", "status", "title", "created_at"],
            filterable=["status", "funder_id", "invited_partner_id", "ballot_key_id"],
            default_sort=("opens_on", "DESC"),
        )
    ),
]


async def _one(session: SessionDep, caller: Caller, round_: RoundRow, response: Response) -> Round:
    response.headers["ETag"] = etag(round_)
    return Round.model_validate((await service.shape(session, caller, [round_]))[0])


@router.post(
    "/rounds", status_code=201, response_model=Round, responses=problem_responses(409, 503)
)
async def create_round(
    body: RoundCreate,
    session: SessionDep,
    caller: StaffDep,
    partners: PartnersDep,
    funding: FundingDep,
    idem: IdempotencyDep,
) -> Response:
    """Plan a feedback round (a draft): title, the dates it opens and closes, and whom it
    asks (``audience``). Example, to hear from organisations you stopped funding or
    declined::

        {"title": "Hearing from everyone", "opens_on": "2030-05-01",
         "closes_on": "2030-05-29", "audience": "chosen",
         "organisation_ids": ["…", "…"]}

    ``audience``: ``active`` (default), ``ended``, ``chosen`` (with ``organisation_ids``)
    or ``pool`` (with ``pool_id``). Whatever the audience, only organisations that have
    claimed their own record and accepted your funder are invited, and k works as for any
    round."""
    round_ = await service.create(
        session=session, caller=caller, partners=partners, funding=funding, data=body
    )
    out = Round.model_validate((await service.shape(session, caller, [round_]))[0])
    return await idem.respond(
        session,
        out,
        headers={"Location": f"/api/v1/rounds/{round_.id}", "ETag": etag(round_)},
    )


@router.get("/rounds", response_model=list[Round])
async def list_rounds(
    session: SessionDep, caller: StaffOrPartnerDep, query: RoundListQuery, response: Response
) -> list[Round]:
    """Your funder's rounds (staff), or the rounds you were invited to (partner).

    Filters: ``status``, ``funder_id``, ``invited_partner_id`` (rounds that partner was
    invited to; never whether or how it answered), ``ballot_key_id`` (the round a ballot
    key belongs to, for a client checking the key it was given).
    """
    page = await service.list_(session=session, caller=caller, query=query)
    page.apply(response, "rounds")
    return [Round.model_validate(r) for r in await service.shape(session, caller, page.items)]


@router.get("/rounds/{round_id}", response_model=Round)
async def get_round(
    round_id: uuid.UUID, session: SessionDep, caller: StaffOrPartnerDep, response: Response
) -> Round:
    """One round with the commitments (and versions) it asks about."""
    round_ = await service.visible(session, caller, round_id)
    return await _one(session, caller, round_, response)


@router.put("/rounds/{round_id}", response_model=Round, responses=problem_responses(409, 412, 503))
async def update_round(
    round_id: uuid.UUID,
    body: RoundUpdate,
    session: SessionDep,
    caller: StaffDep,
    partners: PartnersDep,
    funding: FundingDep,
    if_match: IfMatchDep,
    response: Response,
) -> Round:
    """Change a round's title, description, dates, the funder's answer to partners, or (while
    a draft) whom it asks: ``audience``, ``organisation_ids``, ``pool_id``."""
    round_ = await service.update(
        session=session,
        caller=caller,
        partners=partners,
        funding=funding,
        round_id=round_id,
        data=body,
        if_match=if_match,
    )
    return await _one(session, caller, round_, response)


@router.post(
    "/rounds/{round_id}/open", response_model=Round, responses=problem_responses(409, 412, 503)
)
async def open_round(
    round_id: uuid.UUID,
    session: SessionDep,
    caller: StaffDep,
    partners: PartnersDep,
    funding: FundingDep,
    if_match: IfMatchDep,
    response: Response,
) -> Round:
    """Open the round. The organisations its audience names now are invited (for
    ``active``, partners in an active relationship with your funder now), of those only
    the ones that have claimed their own record and accepted your funder: staff cannot
    reach k with records they control. The commitments it asks about are fixed at their
    current versions. If the partners (or, for a pool, funding) service cannot be reached
    the answer is 503 and nothing changes."""
    round_ = await service.open_(
        session=session,
        caller=caller,
        partners=partners,
        funding=funding,
        round_id=round_id,
        if_match=if_match,
    )
    return await _one(session, caller, round_, response)


@router.post(
    "/rounds/{round_id}/close", response_model=Round, responses=problem_responses(409, 412)
)
async def close_round(
    round_id: uuid.UUID,
    session: SessionDep,
    caller: StaffDep,
    if_match: IfMatchDep,
    response: Response,
) -> Round:
    """Close the round: answers can no longer be given or changed; results can be read."""
    round_ = await service.close(
        session=session, caller=caller, round_id=round_id, if_match=if_match
    )
    return await _one(session, caller, round_, response)


@router.post(
    "/rounds/{round_id}/publish", response_model=Round, responses=problem_responses(409, 412)
)
async def publish_round(
    round_id: uuid.UUID,
    session: SessionDep,
    caller: StaffDep,
    if_match: IfMatchDep,
    response: Response,
    body: RoundPublish | None = None,
) -> Round:
    """Publish a closed round's results, with your funder's answer to what partners said."""
    round_ = await service.publish(
        session=session,
        caller=caller,
        round_id=round_id,
        data=body or RoundPublish(),
        if_match=if_match,
    )
    return await _one(session, caller, round_, response)
