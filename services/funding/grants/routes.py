"""HTTP routes of core grants, instalments, payments and variations. Thin handlers."""

import uuid
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy import Row

from services.common.auth import StaffDep, StaffOrPartnerDep
from services.common.concurrency import IfMatchDep, etag
from services.common.db import SessionDep
from services.common.hotreads import hot_list, hot_read
from services.common.http import ServiceClient
from services.common.idempotency import IdempotencyDep
from services.common.lists import ListQuery, list_query
from services.common.listscale import uuid_text
from services.common.service_app import problem_responses
from services.funding.grants import awards, instalments, payments, service, variations
from services.funding.grants.models import Grant as GrantRow
from services.funding.grants.models import Instalment as InstalmentRow
from services.funding.grants.models import Payment as PaymentRow
from services.funding.grants.models import Variation as VariationRow
from services.funding.grants.schemas import (
    Approval,
    Grant,
    GrantCreate,
    GrantHistory,
    GrantUpdate,
    Instalment,
    InstalmentUpdate,
    Payment,
    PaymentCreate,
    Schedule,
    ScheduleUpdate,
    Transition,
    Variation,
    VariationCreate,
    Withdrawal,
)

router = APIRouter()

GrantListQuery = Annotated[
    ListQuery,
    Depends(
        list_query(
            "grants",
            sortable=[
                "awarded_on",
                "amount_awarded",
                "planned_start_date",
                "planned_end_date",
                "created_at",
            ],
            filterable=["partner_id", "funder_id", "status", "year", "overdue", "pool_id", "q"],
            default_sort=("awarded_on", "DESC"),
        )
    ),
]
InstalmentListQuery = Annotated[
    ListQuery,
    Depends(
        list_query(
            "instalments",
            sortable=["due_date", "amount", "created_at"],
            filterable=["grant_id", "partner_id", "funder_id", "status", "year", "overdue"],
            default_sort=("due_date", "ASC"),
        )
    ),
]
PaymentListQuery = Annotated[
    ListQuery,
    Depends(
        list_query(
            "payments",
            sortable=["paid_on", "amount", "created_at"],
            filterable=["grant_id", "instalment_id", "partner_id", "funder_id", "year", "overdue"],
            default_sort=("paid_on", "DESC"),
        )
    ),
]
VariationListQuery = Annotated[
    ListQuery,
    Depends(
        list_query(
            "variations",
            sortable=["decided_on", "created_at"],
            filterable=["grant_id", "partner_id", "funder_id", "kind", "year"],
            default_sort=("decided_on", "DESC"),
        )
    ),
]


def partners_client(request: Request) -> ServiceClient:
    """The client for the partners service."""
    return request.app.state.services["partners"]


PartnersDep = Annotated[ServiceClient, Depends(partners_client)]


def grant_values(grant: Any, funder_ids: list[uuid.UUID]) -> dict[str, Any]:
    """A grant as the API shows it (the fields of ``Grant``, in its order), as plain values
    ready for JSON, from a stored grant's columns (a row or the ORM object): how reads
    answer without building a model (``grant_json`` writes the bytes ``grant_out``'s
    model would).

    Written out field by field: a list page makes one per row, and a dict display costs
    a third of building it from the model's field names."""
    pool_id = grant.pool_id
    approved_on = grant.approved_on
    original_amount = grant.original_amount
    # Ids as text: asyncpg's own UUID type takes pydantic's slow path to JSON (5x).
    return {
        "id": str(grant.id),
        "created_at": grant.created_at,
        "updated_at": grant.updated_at,
        "version": grant.version,
        "funder_id": str(grant.funder_id),
        "pool_id": None if pool_id is None else str(pool_id),
        "funder_ids": funder_ids,
        "partner_id": str(grant.partner_id),
        "title": grant.title,
        "description": grant.description,
        "amount_awarded": grant.amount_awarded,
        "currency": grant.currency,
        "planned_start_date": grant.planned_start_date,
        "planned_end_date": grant.planned_end_date,
        "payment_frequency": grant.payment_frequency,
        "reference": grant.reference,
        "status": grant.status,
        "grant_360_id": grant.grant_360_id,
        "approved_on": approved_on,
        "approved_by": grant.approved_by,
        "decision_reference": grant.decision_reference,
        "activated_on": grant.activated_on,
        "completed_on": grant.completed_on,
        "withdrawn_on": grant.withdrawn_on,
        "withdrawal_reason": grant.withdrawal_reason,
        "award": None
        if approved_on is None or original_amount is None
        else {
            "amount_awarded": original_amount,
            "currency": grant.currency,
            "planned_start_date": grant.original_start_date,
            "planned_end_date": grant.original_end_date,
            "decided_on": approved_on,
            "decided_by": grant.approved_by or "",
            "decision_reference": grant.decision_reference or "",
        },
    }


def grant_json(values: Any) -> bytes:
    """``grant_values`` (or a list of them) as JSON: orjson writes the bytes pydantic writes
    for these plain values (UTC times with "Z"; asyncpg's UUIDs as text), in a quarter of
    the time."""
    return orjson.dumps(values, default=uuid_text, option=orjson.OPT_UTC_Z)


def grant_out(grant: GrantRow | Row[Any], *, funder_ids: list[uuid.UUID] | None = None) -> Grant:
    """A grant as the API shows it, with the award as first made (from the ORM object, or
    from a row read with its ``funder_ids``)."""
    if funder_ids is None:
        funder_ids = [o.funder_id for o in grant.funding_organisations]  # type: ignore[union-attr]
    return Grant.model_validate(grant_values(grant, funder_ids))


def instalment_out(row: InstalmentRow) -> Instalment:
    return Instalment(
        id=row.id,
        created_at=row.created_at,
        updated_at=row.updated_at,
        version=row.version,
        grant_id=row.grant_id,
        funder_id=row.funder_id,
        partner_id=row.partner_id,
        sequence=row.sequence,
        due_date=row.due_date,
        amount=row.amount,
        currency=row.currency,
        status=row.status,  # type: ignore[arg-type]
        paid_on=row.paid_on,
        cancelled_on=row.cancelled_on,
        overdue=row.status == "scheduled" and row.due_date < service.today(),
    )


def payment_out(row: PaymentRow) -> Payment:
    return Payment.model_validate(
        {
            **{k: getattr(row, k) for k in Payment.model_fields if k != "late"},
            "late": row.paid_on > row.due_date,
        }
    )


def schedule_out(grant: GrantRow, rows: list[InstalmentRow]) -> Schedule:
    paid = sum(r.amount for r in rows if r.status == "paid")
    unpaid = sum(r.amount for r in rows if r.status == "scheduled")
    return Schedule(
        grant_id=grant.id,
        amount_awarded=grant.amount_awarded,
        currency=grant.currency,
        amount_paid=paid,
        amount_unpaid=unpaid,
        instalments=[instalment_out(r) for r in rows],
    )


def variation_out(row: VariationRow) -> Variation:
    return Variation.model_validate(row)


def _grant_headers(grant: GrantRow) -> dict[str, str]:
    return {"Location": f"/api/v1/grants/{grant.id}", "ETag": etag(grant)}


# Grants ------------------------------------------------------------------------------------


@router.post(
    "/grants",
    status_code=201,
    response_model=Grant,
    tags=["grants"],
    responses=problem_responses(409, 503),
)
async def create_grant(
    body: GrantCreate,
    session: SessionDep,
    caller: StaffDep,
    idem: IdempotencyDep,
    partners: PartnersDep,
) -> Response:
    """Propose a multi-year unrestricted core grant to one of your funder's partners.

    A core grant funds the organisation, not a project: it has an amount, a
    currency, a term of 1 to 10 years and (once approved) a payment schedule.
    It carries **no KPIs, targets, outcomes, milestones or restrictions**;
    such fields are refused with a 422 that says why. The partner is checked
    with the partners service; if that cannot be reached the answer is 503
    and nothing is written.
    """
    grant = await service.create_grant(session=session, caller=caller, partners=partners, data=body)
    return await idem.respond(session, grant_out(grant), headers=_grant_headers(grant))


@router.get("/grants", response_model=list[Grant], tags=["grants"])
@hot_list
async def list_grants(
    session: SessionDep, caller: StaffOrPartnerDep, query: GrantListQuery
) -> Response:
    """Your funder's grants (staff) or your own awarded grants (partner).

    Sort by ``awarded_on`` (proposals by the day they were proposed),
    ``amount_awarded``, ``planned_start_date``, ``planned_end_date`` or
    ``created_at``. Filters: ``partner_id``, ``status``, ``year`` (of award),
    ``overdue`` (has an instalment unpaid after its due date), ``q``, ``id``.
    Deep pages: send ``cursor`` (the previous page's ``X-Next-Cursor``).
    """
    page = await service.list_grants(session=session, caller=caller, query=query)
    return Response(
        grant_json([grant_values(g, g.funder_ids) for g in page.items]),
        media_type="application/json",
        headers=page.headers("grants"),
    )


@router.get("/grants/{grant_id}", response_model=Grant, tags=["grants"])
@hot_read
async def get_grant(
    grant_id: uuid.UUID, session: SessionDep, caller: StaffOrPartnerDep
) -> Response:
    """One grant, with the award as first made."""
    read = await service.read_grant(session=session, caller=caller, grant_id=grant_id)
    return Response(
        grant_json(grant_values(read.grant, read.funder_ids)),
        media_type="application/json",
        headers={"ETag": etag(read.grant)},
    )


@router.put(
    "/grants/{grant_id}",
    response_model=Grant,
    tags=["grants"],
    responses=problem_responses(409, 412, 503),
)
async def update_grant(
    grant_id: uuid.UUID,
    body: GrantUpdate,
    session: SessionDep,
    caller: StaffDep,
    if_match: IfMatchDep,
    partners: PartnersDep,
    response: Response,
) -> Grant:
    """Edit a grant. Title and description at any time; amount, currency, dates, partner,
    frequency and reference only while it is proposed (afterwards, record a variation)."""
    grant = await service.update_grant(
        session=session,
        caller=caller,
        partners=partners,
        grant_id=grant_id,
        data=body,
        if_match=if_match,
    )
    response.headers["ETag"] = etag(grant)
    return grant_out(grant)


@router.post(
    "/grants/{grant_id}/approve",
    response_model=Grant,
    tags=["grants"],
    responses=problem_responses(409, 412, 503),
)
async def approve_grant(
    grant_id: uuid.UUID,
    body: Approval,
    session: SessionDep,
    caller: StaffDep,
    if_match: IfMatchDep,
    partners: PartnersDep,
    response: Response,
) -> Grant:
    """Record the decision to award a proposed grant (date, who decided, minute reference).

    The grant gets its 360Giving id ``360G-<prefix>-<reference>`` and a default
    payment schedule (annual or quarterly) that sums exactly to the award, the
    remainder pence on the first instalment. Emits ``grant.approved``.
    """
    grant = await awards.approve_grant(
        session=session,
        caller=caller,
        partners=partners,
        grant_id=grant_id,
        data=body,
        if_match=if_match,
    )
    response.headers["ETag"] = etag(grant)
    return grant_out(grant)


@router.post(
    "/grants/{grant_id}/activate",
    response_model=Grant,
    tags=["grants"],
    responses=problem_responses(409, 412),
)
async def activate_grant(
    grant_id: uuid.UUID,
    session: SessionDep,
    caller: StaffDep,
    if_match: IfMatchDep,
    response: Response,
    body: Transition | None = None,
) -> Grant:
    """Mark an approved grant active (paying its first instalment does this as well)."""
    grant = await service.activate_grant(
        session=session,
        caller=caller,
        grant_id=grant_id,
        data=body or Transition(),
        if_match=if_match,
    )
    response.headers["ETag"] = etag(grant)
    return grant_out(grant)


@router.post(
    "/grants/{grant_id}/complete",
    response_model=Grant,
    tags=["grants"],
    responses=problem_responses(409, 412),
)
async def complete_grant(
    grant_id: uuid.UUID,
    session: SessionDep,
    caller: StaffDep,
    if_match: IfMatchDep,
    response: Response,
    body: Transition | None = None,
) -> Grant:
    """Complete an active grant whose instalments are all paid."""
    grant = await service.complete_grant(
        session=session,
        caller=caller,
        grant_id=grant_id,
        data=body or Transition(),
        if_match=if_match,
    )
    response.headers["ETag"] = etag(grant)
    return grant_out(grant)


@router.post(
    "/grants/{grant_id}/withdraw",
    response_model=Grant,
    tags=["grants"],
    responses=problem_responses(409, 412),
)
async def withdraw_grant(
    grant_id: uuid.UUID,
    body: Withdrawal,
    session: SessionDep,
    caller: StaffDep,
    if_match: IfMatchDep,
    response: Response,
) -> Grant:
    """Withdraw a grant before completion, with a reason; unpaid instalments are cancelled.

    Emits ``grant.withdrawn`` if the grant had been awarded.
    """
    grant = await service.withdraw_grant(
        session=session, caller=caller, grant_id=grant_id, data=body, if_match=if_match
    )
    response.headers["ETag"] = etag(grant)
    return grant_out(grant)


@router.get("/grants/{grant_id}/history", response_model=GrantHistory, tags=["grants"])
async def grant_history(
    grant_id: uuid.UUID, session: SessionDep, caller: StaffOrPartnerDep
) -> GrantHistory:
    """The award as first made, every variation since (oldest first), and the grant now."""
    grant, since = await variations.grant_history(session=session, caller=caller, grant_id=grant_id)
    current = grant_out(grant)
    return GrantHistory(
        grant_id=grant.id,
        award=current.award,
        variations=[variation_out(v) for v in since],
        current=current,
    )


# Schedules and instalments ------------------------------------------------------------------


@router.get("/grants/{grant_id}/schedule", response_model=Schedule, tags=["instalments"])
async def get_schedule(
    grant_id: uuid.UUID, session: SessionDep, caller: StaffOrPartnerDep, response: Response
) -> Schedule:
    """A grant's payment schedule: every instalment (cancelled ones too), paid and unpaid totals.

    The ETag is the grant's: send it as If-Match when replacing the schedule.
    """
    grant, rows = await instalments.get_schedule(session=session, caller=caller, grant_id=grant_id)
    response.headers["ETag"] = etag(grant)
    return schedule_out(grant, rows)


@router.put(
    "/grants/{grant_id}/schedule",
    response_model=Schedule,
    tags=["instalments"],
    responses=problem_responses(409, 412),
)
async def replace_schedule(
    grant_id: uuid.UUID,
    body: ScheduleUpdate,
    session: SessionDep,
    caller: StaffDep,
    if_match: IfMatchDep,
    response: Response,
) -> Schedule:
    """Replace the unpaid instalments (paid ones stay as they are).

    The paid and new unpaid instalments must add up exactly to the amount
    awarded; otherwise the answer is 422 saying by how much it is off.
    """
    grant, rows = await instalments.replace_schedule(
        session=session, caller=caller, grant_id=grant_id, data=body, if_match=if_match
    )
    response.headers["ETag"] = etag(grant)
    return schedule_out(grant, rows)


@router.get("/instalments", response_model=list[Instalment], tags=["instalments"])
async def list_instalments(
    session: SessionDep, caller: StaffOrPartnerDep, query: InstalmentListQuery, response: Response
) -> list[Instalment]:
    """Instalments of your funder's grants (staff) or your own grants (partner).

    Filters: ``grant_id``, ``partner_id``, ``status`` (scheduled, paid, cancelled),
    ``year`` (of the due date), ``overdue`` (true: unpaid after the due date), ``id``.
    """
    page = await instalments.list_instalments(session=session, caller=caller, query=query)
    page.apply(response, "instalments")
    return [instalment_out(r) for r in page.items]


@router.get("/instalments/{instalment_id}", response_model=Instalment, tags=["instalments"])
async def get_instalment(
    instalment_id: uuid.UUID, session: SessionDep, caller: StaffOrPartnerDep, response: Response
) -> Instalment:
    """One instalment."""
    row, _ = await instalments.get_instalment(
        session=session, caller=caller, instalment_id=instalment_id
    )
    response.headers["ETag"] = etag(row)
    return instalment_out(row)


@router.put(
    "/instalments/{instalment_id}",
    response_model=Instalment,
    tags=["instalments"],
    responses=problem_responses(409, 412),
)
async def update_instalment(
    instalment_id: uuid.UUID,
    body: InstalmentUpdate,
    session: SessionDep,
    caller: StaffDep,
    if_match: IfMatchDep,
    response: Response,
) -> Instalment:
    """Move an unpaid instalment's due date. To change amounts, replace the schedule
    (PUT /grants/{id}/schedule) so that it still reconciles."""
    row = await instalments.update_instalment(
        session=session, caller=caller, instalment_id=instalment_id, data=body, if_match=if_match
    )
    response.headers["ETag"] = etag(row)
    return instalment_out(row)


# Payments ----------------------------------------------------------------------------------


@router.post(
    "/payments",
    status_code=201,
    response_model=Payment,
    tags=["payments"],
    # 404: the instalment named is none of your funder's.
    responses=problem_responses(404, 409),
)
async def record_payment(
    body: PaymentCreate, session: SessionDep, caller: StaffDep, idem: IdempotencyDep
) -> Response:
    """Record the payment of an instalment (in full). Send an ``Idempotency-Key``.

    An instalment cannot be paid twice or over-paid. Paying the first instalment
    of an approved grant makes it active. Emits ``instalment.paid``.
    """
    payment = await payments.record_payment(session=session, caller=caller, data=body)
    return await idem.respond(
        session, payment_out(payment), headers={"Location": f"/api/v1/payments/{payment.id}"}
    )


@router.get("/payments", response_model=list[Payment], tags=["payments"])
async def list_payments(
    session: SessionDep, caller: StaffOrPartnerDep, query: PaymentListQuery, response: Response
) -> list[Payment]:
    """Payments made on your funder's grants (staff) or to you (partner).

    Filters: ``grant_id``, ``instalment_id``, ``partner_id``, ``year`` (paid),
    ``overdue`` (true: paid after the due date), ``id``.
    """
    page = await payments.list_payments(session=session, caller=caller, query=query)
    page.apply(response, "payments")
    return [payment_out(p) for p in page.items]


@router.get("/payments/{payment_id}", response_model=Payment, tags=["payments"])
async def get_payment(
    payment_id: uuid.UUID, session: SessionDep, caller: StaffOrPartnerDep
) -> Payment:
    """One payment."""
    return payment_out(
        await payments.get_payment(session=session, caller=caller, payment_id=payment_id)
    )


# Variations --------------------------------------------------------------------------------


@router.post(
    "/grants/{grant_id}/variations",
    status_code=201,
    response_model=Variation,
    tags=["variations"],
    responses=problem_responses(409, 412),
)
async def create_variation(
    grant_id: uuid.UUID,
    body: VariationCreate,
    session: SessionDep,
    caller: StaffDep,
    idem: IdempotencyDep,
    if_match: IfMatchDep,
) -> Response:
    """Record an approved variation with its decision: ``uplift`` or ``reduction`` (by
    ``amount``), ``extension`` (to ``planned_end_date``) or ``reprofile`` (new
    ``instalments``). The grant's amount, dates and unpaid instalments change in
    one transaction; the award as first made and every variation stay readable.
    Emits ``grant.varied``.
    """
    variation = await variations.create_variation(
        session=session, caller=caller, grant_id=grant_id, data=body, if_match=if_match
    )
    return await idem.respond(
        session,
        variation_out(variation),
        headers={"Location": f"/api/v1/variations/{variation.id}"},
    )


@router.get("/variations", response_model=list[Variation], tags=["variations"])
async def list_variations(
    session: SessionDep, caller: StaffOrPartnerDep, query: VariationListQuery, response: Response
) -> list[Variation]:
    """Variations of your funder's grants (staff) or your grants (partner).

    Filters: ``grant_id``, ``partner_id``, ``kind``, ``year`` (decided), ``id``.
    """
    page = await variations.list_variations(session=session, caller=caller, query=query)
    page.apply(response, "variations")
    return [variation_out(v) for v in page.items]


@router.get("/variations/{variation_id}", response_model=Variation, tags=["variations"])
async def get_variation(
    variation_id: uuid.UUID, session: SessionDep, caller: StaffOrPartnerDep
) -> Variation:
    """One variation, with the schedule before and after it."""
    return variation_out(
        await variations.get_variation(session=session, caller=caller, variation_id=variation_id)
    )
