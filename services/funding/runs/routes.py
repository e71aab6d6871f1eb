"""HTTP routes of payment runs: prepare, approve (a second person), export, mark paid."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Response

from services.common.auth import StaffDep
from services.common.concurrency import etag
from services.common.csvsafe import csv_response
from services.common.db import SessionDep
from services.common.idempotency import IdempotencyDep
from services.common.lists import ListQuery, list_query
from services.common.service_app import problem_responses
from services.funding.grants.routes import PartnersDep
from services.funding.grants.schedule import major_units_text
from services.funding.runs import service
from services.funding.runs.models import PaymentRun as RunRow
from services.funding.runs.schemas import (
    PaymentRun,
    PaymentRunCreate,
    PaymentRunDetail,
    PaymentRunItem,
    PaymentRunPaid,
)

router = APIRouter()

RunListQuery = Annotated[
    ListQuery,
    Depends(
        list_query(
            "payment-runs",
            sortable=["created_at", "due_by", "total"],
            filterable=["status", "funder_id"],
            default_sort=("created_at", "DESC"),
        )
    ),
]


def run_out(run: RunRow) -> PaymentRun:
    return PaymentRun.model_validate(run)


async def detail(session: SessionDep, run: RunRow) -> PaymentRunDetail:
    items = await service.items_of(session=session, run=run)
    return PaymentRunDetail(
        **run_out(run).model_dump(), items=[PaymentRunItem.model_validate(i) for i in items]
    )


def _headers(run: RunRow) -> dict[str, str]:
    return {"Location": f"/api/v1/payment-runs/{run.id}", "ETag": etag(run)}


@router.post(
    "/payment-runs",
    status_code=201,
    response_model=PaymentRunDetail,
    tags=["payment runs"],
    responses=problem_responses(409),
)
async def prepare_payment_run(
    body: PaymentRunCreate, session: SessionDep, caller: StaffDep, idem: IdempotencyDep
) -> Response:
    """Prepare a payment run (finance role): every unpaid instalment of your awarded grants
    due on or before ``due_by``, overdue ones included, in one currency. An instalment
    already in another open run stays there: no instalment is ever in two runs."""
    run = await service.prepare(session=session, caller=caller, data=body)
    return await idem.respond(session, await detail(session, run), headers=_headers(run))


@router.get("/payment-runs", response_model=list[PaymentRun], tags=["payment runs"])
async def list_payment_runs(
    session: SessionDep, caller: StaffDep, query: RunListQuery, response: Response
) -> list[PaymentRun]:
    """Your funder's payment runs, newest first. Filters: ``status``, ``funder_id``, ``id``."""
    page = await service.list_runs(session=session, caller=caller, query=query)
    page.apply(response, "payment-runs")
    return [run_out(r) for r in page.items]


@router.get("/payment-runs/{run_id}", response_model=PaymentRunDetail, tags=["payment runs"])
async def get_payment_run(
    run_id: uuid.UUID, session: SessionDep, caller: StaffDep, response: Response
) -> PaymentRunDetail:
    """One payment run with its instalments."""
    run = await service.get_run(session=session, caller=caller, run_id=run_id)
    response.headers["ETag"] = etag(run)
    return await detail(session, run)


@router.post(
    "/payment-runs/{run_id}/approve",
    response_model=PaymentRun,
    tags=["payment runs"],
    responses=problem_responses(409),
)
async def approve_payment_run(
    run_id: uuid.UUID, session: SessionDep, caller: StaffDep
) -> PaymentRun:
    """Approve a prepared run (finance role). The person who prepared it cannot: every run
    needs two people (403)."""
    return run_out(await service.approve(session=session, caller=caller, run_id=run_id))


@router.post(
    "/payment-runs/{run_id}/cancel",
    response_model=PaymentRun,
    tags=["payment runs"],
    responses=problem_responses(409),
)
async def cancel_payment_run(
    run_id: uuid.UUID, session: SessionDep, caller: StaffDep
) -> PaymentRun:
    """Cancel a run not yet paid (finance role); its instalments are free for another run."""
    return run_out(await service.cancel(session=session, caller=caller, run_id=run_id))


@router.post(
    "/payment-runs/{run_id}/paid",
    response_model=PaymentRun,
    tags=["payment runs"],
    responses=problem_responses(409),
)
async def mark_payment_run_paid(
    run_id: uuid.UUID,
    body: PaymentRunPaid,
    session: SessionDep,
    caller: StaffDep,
    idem: IdempotencyDep,
) -> Response:
    """Mark an approved run paid (finance role): every payment is recorded in one
    transaction, each with its ``instalment.paid`` event, as a single payment would be.
    Marking a paid run paid again changes nothing and answers the run."""
    run = await service.mark_paid(session=session, caller=caller, run_id=run_id, data=body)
    return await idem.respond(session, run_out(run), headers=_headers(run), status_code=200)


@router.get(
    "/payment-runs/{run_id}/pain.001.xml",
    tags=["payment runs"],
    responses={**problem_responses(409, 503), 200: {"content": {"application/xml": {}}}},
)
async def payment_run_bank_file(
    run_id: uuid.UUID, session: SessionDep, caller: StaffDep, partners: PartnersDep
) -> Response:
    """An approved run as an ISO 20022 ``pain.001.001.03`` credit-transfer file, validated
    against its XSD, paying each partner's **confirmed** bank account (held changes are never
    paid to); its control sum equals the run's ``total``. 409 if your own account or a
    partner's confirmed IBAN is missing."""
    run, body = await service.bank_file(
        session=session, caller=caller, partners=partners, run_id=run_id
    )
    return Response(
        body,
        media_type="application/xml",
        headers={"Content-Disposition": f'attachment; filename="payment-run-{run.id}.xml"'},
    )


CSV_HEADER = [
    "instalment_id",
    "grant_id",
    "partner_id",
    "due_date",
    "amount",
    "amount_minor_units",
    "currency",
    "reference",
]


@router.get(
    "/payment-runs/{run_id}/payments.csv",
    tags=["payment runs"],
    responses={**problem_responses(409), 200: {"content": {"text/csv": {}}}},
)
async def payment_run_csv(run_id: uuid.UUID, session: SessionDep, caller: StaffDep) -> Response:
    """An approved run's payments as CSV (amounts in major units and in minor units); its
    total equals the run's ``total``."""
    run = await service.get_run(session=session, caller=caller, run_id=run_id)
    service.exportable(run)
    rows: list[list[object]] = [CSV_HEADER]
    for item in await service.items_of(session=session, run=run):
        rows.append(
            [
                item.instalment_id,
                item.grant_id,
                item.partner_id,
                item.due_date.isoformat(),
                major_units_text(item.amount, item.currency),
                item.amount,
                item.currency,
                f"Payment run {str(run.id)[:8]}",
            ]
        )
    return csv_response(rows, f"payment-run-{run.id}.csv")
