"""HTTP routes for funders (tenants). Thin: parse, call the service, shape the answer."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Response

from services.common.auth import AdminDep, Caller, CallerDep, require_roles
from services.common.concurrency import IfMatchDep, etag
from services.common.db import SessionDep
from services.common.idempotency import IdempotencyDep
from services.common.lists import ListQuery, list_query
from services.common.service_app import problem_responses
from services.partners.funders import service
from services.partners.funders.schemas import Funder, FunderCreate, FunderUpdate

router = APIRouter(tags=["funders"])
AdminOrStaffDep = Annotated[Caller, require_roles("platform_admin", "funder_staff")]

FunderListQuery = Annotated[
    ListQuery,
    Depends(
        list_query(
            "funders",
            sortable=["name", "slug", "created_at"],
            filterable=["slug"],
            default_sort=("name", "ASC"),
        )
    ),
]


@router.post("/funders", status_code=201, response_model=Funder, responses=problem_responses(409))
async def create_funder(
    body: FunderCreate, session: SessionDep, caller: AdminDep, idem: IdempotencyDep
) -> Response:
    """Create a funder (a tenant). Platform admins only."""
    funder = await service.create_funder(session=session, caller=caller, data=body)
    out = Funder.model_validate(funder)
    return await idem.respond(
        session, out, headers={"Location": f"/api/v1/funders/{funder.id}", "ETag": etag(funder)}
    )


@router.get("/funders", response_model=list[Funder])
async def list_funders(
    session: SessionDep, caller: AdminOrStaffDep, query: FunderListQuery, response: Response
) -> list[Funder]:
    """Funders: all of them for platform admins, one's own for funder staff."""
    page = await service.list_funders(session=session, caller=caller, query=query)
    page.apply(response, "funders")
    return [Funder.model_validate(f) for f in page.items]


@router.get("/funders/{funder_id}", response_model=Funder)
async def get_funder(
    funder_id: uuid.UUID, session: SessionDep, caller: CallerDep, response: Response
) -> Funder:
    """One funder: platform admins, or that funder's own staff."""
    funder = await service.get_funder(session=session, caller=caller, funder_id=funder_id)
    response.headers["ETag"] = etag(funder)
    return Funder.model_validate(funder)


@router.put("/funders/{funder_id}", response_model=Funder, responses=problem_responses(412))
async def update_funder(
    funder_id: uuid.UUID,
    body: FunderUpdate,
    session: SessionDep,
    caller: AdminDep,
    if_match: IfMatchDep,
    response: Response,
) -> Funder:
    """Change a funder's name, 360Giving prefix or org-id. Platform admins only."""
    funder = await service.update_funder(
        session=session, caller=caller, funder_id=funder_id, data=body, if_match=if_match
    )
    response.headers["ETag"] = etag(funder)
    return Funder.model_validate(funder)
