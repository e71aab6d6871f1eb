"""The rules about partner organisations. Keyword-only functions; they flush, never commit."""

import uuid
from datetime import date

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.common import audit, outbox
from services.common.auth import Caller
from services.common.concurrency import check_if_match
from services.common.db import utcnow
from services.common.errors import Conflict, Forbidden, NotFound
from services.common.lists import ListQuery, Page
from services.partners.access import jsonable
from services.partners.organisations import repository
from services.partners.organisations.models import Partner
from services.partners.organisations.schemas import DESCRIPTIVE_FIELDS, PartnerCreate, PartnerUpdate
from services.partners.relationships import repository as relationships_repository
from services.partners.relationships.models import Relationship
from services.partners.relationships.service import relationship_changed


async def visible_partner(
    session: AsyncSession, caller: Caller, partner_id: uuid.UUID
) -> tuple[Partner, Relationship | None]:
    """The partner if the caller may see it, with the caller's funder's relationship."""
    partner = await repository.get_partner(session, partner_id)
    if partner is not None:
        if caller.has("partner") and caller.partner_id == partner_id:
            return partner, None
        if caller.has("funder_staff") and caller.funder_id is not None:
            relationship = await relationships_repository.get_relationship(
                session, funder_id=caller.funder_id, partner_id=partner_id
            )
            if relationship is not None:
                return partner, relationship
    raise NotFound("There is no partner with this id.")


async def create_partner(
    *, session: AsyncSession, caller: Caller, data: PartnerCreate
) -> tuple[Partner, Relationship]:
    """Record a partner and the caller's funder's relationship with it.

    An organisation already known to the deployment (same org-id) is linked, not
    duplicated; nothing about other funders' relationships is revealed.
    """
    assert caller.funder_id is not None
    fields = data.model_dump(exclude={"status", "since", "steward"})
    if fields.get("website") is not None:
        fields["website"] = str(fields["website"])
    partner = await repository.get_partner_by_org_id(session, data.org_id) if data.org_id else None
    created = partner is None
    if partner is None:
        partner = Partner(**fields, added_by_funder_id=caller.funder_id, version=1)
        session.add(partner)
        await session.flush()
        audit.record(
            session,
            caller=caller,
            action="create",
            entity_type="partner",
            entity_id=partner.id,
            partner_id=partner.id,
            changes=jsonable(fields),
        )
    elif await relationships_repository.get_relationship(
        session, funder_id=caller.funder_id, partner_id=partner.id
    ):
        raise Conflict(
            f"Your funder already has a relationship with the partner {data.org_id}; "
            "update that partner instead.",
            extra={"partner_id": str(partner.id)},
        )
    relationship = Relationship(
        funder_id=caller.funder_id,
        partner_id=partner.id,
        status=data.status,
        since=data.since or date.today(),
        steward=data.steward,
        # The funder that adds an organisation entered its data; a funder that links an
        # existing organisation waits until the organisation accepts it.
        sharing="accepted" if created else "pending",
        sharing_changed_at=utcnow() if created else None,
        version=1,
    )
    session.add(relationship)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict("This partner was just added by someone else; reload the list.") from exc
    audit.record(
        session,
        caller=caller,
        action="create",
        entity_type="relationship",
        entity_id=relationship.id,
        changes={"status": data.status, "partner_id": str(partner.id)},
    )
    if created:
        outbox.emit(
            session,
            "partner.created",
            {
                "partner_id": str(partner.id),
                "name": partner.name,
                "org_id": partner.org_id,
                "funder_id": str(caller.funder_id),
            },
        )
    await relationship_changed(session, relationship, previous_status=None, caller=caller)
    return partner, relationship


async def get_partner(
    *, session: AsyncSession, caller: Caller, partner_id: uuid.UUID
) -> tuple[Partner, Relationship | None]:
    return await visible_partner(session, caller, partner_id)


async def list_partners(*, session: AsyncSession, caller: Caller, query: ListQuery) -> Page:
    """Staff see the partners their funder has a relationship with; a partner sees itself."""
    if caller.has("funder_staff") and caller.funder_id is not None:
        return await repository.list_partners_of_funder(session, query, funder_id=caller.funder_id)
    assert caller.partner_id is not None
    return await repository.list_own_partner(session, query, partner_id=caller.partner_id)


async def update_partner(
    *,
    session: AsyncSession,
    caller: Caller,
    partner_id: uuid.UUID,
    data: PartnerUpdate,
    if_match: str | None,
) -> tuple[Partner, Relationship | None]:
    partner, relationship = await visible_partner(session, caller, partner_id)
    check_if_match(if_match, partner)
    changes = data.changes()
    if "website" in changes and changes["website"] is not None:
        changes["website"] = str(changes["website"])
    if not caller.has("funder_staff"):
        kept = sorted(
            f
            for f, v in changes.items()
            if f not in DESCRIPTIVE_FIELDS and v != getattr(partner, f)
        )
        if kept:
            raise Forbidden(
                f"A partner updates its name, website, region and description; "
                f"{', '.join(kept)} {'is' if len(kept) == 1 else 'are'} kept by the funder's staff.",
                errors={field: ["is kept by the funder's staff"] for field in kept},
            )
        changes = {f: v for f, v in changes.items() if f in DESCRIPTIVE_FIELDS}
    if changes.get("org_id") and changes["org_id"] != partner.org_id:
        other = await repository.get_partner_by_org_id(session, changes["org_id"])
        if other is not None:
            raise Conflict(f"Another partner record already has the org-id {changes['org_id']}.")
    for field, value in changes.items():
        setattr(partner, field, value)
    await session.flush()
    audit.record(
        session,
        caller=caller,
        action="update",
        entity_type="partner",
        entity_id=partner.id,
        partner_id=partner.id,
        changes=jsonable(changes),
    )
    return partner, relationship
