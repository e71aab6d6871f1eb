"""Internal routes: what the other Trellis services learn of funders and partners.

The other services act for a funder (staff) or an organisation, so they learn
no more than that side may see: of an organisation, a funder's side learns its
name and registry identifiers, and its region only once the organisation shares
with that funder; never its contacts, documents or other funders.

Only callers with the ``service`` role reach them; they are not in the public OpenAPI.
"""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from services.common.auth import ServiceCallerDep
from services.common.db import SessionDep
from services.common.errors import NotFound
from services.common.schemas import FunderSlug
from services.partners.funders import service as funders_service
from services.partners.funders.schemas import Funder
from services.partners.organisations.schemas import PartnerSummary
from services.partners.relationships import service as relationships_service
from services.partners.relationships.models import SHARING_ACCEPTED
from services.partners.relationships.models import Relationship as RelationshipRow

router = APIRouter(prefix="/internal", include_in_schema=False)


def _summary(relationship: RelationshipRow) -> PartnerSummary:
    p = relationship.partner
    return PartnerSummary(
        id=p.id,
        name=p.name,
        org_id=p.org_id,
        charity_number=p.charity_number,
        company_number=p.company_number,
        # The organisation's own description reaches a funder's side only once it shares.
        region=p.region if relationship.sharing == SHARING_ACCEPTED else None,
        relationship_status=relationship.status,  # type: ignore[arg-type]
        relationship_since=relationship.since,
        sharing=relationship.sharing,  # type: ignore[arg-type]
        claimed=p.claimed_at is not None,
    )


@router.get("/funders/{funder_id}", response_model=Funder)
async def internal_funder(funder_id: uuid.UUID, session: SessionDep, _: ServiceCallerDep) -> Funder:
    funder = await funders_service.find_funder(session=session, funder_id=funder_id)
    return Funder.model_validate(funder)


@router.get("/funders/by-slug/{slug}", response_model=Funder)
async def internal_funder_by_slug(
    slug: FunderSlug, session: SessionDep, _: ServiceCallerDep
) -> Funder:
    funder = await funders_service.find_funder_by_slug(session=session, slug=slug)
    return Funder.model_validate(funder)


@router.get("/funders/{funder_id}/partners", response_model=list[PartnerSummary])
async def internal_partners_of_funder(
    funder_id: uuid.UUID,
    session: SessionDep,
    _: ServiceCallerDep,
    status: Annotated[list[str] | None, Query()] = None,
    ids: Annotated[list[uuid.UUID] | None, Query()] = None,
) -> list[PartnerSummary]:
    """Partners in relationship with a funder (optionally by status or ids)."""
    rels = await relationships_service.partner_summaries(
        session=session, funder_id=funder_id, statuses=status, partner_ids=ids
    )
    return [_summary(r) for r in rels]


@router.get("/funders/{funder_id}/partners/{partner_id}", response_model=PartnerSummary)
async def internal_partner_of_funder(
    funder_id: uuid.UUID, partner_id: uuid.UUID, session: SessionDep, _: ServiceCallerDep
) -> PartnerSummary:
    """A partner with this funder's relationship; 404 if they have none."""
    rels = await relationships_service.partner_summaries(
        session=session, funder_id=funder_id, statuses=None, partner_ids=[partner_id]
    )
    if not rels:
        raise NotFound("This funder has no relationship with this partner.")
    return _summary(rels[0])


@router.get("/partners/{partner_id}/funders", response_model=list[Funder])
async def internal_funders_of_partner(
    partner_id: uuid.UUID, session: SessionDep, _: ServiceCallerDep
) -> list[Funder]:
    """Funders that have a relationship with a partner."""
    funders = await funders_service.funders_of_partner(session=session, partner_id=partner_id)
    return [Funder.model_validate(f) for f in funders]
