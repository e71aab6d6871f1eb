"""HTTP routes for partner systems' API clients. Thin: parse, call the service, shape the answer."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Response

from services.common.auth import StaffOrPartnerDep
from services.common.db import SessionDep
from services.common.errors import NotFound
from services.common.lists import ListQuery, list_query, page_of
from services.common.service_app import problem_responses
from services.partners.clients import service
from services.partners.clients.schemas import ApiClient, ApiClientCreate, ApiClientWithSecret

router = APIRouter(tags=["api clients"])


@router.post("/partners/{partner_id}/clients", status_code=201, response_model=ApiClientWithSecret)
async def create_client(
    partner_id: uuid.UUID, body: ApiClientCreate, session: SessionDep, caller: StaffOrPartnerDep
) -> ApiClientWithSecret:
    """Register a partner's system for the client-credentials grant at ``/oauth/token``.

    The secret is in this answer only; Trellis keeps just a hash of it.
    """
    client, secret = await service.create_client(
        session=session, caller=caller, partner_id=partner_id, name=body.name
    )
    return ApiClientWithSecret(
        **ApiClient.model_validate(client).model_dump(), client_secret=secret
    )


ClientListQuery = Annotated[
    ListQuery,
    Depends(
        list_query(
            "clients",
            sortable=["name", "created_at"],
            filterable=["partner_id"],
            default_sort=("created_at", "ASC"),
        )
    ),
]


@router.get("/partners/{partner_id}/clients", response_model=list[ApiClient])
async def list_clients(
    partner_id: uuid.UUID,
    session: SessionDep,
    caller: StaffOrPartnerDep,
    query: ClientListQuery,
    response: Response,
) -> list[ApiClient]:
    """A partner's registered systems (a short list, paged like every other)."""
    clients = await service.list_clients(session=session, caller=caller, partner_id=partner_id)
    page = page_of([ApiClient.model_validate(c) for c in clients], query)
    page.apply(response, "clients")
    return page.items


@router.get(
    "/partners/{partner_id}/clients/{client_record_id}",
    response_model=ApiClient,
    responses=problem_responses(404),
)
async def get_client(
    partner_id: uuid.UUID,
    client_record_id: uuid.UUID,
    session: SessionDep,
    caller: StaffOrPartnerDep,
) -> ApiClient:
    """One of a partner's registered systems."""
    clients = await service.list_clients(session=session, caller=caller, partner_id=partner_id)
    for client in clients:
        if client.id == client_record_id:
            return ApiClient.model_validate(client)
    raise NotFound("There is no API client with this id.")


@router.delete("/partners/{partner_id}/clients/{client_record_id}", response_model=ApiClient)
async def revoke_client(
    partner_id: uuid.UUID,
    client_record_id: uuid.UUID,
    session: SessionDep,
    caller: StaffOrPartnerDep,
) -> ApiClient:
    """Revoke a partner system's credentials; tokens it gets from now on are refused."""
    client = await service.revoke_client(
        session=session, caller=caller, partner_id=partner_id, client_record_id=client_record_id
    )
    return ApiClient.model_validate(client)
