"""The rules of gatherings. Keyword-only functions; they flush, never commit.

A gathering is one record for an event with many partners: who was invited,
who came, notes shared with everyone who came, and the funder's private notes.
Staff of its funder read all of it. A partner invited reads the gathering, its own
invitation and, once it came, the shared notes; it never reads the private notes
or which other partners were invited. A partner not invited reads nothing of it
(404). Each partner that came has the gathering in its timeline (kind
``gathering``, keyed by its invitation), kept in step in the same transaction.
"""

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.common import audit
from services.common.auth import Caller
from services.common.concurrency import check_if_match
from services.common.db import utcnow
from services.common.errors import NotFound, Unprocessable
from services.common.lists import ListQuery, Page
from services.partners.access import actor_name, staff_relationship
from services.partners.gatherings import repository
from services.partners.gatherings.models import Gathering, Invitee
from services.partners.gatherings.schemas import Gathering as GatheringOut
from services.partners.gatherings.schemas import (
    GatheringCreate,
    GatheringInvitee,
    GatheringUpdate,
)
from services.partners.timeline import service as timeline_service

NOT_FOUND = "There is no gathering with this id."
KIND_TITLES = {"learning_day": "Learning day", "network_meeting": "Network meeting", "other": ""}


async def _check_partners(
    session: AsyncSession, caller: Caller, invited: list[uuid.UUID], attended: list[uuid.UUID]
) -> tuple[list[uuid.UUID], set[uuid.UUID]]:
    invited = list(dict.fromkeys(invited))
    if not invited:
        message = "Invite at least one partner."
        raise Unprocessable(message, errors={"invited_partner_ids": [message]})
    for partner_id in invited:
        if await staff_relationship(session, caller, partner_id) is None:
            message = f"There is no partner with the id {partner_id} among your funder's partners."
            raise Unprocessable(message, errors={"invited_partner_ids": [message]})
    strangers = [p for p in attended if p not in set(invited)]
    if strangers:
        message = f"The partner {strangers[0]} came but was not invited: invite it too."
        raise Unprocessable(message, errors={"attended_partner_ids": [message]})
    return invited, set(attended)


async def _sync(
    session: AsyncSession,
    gathering: Gathering,
    invited: list[uuid.UUID] | None,
    attended: set[uuid.UUID] | None,
) -> list[Invitee]:
    """Make the invitations match, and each partner's timeline with them."""
    current = (await repository.invitees_of(session, [gathering.id])).get(gathering.id, [])
    by_partner = {i.partner_id: i for i in current}
    if invited is not None:
        dropped = [i for i in current if i.partner_id not in set(invited)]
        await timeline_service.remove(session, kind="gathering", source_ids=[i.id for i in dropped])
        await repository.remove_invitees(session, [i.id for i in dropped])
        for partner_id in invited:
            if partner_id not in by_partner:
                invitee = Invitee(gathering_id=gathering.id, partner_id=partner_id, attended=False)
                session.add(invitee)
                by_partner[partner_id] = invitee
        by_partner = {p: by_partner[p] for p in invited}
    invitees = list(by_partner.values())
    if attended is not None:
        for invitee in invitees:
            invitee.attended = invitee.partner_id in attended
    await session.flush()
    title = f"{KIND_TITLES[gathering.kind]}: {gathering.title}".lstrip(": ")
    for invitee in invitees:
        if invitee.attended:
            await timeline_service.record(
                session,
                kind="gathering",
                source_id=invitee.id,
                partner_id=invitee.partner_id,
                funder_id=gathering.funder_id,
                occurred_at=gathering.held_at,
                title=title,
                summary=gathering.shared_notes,
                data={"gathering_id": str(gathering.id), "kind": gathering.kind},
            )
        else:
            await timeline_service.remove(session, kind="gathering", source_ids=[invitee.id])
    return invitees


def _audit(gathering: Gathering, invitees: list[Invitee]) -> dict[str, Any]:
    return {
        "title": gathering.title,
        "kind": gathering.kind,
        "held_at": gathering.held_at.isoformat(),
        "invited": [str(i.partner_id) for i in invitees],
        "attended": [str(i.partner_id) for i in invitees if i.attended],
    }


async def create_gathering(
    *, session: AsyncSession, caller: Caller, data: GatheringCreate
) -> Gathering:
    funder_id = caller.staff_funder_id
    assert funder_id is not None
    invited, attended = await _check_partners(
        session, caller, data.invited_partner_ids, data.attended_partner_ids
    )
    gathering = Gathering(
        funder_id=funder_id,
        kind=data.kind,
        title=data.title,
        held_at=data.held_at,
        place=data.place,
        shared_notes=data.shared_notes,
        private_notes=data.private_notes,
        recorded_by=actor_name(caller),
        version=1,
    )
    session.add(gathering)
    await session.flush()
    invitees = await _sync(session, gathering, invited, attended)
    audit.record(
        session,
        caller=caller,
        action="create",
        entity_type="gathering",
        entity_id=gathering.id,
        partner_id=None,
        changes=_audit(gathering, invitees),
    )
    return gathering


def _own_invitation(caller: Caller, invitees: list[Invitee]) -> Invitee | None:
    own = caller.own_partner_id
    return next((i for i in invitees if own is not None and i.partner_id == own), None)


async def gatherings_out(
    *, session: AsyncSession, caller: Caller, gatherings: list[Gathering]
) -> list[GatheringOut]:
    """Gatherings as the caller may see them (see the module's docstring)."""
    invitees = await repository.invitees_of(session, [g.id for g in gatherings])
    staff = caller.staff_funder_id is not None
    out = []
    for gathering in gatherings:
        mine = invitees.get(gathering.id, [])
        if staff:
            shown, shared, private = mine, gathering.shared_notes, gathering.private_notes
        else:
            own = _own_invitation(caller, mine)
            shown = [own] if own is not None else []
            shared = gathering.shared_notes if own is not None and own.attended else None
            private = None
        out.append(
            GatheringOut(
                id=gathering.id,
                created_at=gathering.created_at,
                updated_at=gathering.updated_at,
                version=gathering.version,
                funder_id=gathering.funder_id,
                kind=gathering.kind,  # type: ignore[arg-type]
                title=gathering.title,
                held_at=gathering.held_at,
                place=gathering.place,
                recorded_by=gathering.recorded_by,
                invitees=[
                    GatheringInvitee(partner_id=i.partner_id, attended=i.attended) for i in shown
                ],
                shared_notes=shared,
                private_notes=private,
            )
        )
    return out


async def get_gathering(
    *, session: AsyncSession, caller: Caller, gathering_id: uuid.UUID
) -> Gathering:
    """Staff of its funder, or a partner it invited; anyone else gets 404."""
    gathering = await repository.get(session, gathering_id)
    if gathering is not None:
        if caller.staff_funder_id is not None and gathering.funder_id == caller.staff_funder_id:
            return gathering
        if caller.own_partner_id is not None:
            invitees = (await repository.invitees_of(session, [gathering.id])).get(gathering.id, [])
            if _own_invitation(caller, invitees) is not None:
                return gathering
    raise NotFound(NOT_FOUND)


async def list_gatherings(*, session: AsyncSession, caller: Caller, query: ListQuery) -> Page:
    if caller.staff_funder_id is not None:
        return await repository.list_gatherings(session, query, funder_id=caller.staff_funder_id)
    return await repository.list_gatherings(
        session, query, invited_partner_id=caller.own_partner_id
    )


async def _own_gathering(
    session: AsyncSession, caller: Caller, gathering_id: uuid.UUID
) -> Gathering:
    gathering = await repository.get(session, gathering_id)
    if gathering is None or gathering.funder_id != caller.staff_funder_id:
        raise NotFound(NOT_FOUND)
    return gathering


async def update_gathering(
    *,
    session: AsyncSession,
    caller: Caller,
    gathering_id: uuid.UUID,
    data: GatheringUpdate,
    if_match: str | None,
) -> Gathering:
    gathering = await _own_gathering(session, caller, gathering_id)
    check_if_match(if_match, gathering)
    changes = data.changes()
    invited: list[uuid.UUID] | None = changes.get("invited_partner_ids")
    attended_ids: list[uuid.UUID] | None = changes.get("attended_partner_ids")
    attended: set[uuid.UUID] | None = None
    if invited is not None or attended_ids is not None:
        current = (await repository.invitees_of(session, [gathering.id])).get(gathering.id, [])
        invited_now = invited if invited is not None else [i.partner_id for i in current]
        came = (
            attended_ids
            if attended_ids is not None
            else [i.partner_id for i in current if i.attended and i.partner_id in invited_now]
        )
        invited, attended = await _check_partners(session, caller, invited_now, came)
    for field in ("kind", "title", "held_at", "place", "shared_notes", "private_notes"):
        if field in changes:
            setattr(gathering, field, changes[field])
    # Who was invited and who came are part of the gathering: its version moves with them.
    gathering.updated_at = utcnow()
    await session.flush()
    invitees = await _sync(session, gathering, invited, attended)
    audit.record(
        session,
        caller=caller,
        action="update",
        entity_type="gathering",
        entity_id=gathering.id,
        partner_id=None,
        changes=_audit(gathering, invitees),
    )
    return gathering


async def delete_gathering(
    *, session: AsyncSession, caller: Caller, gathering_id: uuid.UUID, if_match: str | None
) -> GatheringOut:
    gathering = await _own_gathering(session, caller, gathering_id)
    check_if_match(if_match, gathering)
    [out] = await gatherings_out(session=session, caller=caller, gatherings=[gathering])
    invitees = (await repository.invitees_of(session, [gathering.id])).get(gathering.id, [])
    await timeline_service.remove(session, kind="gathering", source_ids=[i.id for i in invitees])
    await repository.remove_invitees(session, [i.id for i in invitees])
    await session.delete(gathering)
    await session.flush()
    audit.record(
        session,
        caller=caller,
        action="delete",
        entity_type="gathering",
        entity_id=gathering.id,
        partner_id=None,
        changes={"title": gathering.title},
    )
    return out
