"""The rules of threads: a named two-way conversation between a partner and its funder,
outside any round, started by either side. Each partner sees only its own threads."""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from services.common import audit, outbox
from services.common.auth import Caller
from services.common.db import utcnow
from services.common.errors import NotFound, Unprocessable
from services.common.http import ServiceClient
from services.common.lists import ListQuery, Page
from services.feedback import directory
from services.feedback.models import Thread, ThreadMessage
from services.feedback.threads import repository
from services.feedback.threads.schemas import ThreadCreate


def _emit_message(session: AsyncSession, thread: Thread, message: ThreadMessage) -> None:
    """A message is news for both sides of the thread (their webhooks), and for partners'
    search, which indexes it under the thread's funder and partner."""
    outbox.emit(
        session,
        "thread.message",
        {
            "thread_id": str(thread.id),
            "message_id": str(message.id),
            "funder_id": str(thread.funder_id),
            "partner_id": str(thread.partner_id),
            "subject": thread.subject,
            "author_role": message.author_role,
            "body": message.body,
            "created_at": message.created_at.isoformat(),
        },
    )


def _role(caller: Caller) -> str:
    return "funder" if caller.has("funder_staff") else "partner"


async def start(
    *, session: AsyncSession, caller: Caller, partners: ServiceClient, data: ThreadCreate
) -> tuple[Thread, ThreadMessage]:
    if caller.has("funder_staff"):
        assert caller.staff_funder_id is not None
        if data.partner_id is None or data.funder_id is not None:
            raise Unprocessable(
                "Staff start a thread with a partner: send partner_id (and no funder_id).",
                errors={"partner_id": ["is required"]},
            )
        funder_id, partner_id = caller.staff_funder_id, data.partner_id
    else:
        assert caller.own_partner_id is not None
        if data.funder_id is None or data.partner_id is not None:
            raise Unprocessable(
                "A partner starts a thread with a funder: send funder_id (and no partner_id).",
                errors={"funder_id": ["is required"]},
            )
        funder_id, partner_id = data.funder_id, caller.own_partner_id
    partner = await directory.relationship(partners, funder_id, partner_id)
    if partner is None:
        raise NotFound(
            "There is no partner with this id in a relationship with your funder."
            if caller.has("funder_staff")
            else "There is no funder with this id that you have a relationship with."
        )
    now = utcnow()
    thread = Thread(
        funder_id=funder_id,
        partner_id=partner_id,
        partner_name=partner["name"],
        subject=data.subject,
        started_by=_role(caller),
        last_message_at=now,
        version=1,
    )
    session.add(thread)
    await session.flush()
    message = ThreadMessage(
        thread_id=thread.id,
        author_role=_role(caller),
        author=caller.name or caller.actor,
        body=data.body,
        created_at=now,
    )
    session.add(message)
    await session.flush()
    audit.record(
        session,
        caller=caller,
        action="create",
        entity_type="thread",
        entity_id=thread.id,
        changes={"subject": data.subject, "partner_id": partner_id, "funder_id": funder_id},
    )
    _emit_message(session, thread, message)
    return thread, message


async def visible(session: AsyncSession, caller: Caller, thread_id: uuid.UUID) -> Thread:
    thread = await repository.get(session, thread_id)
    if thread is not None:
        if caller.has("funder_staff") and thread.funder_id == caller.staff_funder_id:
            return thread
        if caller.has("partner") and thread.partner_id == caller.own_partner_id:
            return thread
    raise NotFound("There is no thread with this id.")


async def list_(*, session: AsyncSession, caller: Caller, query: ListQuery) -> Page:
    if caller.has("funder_staff"):
        return await repository.list_page(session, query, funder_id=caller.staff_funder_id)
    return await repository.list_page(session, query, partner_id=caller.own_partner_id)


async def messages(
    *, session: AsyncSession, caller: Caller, thread_id: uuid.UUID
) -> list[ThreadMessage]:
    thread = await visible(session, caller, thread_id)
    return await repository.messages(session, thread.id)


async def post(
    *, session: AsyncSession, caller: Caller, thread_id: uuid.UUID, body: str
) -> ThreadMessage:
    thread = await visible(session, caller, thread_id)
    now = utcnow()
    message = ThreadMessage(
        thread_id=thread.id,
        author_role=_role(caller),
        author=caller.name or caller.actor,
        body=body,
        created_at=now,
    )
    session.add(message)
    thread.last_message_at = now
    thread.updated_at = now
    await session.flush()
    audit.record(
        session,
        caller=caller,
        action="create",
        entity_type="thread_message",
        entity_id=message.id,
        changes={"thread_id": thread.id},
    )
    _emit_message(session, thread, message)
    return message
