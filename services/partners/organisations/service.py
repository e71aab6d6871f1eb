"""The rules about partner organisations. Keyword-only functions; they flush, never commit."""

import uuid
from datetime import date

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.common import audit, outbox
from services.common.auth import Caller
from services.common.concurrency import check_if_match
from services.common.db import utcnow
from services.common.errors import Conflict, Forbidden, NotFound, Unprocessable
from services.common.lists import ListQuery, Page
from services.partners.access import is_own, jsonable, staff_relationship
from services.partners.organisations import repository
from services.partners.organisations.models import Partner
from services.partners.organisations.schemas import PartnerCreate, PartnerUpdate
from services.partners.relationships import repository as relationships_repository
from services.partners.relationships.models import SHARING_ACCEPTED, Relationship
from services.partners.relationships.service import relationship_changed


async def visible_partner(
    session: AsyncSession, caller: Caller, partner_id: uuid.UUID
) -> tuple[Partner, Relationship | None]:
    """The partner if the caller may see it, with the caller's funder's relationship."""
    partner = await repository.get_partner(session, partner_id)
    if partner is not None:
        if is_own(caller, partner_id):
            return partner, None
        relationship = await staff_relationship(session, caller, partner_id)
        if relationship is not None:
            return partner, relationship
    raise NotFound("There is no partner with this id.")


async def own_partner(session: AsyncSession, caller: Caller, partner_id: uuid.UUID) -> Partner:
    """The organisation, if the caller is one of its own people or systems; else 404."""
    partner = (
        await repository.get_partner(session, partner_id) if is_own(caller, partner_id) else None
    )
    if partner is None:
        raise NotFound("There is no partner with this id.")
    return partner


async def claim_partner(*, session: AsyncSession, caller: Caller, partner_id: uuid.UUID) -> Partner:
    """The organisation's own people claim its record: from now on only they change it.

    Called when a person of the organisation first joins it (an accepted invitation).
    Claiming twice changes nothing.
    """
    partner = await repository.get_partner(session, partner_id)
    if partner is None:
        raise NotFound("There is no partner with this id.")
    if partner.claimed_at is None:
        partner.claimed_at = utcnow()
        await session.flush()
        audit.record(
            session,
            caller=caller,
            action="claim",
            entity_type="partner",
            entity_id=partner.id,
            changes={"claimed_at": partner.claimed_at.isoformat()},
        )
    return partner


async def create_partner(
    *, session: AsyncSession, caller: Caller, data: PartnerCreate
) -> tuple[Partner, Relationship]:
    """Record a partner and the caller's funder's relationship with it.

    An organisation already known to the deployment (same org-id) is linked, not
    duplicated, and nothing of it is changed: the new relationship waits
    (``sharing`` pending) until the organisation accepts the funder, and until
    then nothing of the organisation's own data or its other funders is revealed.
    """
    funder_id = caller.staff_funder_id
    assert funder_id is not None
    fields = data.model_dump(exclude={"status", "since", "steward"})
    if fields.get("website") is not None:
        fields["website"] = str(fields["website"])
    partner = await repository.get_partner_by_org_id(session, data.org_id) if data.org_id else None
    created = partner is None
    if partner is None:
        partner = Partner(**fields, added_by_funder_id=funder_id, version=1)
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
        session, funder_id=funder_id, partner_id=partner.id
    ):
        raise Conflict(
            f"Your funder already has a relationship with the partner {data.org_id}; "
            "update that partner instead.",
            extra={"partner_id": str(partner.id)},
        )
    relationship = Relationship(
        funder_id=funder_id,
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
                "funder_id": str(funder_id),
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
    funder_id = caller.staff_funder_id
    if funder_id is not None:
        return await repository.list_partners_of_funder(session, query, funder_id=funder_id)
    partner_id = caller.own_partner_id
    assert partner_id is not None
    return await repository.list_own_partner(session, query, partner_id=partner_id)


def _check_staff_may_edit(caller: Caller, partner: Partner, relationship: Relationship) -> None:
    """A funder edits an organisation's own record only while unclaimed, only if it added
    it, and only while the organisation shares with it."""
    if partner.claimed_at is not None:
        raise Forbidden(
            "This organisation has claimed its own record: only its own people change its "
            "name, identifiers and description. Your funder's view (status, since, steward) "
            "is kept on your relationship: PUT /api/v1/relationships/{id}.",
            slug="owned-by-organisation",
        )
    if partner.added_by_funder_id != caller.staff_funder_id:
        raise Forbidden(
            "Your funder did not add this organisation, so it does not change the "
            "organisation's own record; the organisation does. Your funder's view (status, "
            "since, steward) is kept on your relationship: PUT /api/v1/relationships/{id}.",
            slug="owned-by-organisation",
        )
    if relationship.sharing != SHARING_ACCEPTED:
        raise Forbidden(
            "This organisation does not share its own record with your funder (any more), "
            "so your funder does not change it. Your funder's view (status, since, steward) "
            "is kept on your relationship: PUT /api/v1/relationships/{id}.",
            slug="owned-by-organisation",
        )


async def update_partner(
    *,
    session: AsyncSession,
    caller: Caller,
    partner_id: uuid.UUID,
    data: PartnerUpdate,
    if_match: str | None,
) -> tuple[Partner, Relationship | None]:
    """The organisation changes its own record; the funder that added it may until it is claimed."""
    partner, relationship = await visible_partner(session, caller, partner_id)
    if relationship is not None:
        _check_staff_may_edit(caller, partner, relationship)
    check_if_match(if_match, partner)
    changes = data.changes()
    if "website" in changes and changes["website"] is not None:
        changes["website"] = str(changes["website"])
    if "name" in changes and changes["name"] is None:
        message = "An organisation always has a name; send one or leave name out."
        raise Unprocessable(message, errors={"name": [message]})
    if changes.get("org_id") and changes["org_id"] != partner.org_id:
        other = await repository.get_partner_by_org_id(session, changes["org_id"])
        if other is not None:
            raise Conflict(f"Another partner record already has the org-id {changes['org_id']}.")
    for field, value in changes.items():
        setattr(partner, field, value)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict("Another partner record has just taken this org-id.") from exc
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
