"""The rules of grant requests. Keyword-only functions; they flush, never commit.

A partner's people ask for a change to a live grant (an extension, re-profiled
payments, an uplift) with their reasons in their own words. The grant's funder
answers with a variation (``request_id`` on ``POST /grants/{id}/variations``) or a
reply (declined, with the reason, or answered). The time to decide is the funder's
own measure: kept on the request as ``days_to_decision`` and announced as
``grant_request.decided``. How a partner spends its unrestricted money is not a
request: there is nothing to ask.
"""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.common import audit, outbox
from services.common.auth import Caller
from services.common.db import utcnow
from services.common.errors import Conflict, NotFound, Unprocessable
from services.common.lists import ListQuery, Page
from services.funding.grants import repository as grants_repository
from services.funding.requests import repository
from services.funding.requests.models import GrantRequest
from services.funding.requests.schemas import GrantRequestCreate, GrantRequestReply

NOT_FOUND = "There is no grant request with this id."
LIVE = ("approved", "active")
DECIDED_EVENT = "grant_request.decided"


def days_between(requested_at: datetime, decided_at: datetime) -> int:
    """Calendar days (UTC) from a request to its decision: 0 when decided the same day."""
    return (decided_at.date() - requested_at.date()).days


async def make_request(
    *, session: AsyncSession, caller: Caller, grant_id: uuid.UUID, data: GrantRequestCreate
) -> GrantRequest:
    """A partner asks its grant's funder for a change, in its own words."""
    grant = await grants_repository.get_grant(session, grant_id)
    partner_id = caller.own_partner_id
    if (
        grant is None
        or partner_id is None
        or grant.partner_id != partner_id
        or grant.approved_on is None
    ):
        raise NotFound("There is no grant with this id.")
    if grant.status not in LIVE:
        raise Conflict(
            f"This grant is {grant.status}: a change can be asked for while a grant is approved "
            "or active. Write to your funder in a thread about anything else.",
            slug="grant-not-live",
            extra={"status": grant.status},
        )
    now = utcnow()
    request = GrantRequest(
        grant_id=grant.id,
        funder_id=grant.funder_id,
        partner_id=grant.partner_id,
        kind=data.kind,
        reasons=data.reasons,
        requested_by=(caller.name or caller.actor)[:200],
        requested_at=now,
        status="open",
        version=1,
    )
    session.add(request)
    await session.flush()
    audit.record(
        session,
        caller=caller,
        action="create",
        entity_type="grant_request",
        entity_id=request.id,
        funder_id=grant.funder_id,
        partner_id=grant.partner_id,
        changes={"grant_id": str(grant.id), "kind": data.kind},
    )
    outbox.emit(
        session,
        "grant_request.received",
        {
            "request_id": str(request.id),
            "grant_id": str(grant.id),
            "funder_id": str(grant.funder_id),
            "partner_id": str(grant.partner_id),
            "kind": request.kind,
            "requested_at": now.isoformat(),
        },
    )
    return request


def _sees(caller: Caller, request: GrantRequest) -> bool:
    if caller.staff_funder_id is not None:
        return request.funder_id == caller.staff_funder_id
    return caller.own_partner_id is not None and request.partner_id == caller.own_partner_id


async def get_request(
    *, session: AsyncSession, caller: Caller, request_id: uuid.UUID
) -> GrantRequest:
    """The partner that asked, or staff of the funder asked."""
    request = await repository.get(session, request_id)
    if request is None or not _sees(caller, request):
        raise NotFound(NOT_FOUND)
    return request


async def list_requests(*, session: AsyncSession, caller: Caller, query: ListQuery) -> Page:
    if caller.staff_funder_id is not None:
        return await repository.list_requests(session, query, funder_id=caller.staff_funder_id)
    return await repository.list_requests(session, query, partner_id=caller.own_partner_id)


async def claim_open(
    session: AsyncSession, *, caller: Caller, request_id: uuid.UUID, grant_id: uuid.UUID | None
) -> GrantRequest:
    """An open request of the caller's funder (locked), for a decision; 409 once decided."""
    request = await repository.get(session, request_id, for_update=True)
    if request is None or request.funder_id != caller.staff_funder_id:
        if grant_id is None:
            raise NotFound(NOT_FOUND)
        message = "There is no request with this id among your funder's grant requests."
        raise Unprocessable(message, errors={"request_id": [message]})
    if grant_id is not None and request.grant_id != grant_id:
        message = f"This request is about another grant ({request.grant_id})."
        raise Unprocessable(message, errors={"request_id": [message]})
    if request.status != "open":
        raise Conflict(
            f"This request was already decided ({request.status}) on "
            f"{request.decided_at.date().isoformat() if request.decided_at else '?'}.",
            slug="request-decided",
            extra={"status": request.status},
        )
    return request


async def decide(
    session: AsyncSession,
    *,
    caller: Caller,
    request: GrantRequest,
    status: str,
    reply: str | None = None,
    variation_id: uuid.UUID | None = None,
) -> GrantRequest:
    """Close an open request and announce how long the partner waited."""
    now = utcnow()
    request.status = status
    request.reply = reply
    request.variation_id = variation_id
    request.decided_at = now
    request.decided_by = (caller.name or caller.actor)[:200]
    request.days_to_decision = days_between(request.requested_at, now)
    await session.flush()
    changes: dict[str, Any] = {"status": status, "days_to_decision": request.days_to_decision}
    if variation_id is not None:
        changes["variation_id"] = str(variation_id)
    audit.record(
        session,
        caller=caller,
        action="decide",
        entity_type="grant_request",
        entity_id=request.id,
        partner_id=request.partner_id,
        changes=changes,
    )
    outbox.emit(
        session,
        DECIDED_EVENT,
        {
            "request_id": str(request.id),
            "grant_id": str(request.grant_id),
            "funder_id": str(request.funder_id),
            "partner_id": str(request.partner_id),
            "kind": request.kind,
            "outcome": status,
            "variation_id": str(variation_id) if variation_id else None,
            "requested_at": request.requested_at.isoformat(),
            "decided_at": now.isoformat(),
            "days_to_decision": request.days_to_decision,
        },
    )
    return request


async def reply(
    *, session: AsyncSession, caller: Caller, request_id: uuid.UUID, data: GrantRequestReply
) -> GrantRequest:
    """Staff answer without a variation: declined with the reason, or answered."""
    request = await claim_open(session, caller=caller, request_id=request_id, grant_id=None)
    return await decide(
        session, caller=caller, request=request, status=data.outcome, reply=data.reply
    )
