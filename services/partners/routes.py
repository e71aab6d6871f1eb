"""HTTP routes of the partners service. Thin: parse, call the service, shape the answer."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from services.common.auth import (
    AdminDep,
    Caller,
    CallerDep,
    ServiceCallerDep,
    StaffDep,
    StaffOrPartnerDep,
    require_roles,
)
from services.common.concurrency import IfMatchDep, etag
from services.common.db import SessionDep
from services.common.errors import NotFound
from services.common.idempotency import IdempotencyDep
from services.common.lists import ListQuery, list_query
from services.common.service_app import problem_responses
from services.partners import service
from services.partners.models import Partner as PartnerRow
from services.partners.models import Relationship as RelationshipRow
from services.partners.schemas import (
    ApiClient,
    ApiClientCreate,
    ApiClientWithSecret,
    Funder,
    FunderCreate,
    FunderUpdate,
    Partner,
    PartnerCreate,
    PartnerSummary,
    PartnerUpdate,
    Relationship,
    RelationshipUpdate,
)

router = APIRouter()
AdminOrStaffDep = Annotated[Caller, require_roles("platform_admin", "funder_staff")]
internal = APIRouter(prefix="/internal", include_in_schema=False)

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
PartnerListQuery = Annotated[
    ListQuery,
    Depends(
        list_query(
            "partners",
            sortable=["name", "created_at", "updated_at", "region", "status", "since"],
            filterable=["status", "region", "org_id", "steward", "q"],
            default_sort=("name", "ASC"),
        )
    ),
]
RelationshipListQuery = Annotated[
    ListQuery,
    Depends(
        list_query(
            "relationships",
            sortable=["since", "status", "created_at", "updated_at"],
            filterable=["partner_id", "status"],
            default_sort=("since", "DESC"),
        )
    ),
]


def _partner_out(partner: PartnerRow, relationship: RelationshipRow | None) -> Partner:
    out = Partner.model_validate(partner)
    if relationship is not None:
        out.relationship = Relationship.model_validate(relationship)
    return out


# Funders ------------------------------------------------------------------------------------


@router.post(
    "/funders",
    status_code=201,
    response_model=Funder,
    tags=["funders"],
    responses=problem_responses(409),
)
async def create_funder(
    body: FunderCreate, session: SessionDep, caller: AdminDep, idem: IdempotencyDep
) -> Response:
    """Create a funder (a tenant). Platform admins only."""
    funder = await service.create_funder(session=session, caller=caller, data=body)
    out = Funder.model_validate(funder)
    return await idem.respond(
        session, out, headers={"Location": f"/api/v1/funders/{funder.id}", "ETag": etag(funder)}
    )


@router.get("/funders", response_model=list[Funder], tags=["funders"])
async def list_funders(
    session: SessionDep, caller: AdminOrStaffDep, query: FunderListQuery, response: Response
) -> list[Funder]:
    """Funders: all of them for platform admins, one's own for funder staff."""
    page = await service.list_funders(session=session, caller=caller, query=query)
    page.apply(response, "funders")
    return [Funder.model_validate(f) for f in page.items]


@router.get("/funders/{funder_id}", response_model=Funder, tags=["funders"])
async def get_funder(
    funder_id: uuid.UUID, session: SessionDep, caller: CallerDep, response: Response
) -> Funder:
    """One funder: platform admins, or that funder's own staff."""
    funder = await service.get_funder(session=session, caller=caller, funder_id=funder_id)
    response.headers["ETag"] = etag(funder)
    return Funder.model_validate(funder)


@router.put(
    "/funders/{funder_id}",
    response_model=Funder,
    tags=["funders"],
    responses=problem_responses(412),
)
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


# Partners -----------------------------------------------------------------------------------


@router.post(
    "/partners",
    status_code=201,
    response_model=Partner,
    tags=["partners"],
    responses=problem_responses(409),
)
async def create_partner(
    body: PartnerCreate, session: SessionDep, caller: StaffDep, idem: IdempotencyDep
) -> Response:
    """Record a partner organisation and your funder's relationship with it.

    There is no application form: a funder may get to know, and fund, an
    organisation that never applied. An organisation already known by its
    org-id is linked rather than duplicated.
    """
    partner, relationship = await service.create_partner(session=session, caller=caller, data=body)
    return await idem.respond(
        session,
        _partner_out(partner, relationship),
        headers={"Location": f"/api/v1/partners/{partner.id}", "ETag": etag(partner)},
    )


@router.get("/partners", response_model=list[Partner], tags=["partners"])
async def list_partners(
    session: SessionDep, caller: StaffOrPartnerDep, query: PartnerListQuery, response: Response
) -> list[Partner]:
    """Partners your funder has a relationship with (staff), or your own organisation (partner).

    Filters: ``status``, ``region``, ``org_id``, ``steward``, ``q`` (name or org-id
    contains), ``id`` (one or a list).
    """
    page = await service.list_partners(session=session, caller=caller, query=query)
    page.apply(response, "partners")
    if caller.has("funder_staff"):
        return [_partner_out(rel.partner, rel) for rel in page.items]
    return [_partner_out(p, None) for p in page.items]


@router.get("/partners/{partner_id}", response_model=Partner, tags=["partners"])
async def get_partner(
    partner_id: uuid.UUID, session: SessionDep, caller: StaffOrPartnerDep, response: Response
) -> Partner:
    """One partner, with your funder's relationship with it (staff)."""
    partner, relationship = await service.get_partner(
        session=session, caller=caller, partner_id=partner_id
    )
    response.headers["ETag"] = etag(partner)
    return _partner_out(partner, relationship)


@router.put(
    "/partners/{partner_id}",
    response_model=Partner,
    tags=["partners"],
    responses=problem_responses(412),
)
async def update_partner(
    partner_id: uuid.UUID,
    body: PartnerUpdate,
    session: SessionDep,
    caller: StaffOrPartnerDep,
    if_match: IfMatchDep,
    response: Response,
) -> Partner:
    """Update a partner. A partner updates its own name, website, region and description."""
    partner, relationship = await service.update_partner(
        session=session, caller=caller, partner_id=partner_id, data=body, if_match=if_match
    )
    response.headers["ETag"] = etag(partner)
    return _partner_out(partner, relationship)


# Relationships ------------------------------------------------------------------------------


@router.get("/relationships", response_model=list[Relationship], tags=["relationships"])
async def list_relationships(
    session: SessionDep, caller: StaffDep, query: RelationshipListQuery, response: Response
) -> list[Relationship]:
    """Your funder's relationships: exploring, active, paused, ended."""
    page = await service.list_relationships(session=session, caller=caller, query=query)
    page.apply(response, "relationships")
    return [Relationship.model_validate(r) for r in page.items]


@router.get("/relationships/{relationship_id}", response_model=Relationship, tags=["relationships"])
async def get_relationship(
    relationship_id: uuid.UUID, session: SessionDep, caller: StaffDep, response: Response
) -> Relationship:
    """One of your funder's relationships."""
    relationship = await service.get_relationship(
        session=session, caller=caller, relationship_id=relationship_id
    )
    response.headers["ETag"] = etag(relationship)
    return Relationship.model_validate(relationship)


@router.put(
    "/relationships/{relationship_id}",
    response_model=Relationship,
    tags=["relationships"],
    responses=problem_responses(412),
)
async def update_relationship(
    relationship_id: uuid.UUID,
    body: RelationshipUpdate,
    session: SessionDep,
    caller: StaffDep,
    if_match: IfMatchDep,
    response: Response,
) -> Relationship:
    """Change the stage of a relationship, when it began, or who looks after it."""
    relationship = await service.update_relationship(
        session=session,
        caller=caller,
        relationship_id=relationship_id,
        data=body,
        if_match=if_match,
    )
    response.headers["ETag"] = etag(relationship)
    return Relationship.model_validate(relationship)


# API clients of partner systems -------------------------------------------------------------


@router.post(
    "/partners/{partner_id}/clients",
    status_code=201,
    response_model=ApiClientWithSecret,
    tags=["api clients"],
)
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


@router.get("/partners/{partner_id}/clients", response_model=list[ApiClient], tags=["api clients"])
async def list_clients(
    partner_id: uuid.UUID, session: SessionDep, caller: StaffOrPartnerDep
) -> list[ApiClient]:
    """A partner's registered systems."""
    clients = await service.list_clients(session=session, caller=caller, partner_id=partner_id)
    return [ApiClient.model_validate(c) for c in clients]


@router.delete(
    "/partners/{partner_id}/clients/{client_record_id}",
    response_model=ApiClient,
    tags=["api clients"],
)
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


# Internal: for the other Trellis services ---------------------------------------------------


def _summary(relationship: RelationshipRow) -> PartnerSummary:
    p = relationship.partner
    return PartnerSummary(
        id=p.id,
        name=p.name,
        org_id=p.org_id,
        charity_number=p.charity_number,
        company_number=p.company_number,
        region=p.region,
        relationship_status=relationship.status,  # type: ignore[arg-type]
        relationship_since=relationship.since,
    )


@internal.get("/funders/{funder_id}", response_model=Funder)
async def internal_funder(funder_id: uuid.UUID, session: SessionDep, _: ServiceCallerDep) -> Funder:
    return Funder.model_validate(await service.find_funder(session=session, funder_id=funder_id))


@internal.get("/funders/by-slug/{slug}", response_model=Funder)
async def internal_funder_by_slug(slug: str, session: SessionDep, _: ServiceCallerDep) -> Funder:
    return Funder.model_validate(await service.find_funder_by_slug(session=session, slug=slug))


@internal.get("/funders/{funder_id}/partners", response_model=list[PartnerSummary])
async def internal_partners_of_funder(
    funder_id: uuid.UUID,
    session: SessionDep,
    _: ServiceCallerDep,
    status: Annotated[list[str] | None, Query()] = None,
    ids: Annotated[list[uuid.UUID] | None, Query()] = None,
) -> list[PartnerSummary]:
    """Partners in relationship with a funder (optionally by status or ids)."""
    rels = await service.partner_summaries(
        session=session, funder_id=funder_id, statuses=status, partner_ids=ids
    )
    return [_summary(r) for r in rels]


@internal.get("/funders/{funder_id}/partners/{partner_id}", response_model=PartnerSummary)
async def internal_partner_of_funder(
    funder_id: uuid.UUID, partner_id: uuid.UUID, session: SessionDep, _: ServiceCallerDep
) -> PartnerSummary:
    """A partner with this funder's relationship; 404 if they have none."""
    rels = await service.partner_summaries(
        session=session, funder_id=funder_id, statuses=None, partner_ids=[partner_id]
    )
    if not rels:
        raise NotFound("This funder has no relationship with this partner.")
    return _summary(rels[0])


@internal.get("/partners/{partner_id}/funders", response_model=list[Funder])
async def internal_funders_of_partner(
    partner_id: uuid.UUID, session: SessionDep, _: ServiceCallerDep
) -> list[Funder]:
    """Funders that have a relationship with a partner."""
    funders = await service.funders_of_partner(session=session, partner_id=partner_id)
    return [Funder.model_validate(f) for f in funders]
