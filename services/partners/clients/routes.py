"""HTTP routes for partner systems' API clients. Thin: parse, call the service, shape the answer."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from services.common.auth import PartnerDep
from services.common.db import SessionDep
from services.common.errors import NotFound
from services.common.lists import ListQuery, list_query, page_of
from services.common.service_app import problem_responses
from services.partners.clients import service
from services.partners.clients.schemas import ApiClient, ApiClientCreate, ApiClientWithSecret

router = APIRouter(tags=["api clients"])


@router.post("/partners/{partner_id}/clients", status_code=201, response_model=ApiClientWithSecret)
async def create_client(
    partner_id: uuid.UUID, body: ApiClientCreate, session: SessionDep, caller: PartnerDep
) -> ApiClientWithSecret:
    """Register your organisation's system for the client-credentials grant at ``/oauth/token``.

    Only the organisation's own people do this (a funder's staff never can). The
    secret is in this answer only; Trellis keeps just a hash of it. Its tokens
    carry ``sid`` = ``client:<this record's id>``.
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
    caller: PartnerDep,
    query: ClientListQuery,
    response: Response,
) -> list[ApiClient]:
    """Your organisation's registered systems (its own people only; paged like every list)."""
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
    caller: PartnerDep,
) -> ApiClient:
    """One of your organisation's registered systems (its own people only)."""
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
    caller: PartnerDep,
    request: Request,
) -> ApiClient:
    """Revoke one of your organisation's systems.

    It gets no new tokens, and the tokens it already has are refused by every
    service within the revocation bound (a few seconds, see the README).
    """
    client = await service.revoke_client(
        session=session,
        caller=caller,
        partner_id=partner_id,
        client_record_id=client_record_id,
        local=request.app.state.revocations,
    )
    return ApiClient.model_validate(client)


@router.post("/partners/{partner_id}/clients/{client_record_id}/confirm", response_model=ApiClient)
async def confirm_client(
    partner_id: uuid.UUID,
    client_record_id: uuid.UUID,
    session: SessionDep,
    caller: PartnerDep,
) -> ApiClient:
    """Keep a client registered before organisations owned their API clients.

    Such a client (``confirmed_at`` empty) may have been registered by a funder's
    staff; its token requests are refused until a person of your organisation
    confirms it here. Revoke it instead if you do not know it.
    """
    client = await service.confirm_client(
        session=session, caller=caller, partner_id=partner_id, client_record_id=client_record_id
    )
    return ApiClient.model_validate(client)
