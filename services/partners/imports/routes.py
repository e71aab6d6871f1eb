"""Import routes: a CSV of partners (staff), and partners for imported grants (internal)."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request

from services.common.auth import ServiceCallerDep, StaffDep
from services.common.db import SessionDep
from services.common.service_app import problem_responses
from services.partners.imports import service
from services.partners.imports.schemas import Ensured, EnsureRecipients, ImportReport

router = APIRouter(tags=["imports"])
internal = APIRouter(prefix="/internal", include_in_schema=False)

CSV_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "text/csv": {
                "schema": {"type": "string"},
                "example": "name,org_id,region,status\nHillside Youth Project,GB-CHC-1164883,North East,active\n",
            }
        },
    }
}


@router.post(
    "/imports/partners",
    response_model=ImportReport,
    openapi_extra=CSV_BODY,
    responses=problem_responses(400, 422),
)
async def import_partners(
    request: Request,
    session: SessionDep,
    caller: StaffDep,
    dry_run: Annotated[bool, Query(description="Report what would happen; change nothing")] = True,
) -> ImportReport:
    """Bring your partners in from a spreadsheet: the body is CSV (UTF-8) with a header row.

    Columns: ``name`` (required), ``org_id``, ``charity_number``, ``company_number``,
    ``website``, ``region``, ``description``, ``status``, ``since``, ``steward``. A dry run
    (the default) reports each row: create, link (an organisation already known here, which
    shares nothing of its own with you until it accepts you), exists (already yours) or
    refuse, with the reasons. ``dry_run=false`` imports the whole file or, if any row is
    refused, nothing; importing the same file again creates nothing new.
    """
    return await service.import_partners(
        session=session, caller=caller, body=await request.body(), dry_run=dry_run
    )


@internal.post("/funders/{funder_id}/partners/ensure", response_model=list[Ensured])
async def ensure_recipients(
    funder_id: uuid.UUID,
    body: EnsureRecipients,
    session: SessionDep,
    _: ServiceCallerDep,
    dry_run: bool = False,
) -> list[Ensured]:
    """The funder's partners for the recipients of grants it imports (made or linked)."""
    return await service.ensure_recipients(
        session=session,
        funder_id=funder_id,
        actor=body.actor,
        recipients=body.recipients,
        dry_run=dry_run,
    )
