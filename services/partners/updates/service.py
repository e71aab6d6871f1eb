"""The rules of reflective updates and their threads. Keyword-only; they flush, never commit.

A partner writes once and shares with each funder it names: every funder gets
its own copy, sees only that copy and its own thread, and never learns who
else was sent it. Time to the funder's first reply is kept on the copy and
sent as ``update.replied``; every copy sent is announced as ``update.received``.
"""

import uuid
from collections import defaultdict
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.common import audit, outbox
from services.common.auth import Caller
from services.common.db import utcnow
from services.common.errors import NotFound, Unprocessable
from services.common.lists import ListQuery, Page
from services.partners.access import actor_name, is_staff
from services.partners.documents import repository as documents_repository
from services.partners.funders import repository as funders_repository
from services.partners.notifications import service as notifications_service
from services.partners.search.service import staff_tag_keys
from services.partners.timeline import service as timeline_service
from services.partners.updates import repository
from services.partners.updates.models import PROMPTS, Reply, Update
from services.partners.updates.schemas import ReplyCreate, UpdateCopy, UpdateCreate
from services.partners.webhooks import service as webhooks_service

NOT_FOUND = "There is no update with this id."
NO_TEXT = "is empty; at least one part of an update needs your words"


async def _emit(session: AsyncSession, event_type: str, data: dict[str, Any]) -> None:
    """To the other services' outboxes, email notifications and the webhooks subscribed to
    it, in one go."""
    event_id = outbox.emit(session, event_type, data)
    await notifications_service.on_local_event(session=session, event_type=event_type, data=data)
    await webhooks_service.fan_out(
        session,
        event_id=event_id,
        event_type=event_type,
        occurred_at=utcnow().isoformat(),
        data=data,
    )


async def _recipients(
    session: AsyncSession, partner_id: uuid.UUID, wanted: list[uuid.UUID] | None
) -> list[uuid.UUID]:
    """The funders to share with: each must work with this partner (nothing else is revealed)."""
    known = [
        f.id for f in await funders_repository.funders_of_partner(session, partner_id=partner_id)
    ]
    if wanted is None:
        if len(known) == 1:
            return known
        message = (
            "Say which funders to share this update with in funder_ids: "
            "your organisation works with more than one."
            if known
            else "Your organisation has no funder to share an update with yet."
        )
        raise Unprocessable(message, errors={"funder_ids": [message]})
    targets = list(dict.fromkeys(wanted))
    if not targets:
        message = "Name at least one funder to share this update with."
        raise Unprocessable(message, errors={"funder_ids": [message]})
    unknown = [f for f in targets if f not in set(known)]
    if unknown:
        message = (
            f"You have no relationship with a funder with the id {unknown[0]}; "
            "an update goes only to funders you work with."
        )
        raise Unprocessable(message, errors={"funder_ids": [message]})
    return targets


async def send_update(*, session: AsyncSession, caller: Caller, data: UpdateCreate) -> list[Update]:
    """A partner shares an update with one or several of its funders: one copy each."""
    partner_id = caller.own_partner_id
    assert partner_id is not None
    texts = {p: (getattr(data, p) or "").strip() or None for p in PROMPTS}
    if not any(texts.values()):
        raise Unprocessable(
            "An update needs your words in at least one part: what_changed, what_we_learned, "
            "what_was_hard or want_you_to_know. None is required on its own; write what matters.",
            slug="empty-update",
            errors={p: [NO_TEXT] for p in PROMPTS},
        )
    funder_ids = await _recipients(session, partner_id, data.funder_ids)
    document_ids = list(dict.fromkeys(data.document_ids))
    found = await documents_repository.partner_documents(
        session, partner_id=partner_id, ids=document_ids
    )
    missing = sorted(set(document_ids) - {d.id for d in found}, key=str)
    if missing:
        message = (
            f"There is no document with the id {missing[0]} among your own documents; "
            "add it with POST /api/v1/documents first."
        )
        raise Unprocessable(message, errors={"document_ids": [message]})
    submission_id = uuid.uuid4()
    now = utcnow()
    copies = []
    for funder_id in funder_ids:
        copy = Update(
            submission_id=submission_id,
            partner_id=partner_id,
            funder_id=funder_id,
            sent_at=now,
            sent_by=actor_name(caller),
            document_ids=[str(d) for d in document_ids],
            links=[link.model_dump() for link in data.links],
            reply_count=0,
            last_activity_at=now,
            **texts,
        )
        session.add(copy)
        copies.append(copy)
    await session.flush()
    for copy in copies:
        audit.record(
            session,
            caller=caller,
            action="create",
            entity_type="update",
            entity_id=copy.id,
            funder_id=copy.funder_id,
            partner_id=copy.partner_id,
            changes={
                "funder_id": str(copy.funder_id),
                "parts": [p for p in PROMPTS if texts[p]],
                "document_ids": copy.document_ids,
                "links": len(copy.links),
            },
        )
        await _emit(
            session,
            "update.received",
            {
                "update_id": str(copy.id),
                "funder_id": str(copy.funder_id),
                "partner_id": str(partner_id),
                "received_on": now.date().isoformat(),
            },
        )
        await timeline_service.record(
            session,
            kind="update",
            source_id=copy.id,
            partner_id=partner_id,
            funder_id=copy.funder_id,
            occurred_at=now,
            title="Reflective update",
            summary=next(t for t in texts.values() if t),
            data={"update_id": str(copy.id), "parts": [p for p in PROMPTS if texts[p]]},
        )
    return copies


def _sees(caller: Caller, update: Update) -> bool:
    if caller.own_partner_id is not None and update.partner_id == caller.own_partner_id:
        return True
    return is_staff(caller) and update.funder_id == caller.staff_funder_id


async def get_update(*, session: AsyncSession, caller: Caller, update_id: uuid.UUID) -> Update:
    """The partner that sent it, or staff of the funder this copy went to."""
    update = await repository.get(session, update_id)
    if update is None or not _sees(caller, update):
        raise NotFound(NOT_FOUND)
    return update


async def list_updates(*, session: AsyncSession, caller: Caller, query: ListQuery) -> Page:
    if is_staff(caller):
        return await repository.list_updates(
            session,
            query,
            funder_id=caller.staff_funder_id,
            tag_keys=staff_tag_keys(caller, query.filters),
        )
    partner_id = caller.own_partner_id
    assert partner_id is not None
    staff_tag_keys(caller, query.filters)
    return await repository.list_updates(session, query, partner_id=partner_id)


async def shared_with(
    *, session: AsyncSession, caller: Caller, updates: list[Update]
) -> dict[uuid.UUID, list[UpdateCopy]]:
    """For a partner: every copy of each update. Funder staff get nothing (not their business)."""
    if caller.own_partner_id is None:
        return {}
    own = {u.submission_id for u in updates if u.partner_id == caller.own_partner_id}
    groups: dict[uuid.UUID, list[UpdateCopy]] = defaultdict(list)
    for copy in await repository.copies_of(session, own):
        groups[copy.submission_id].append(UpdateCopy(update_id=copy.id, funder_id=copy.funder_id))
    return {u.id: groups[u.submission_id] for u in updates if u.submission_id in groups}


async def add_reply(
    *, session: AsyncSession, caller: Caller, update_id: uuid.UUID, data: ReplyCreate
) -> Reply:
    """Either side continues the thread. The funder's first reply is timed and announced."""
    update = await get_update(session=session, caller=caller, update_id=update_id)
    side = (
        "partner"
        if caller.own_partner_id is not None and update.partner_id == caller.own_partner_id
        else "funder"
    )
    now = utcnow()
    reply = Reply(
        update_id=update.id,
        author_side=side,
        author=actor_name(caller),
        body=data.body,
        created_at=now,
    )
    session.add(reply)
    await session.flush()
    await repository.note_activity(session, update_id=update.id, at=now)
    audit.record(
        session,
        caller=caller,
        action="reply",
        entity_type="update",
        entity_id=update.id,
        funder_id=update.funder_id,
        partner_id=update.partner_id,
        changes={"reply_id": str(reply.id), "author_side": side},
    )
    if side == "funder":
        seconds = max(0, int((now - update.sent_at).total_seconds()))
        if await repository.mark_first_reply(session, update_id=update.id, at=now, seconds=seconds):
            await _emit(
                session,
                "update.replied",
                {
                    "update_id": str(update.id),
                    "funder_id": str(update.funder_id),
                    "partner_id": str(update.partner_id),
                    "received_at": update.sent_at.isoformat(),
                    "first_reply_at": now.isoformat(),
                    "reply_seconds": seconds,
                },
            )
    await session.refresh(update)
    await timeline_service.record(
        session,
        kind="reply",
        source_id=reply.id,
        partner_id=update.partner_id,
        funder_id=update.funder_id,
        occurred_at=now,
        title="Reply from the funder" if side == "funder" else "Reply from the partner",
        summary=reply.body,
        data={"update_id": str(update.id), "author_side": side},
    )
    return reply


async def list_replies(
    *, session: AsyncSession, caller: Caller, update_id: uuid.UUID, query: ListQuery
) -> Page:
    await get_update(session=session, caller=caller, update_id=update_id)
    return await repository.list_replies(session, query, update_id=update_id)
