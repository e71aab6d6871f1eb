"""The composite views' routes, served by the gateway itself (not proxied)."""

import uuid

from fastapi import APIRouter, Query, Request, Response

from services.common.audit import AuditEntryOut
from services.common.auth import StaffDep, StaffOrPartnerDep
from services.common.errors import Forbidden, NotFound
from services.common.requestid import current_request_id
from services.common.service_app import problem_responses
from services.gateway.views import audit, funder, partner
from services.gateway.views.compose import Calls, Refused
from services.gateway.views.schemas import FunderOverview, PartnerOverview

router = APIRouter(prefix="/api/v1", tags=["overviews"])


def calls_for(request: Request) -> Calls:
    """The services as the caller of ``request`` sees them (its own token, its request id)."""
    settings = request.app.state.settings
    return Calls(
        request.app.state.upstreams,
        authorization=request.headers["authorization"],
        request_id=current_request_id() or "",
        timeout=settings.upstream_timeout,
    )


@router.get(
    "/partners/{partner_id}/overview",
    response_model=PartnerOverview,
    response_model_exclude_unset=True,
)
async def partner_overview(
    partner_id: uuid.UUID, request: Request, caller: StaffOrPartnerDep
) -> PartnerOverview:
    """One partner, whole: the organisation, your relationship and its history, grants with
    totals awarded and paid and the next instalment due, the latest updates and those
    awaiting a reply, recent threads, the last interaction, and the feedback rounds the
    partner was invited to (never its answers).

    Every section is read from its service with your own token, at once; a section whose
    service is down says so and the rest still answer.
    """
    built = await partner.build(calls_for(request), caller, str(partner_id))
    organisation = built["organisation"]
    if organisation["status"] == "not_permitted" and organisation.get("service_status") == 404:
        raise NotFound("There is no partner with this id.")
    return PartnerOverview(partner_id=str(partner_id), **built)


@router.get("/overview", response_model=FunderOverview, response_model_exclude_unset=True)
async def funder_overview(request: Request, caller: StaffDep) -> FunderOverview:
    """Your funder's home page: what needs attention now.

    Updates waiting for a reply (and those past the reply time your funder promised),
    instalments due this month and overdue, feedback rounds open, and pool proposals
    awaiting your funder's vote. Every section is read with your own token.
    """
    built = await funder.build(
        calls_for(request),
        caller,
        reply_within_days=request.app.state.settings.reply_within_days,
    )
    return FunderOverview(funder_id=str(caller.staff_funder_id), **built)


@router.get(
    "/audit",
    response_model=list[AuditEntryOut],
    tags=["audit"],
    responses=problem_responses(400, 401, 403, 503),
)
async def list_audit(
    request: Request,
    caller: StaffOrPartnerDep,
    response: Response,
    sort: str | None = Query(None, examples=['["occurred_at","DESC"]']),
    range_: str | None = Query(None, alias="range", examples=["[0,24]"]),
    filter_: str | None = Query(None, alias="filter", examples=['{"entity_type":"grant"}']),
) -> list[dict[str, object]]:
    """Every change to your records across the whole API, newest first: who made it, with
    which roles, when, what changed, in which request, and in which service.

    Funder staff read their funder's records; an organisation's people read their
    organisation's own. Filters (passed to each service): ``entity_type``, ``entity_id``,
    ``actor``, ``action``, ``request_id``, ``occurred_at_gte``, ``occurred_at_lte``,
    ``funder_id``, ``partner_id``, ``id``.
    """
    field, descending, start, end = audit.window(sort, range_)
    try:
        rows, total = await audit.merged(
            calls_for(request),
            field=field,
            descending=descending,
            start=start,
            end=end,
            raw_filter=filter_,
        )
    except Refused as exc:
        raise Forbidden(
            "The audit trail is read by a funder's staff or an organisation's people."
        ) from exc
    response.headers["Content-Range"] = (
        f"audit {start}-{start + len(rows) - 1}/{total}" if rows else f"audit */{total}"
    )
    return rows


@router.get(
    "/audit/{audit_id}",
    response_model=AuditEntryOut,
    tags=["audit"],
    responses=problem_responses(401, 403, 404, 503),
)
async def get_audit_entry(
    audit_id: uuid.UUID, request: Request, caller: StaffOrPartnerDep
) -> dict[str, object]:
    """One entry of your audit trail, from whichever service recorded it (404 for an entry
    of another funder or organisation, as for one that does not exist)."""
    return await audit.one(calls_for(request), str(audit_id))
