"""HTTP routes for partner organisations. Thin: parse, call the service, shape the answer."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Response

from services.common.auth import StaffDep, StaffOrPartnerDep
from services.common.concurrency import IfMatchDep, etag
from services.common.db import SessionDep
from services.common.idempotency import IdempotencyDep
from services.common.lists import ListQuery, list_query
from services.common.service_app import problem_responses
from services.partners.organisations import service
from services.partners.organisations.models import Partner as PartnerRow
from services.partners.organisations.schemas import (
    SHARED_ONLY_FIELDS,
    Partner,
    PartnerCreate,
    PartnerUpdate,
)
from services.partners.relationships.models import SHARING_ACCEPTED
from services.partners.relationships.models import Relationship as RelationshipRow
from services.partners.relationships.schemas import Relationship

router = APIRouter(tags=["partners"])

PartnerListQuery = Annotated[
    ListQuery,
    Depends(
        list_query(
            "partners",
            sortable=["name", "created_at", "updated_at", "region", "status", "since", "sharing"],
            filterable=["status", "region", "org_id", "steward", "q", "sharing"],
            default_sort=("name", "ASC"),
        )
    ),
]


def _partner_out(partner: PartnerRow, relationship: RelationshipRow | None) -> Partner:
    out = Partner.model_validate(partner)
    if relationship is not None:
        out.relationship = Relationship.model_validate(relationship)
        if relationship.sharing != SHARING_ACCEPTED:
            for field in SHARED_ONLY_FIELDS:
                setattr(out, field, None)
    return out


@router.post("/partners", status_code=201, response_model=Partner, responses=problem_responses(409))
async def create_partner(
    body: PartnerCreate, session: SessionDep, caller: StaffDep, idem: IdempotencyDep
) -> Response:
    """Record a partner organisation and your funder's relationship with it.

    There is no application form: a funder may get to know, and fund, an
    organisation that never applied. A new organisation is *unclaimed*: your
    funder may edit its record until the organisation's own people claim it.

    An organisation already known by its org-id is linked rather than
    duplicated, and nothing of it changes: your relationship's ``sharing`` is
    ``pending`` and you see none of the organisation's own data (contacts, its
    documents, website, region, description) until the organisation accepts
    your funder.
    """
    partner, relationship = await service.create_partner(session=session, caller=caller, data=body)
    return await idem.respond(
        session,
        _partner_out(partner, relationship),
        headers={"Location": f"/api/v1/partners/{partner.id}", "ETag": etag(partner)},
    )


@router.get("/partners", response_model=list[Partner])
async def list_partners(
    session: SessionDep, caller: StaffOrPartnerDep, query: PartnerListQuery, response: Response
) -> list[Partner]:
    """Partners your funder has a relationship with (staff), or your own organisation (partner).

    Filters: ``status``, ``region``, ``org_id``, ``steward``, ``sharing``, ``q``
    (name or org-id contains), ``id`` (one or a list). ``region`` matches only
    organisations that share with your funder.
    """
    page = await service.list_partners(session=session, caller=caller, query=query)
    page.apply(response, "partners")
    if caller.staff_funder_id is not None:
        return [_partner_out(rel.partner, rel) for rel in page.items]
    return [_partner_out(p, None) for p in page.items]


@router.get("/partners/{partner_id}", response_model=Partner)
async def get_partner(
    partner_id: uuid.UUID, session: SessionDep, caller: StaffOrPartnerDep, response: Response
) -> Partner:
    """One partner, with your funder's relationship with it (staff)."""
    partner, relationship = await service.get_partner(
        session=session, caller=caller, partner_id=partner_id
    )
    response.headers["ETag"] = etag(partner)
    return _partner_out(partner, relationship)


@router.put("/partners/{partner_id}", response_model=Partner, responses=problem_responses(412))
async def update_partner(
    partner_id: uuid.UUID,
    body: PartnerUpdate,
    session: SessionDep,
    caller: StaffOrPartnerDep,
    if_match: IfMatchDep,
    response: Response,
) -> Partner:
    """Update an organisation's own record.

    The organisation's own people change every field. A funder's staff may do so
    only for an organisation their funder added that has not been claimed yet;
    otherwise the answer is 403 (``owned-by-organisation``) and your funder's
    view belongs on the relationship (``PUT /api/v1/relationships/{id}``).
    """
    partner, relationship = await service.update_partner(
        session=session, caller=caller, partner_id=partner_id, data=body, if_match=if_match
    )
    response.headers["ETag"] = etag(partner)
    return _partner_out(partner, relationship)
