"""HTTP routes of grant requests. Thin handlers."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Response

from services.common.auth import PartnerDep, StaffDep, StaffOrPartnerDep
from services.common.concurrency import etag
from services.common.db import SessionDep
from services.common.idempotency import IdempotencyDep
from services.common.lists import ListQuery, list_query
from services.common.service_app import problem_responses
from services.funding.requests import service
from services.funding.requests.schemas import GrantRequest, GrantRequestCreate, GrantRequestReply

router = APIRouter(tags=["grant requests"])

RequestListQuery = Annotated[
    ListQuery,
    Depends(
        list_query(
            "grant-requests",
            sortable=["requested_at", "decided_at", "created_at"],
            filterable=["grant_id", "partner_id", "funder_id", "variation_id", "kind", "status"],
            default_sort=("requested_at", "DESC"),
        )
    ),
]


@router.post(
    "/grants/{grant_id}/requests",
    status_code=201,
    response_model=GrantRequest,
    responses=problem_responses(404, 409),
)
async def make_request(
    grant_id: uuid.UUID,
    body: GrantRequestCreate,
    session: SessionDep,
    caller: PartnerDep,
    idem: IdempotencyDep,
) -> Response:
    """Ask your funder for a change to your grant (partners), with your reasons in your own
    words. Example::

        {"kind": "extension",
         "reasons": "Our building works slipped by six months; we would like the grant to
                     run to the end of March 2034."}

    ``kind`` is ``extension`` (more time), ``reprofile`` (different payment timing) or
    ``uplift`` (more money). How you spend your unrestricted grant needs no request:
    kinds such as ``budget`` or ``spending`` are refused with a 422 that says so.
    The grant must be approved or active (409 otherwise). Your funder answers with a
    variation or a reply; ``days_to_decision`` then says how long you waited.
    Emits ``grant_request.received``. Accepts ``Idempotency-Key``.
    """
    request = await service.make_request(
        session=session, caller=caller, grant_id=grant_id, data=body
    )
    return await idem.respond(
        session,
        GrantRequest.model_validate(request),
        headers={"Location": f"/api/v1/grant-requests/{request.id}", "ETag": etag(request)},
    )


@router.get("/grant-requests", response_model=list[GrantRequest])
async def list_requests(
    session: SessionDep, caller: StaffOrPartnerDep, query: RequestListQuery, response: Response
) -> list[GrantRequest]:
    """Requests to change grants: those made to your funder (staff), or your own (partner).

    Filters: ``grant_id``, ``partner_id``, ``funder_id``, ``variation_id``, ``kind``,
    ``status`` (open, varied, declined, answered; one or a list), ``id``. Newest first.
    """
    page = await service.list_requests(session=session, caller=caller, query=query)
    page.apply(response, "grant-requests")
    return [GrantRequest.model_validate(r) for r in page.items]


@router.get(
    "/grant-requests/{request_id}", response_model=GrantRequest, responses=problem_responses(404)
)
async def get_request(
    request_id: uuid.UUID, session: SessionDep, caller: StaffOrPartnerDep, response: Response
) -> GrantRequest:
    """One request: to the partner that made it and the staff of the funder it was made to."""
    request = await service.get_request(session=session, caller=caller, request_id=request_id)
    response.headers["ETag"] = etag(request)
    return GrantRequest.model_validate(request)


@router.post(
    "/grant-requests/{request_id}/reply",
    response_model=GrantRequest,
    responses=problem_responses(404, 409),
)
async def reply(
    request_id: uuid.UUID,
    body: GrantRequestReply,
    session: SessionDep,
    caller: StaffDep,
    response: Response,
) -> GrantRequest:
    """Answer a request without a variation (funder staff): ``declined`` with the reason,
    or ``answered`` (the reply says what happens next). Example::

        {"outcome": "declined",
         "reply": "We cannot add to this year's grants; let's talk about it in the spring."}

    To grant it, record the variation with ``request_id`` on
    ``POST /api/v1/grants/{grant_id}/variations`` instead. A request is decided once
    (409 afterwards). Sets ``decided_at`` and ``days_to_decision`` and emits
    ``grant_request.decided``.
    """
    request = await service.reply(session=session, caller=caller, request_id=request_id, data=body)
    response.headers["ETag"] = etag(request)
    return GrantRequest.model_validate(request)
