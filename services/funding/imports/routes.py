"""Import route: a funder's past grants from a 360Giving file."""

from typing import Annotated

from fastapi import APIRouter, Query, Request

from services.common.auth import StaffDep
from services.common.db import SessionDep
from services.common.service_app import problem_responses
from services.funding.grants.routes import PartnersDep
from services.funding.imports import service
from services.funding.imports.schemas import GrantImportReport

router = APIRouter(tags=["imports"])

FILE_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {"type": "object", "description": "A 360Giving package"}
            },
            "text/csv": {"schema": {"type": "string", "description": "360Giving flat CSV"}},
        },
    }
}


@router.post(
    "/imports/360giving",
    response_model=GrantImportReport,
    openapi_extra=FILE_BODY,
    responses=problem_responses(400, 422, 503),
)
async def import_360giving(
    request: Request,
    session: SessionDep,
    caller: StaffDep,
    partners: PartnersDep,
    dry_run: Annotated[bool, Query(description="Report what would happen; change nothing")] = True,
) -> GrantImportReport:
    """Bring your past grants in from a 360Giving file: the body is a 360Giving JSON package
    (``Content-Type: application/json``) or its flat CSV (``text/csv``), such as Trellis's own
    export.

    A dry run (the default) reports each grant: create, exists (here already) or refuse, with
    the reasons, and what happens to its recipient (a new partner, linked, or already yours).
    ``dry_run=false`` imports every grant or, if any is refused, none; importing the same file
    again creates nothing new. Grants keep their 360Giving ids (under your funder's prefix),
    amounts and dates; payments are not in a 360Giving file, so set a schedule afterwards.
    """
    return await service.import_360giving(
        session=session,
        caller=caller,
        partners=partners,
        body=await request.body(),
        content_type=request.headers.get("content-type", ""),
        dry_run=dry_run,
    )
