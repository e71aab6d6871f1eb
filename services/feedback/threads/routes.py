"""HTTP routes of threads."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Response

from services.common.auth import StaffOrPartnerDep
from services.common.concurrency import etag
from services.common.db import SessionDep
from services.common.errors import NotFound
from services.common.idempotency import IdempotencyDep
from services.common.lists import ListQuery, list_query, page_of
from services.common.service_app import problem_responses
from services.feedback.deps import PartnersDep
from services.feedback.threads import service
from services.feedback.threads.schemas import Message, MessageCreate, Thread, ThreadCreate

router = APIRouter(tags=["threads"])

ThreadListQuery = Annotated[
    ListQuery,
    Depends(
        list_query(
            "threads",
            sortable=["last_message_at", "created_at", "subject"],
            filterable=["partner_id", "funder_id"],
            default_sort=("last_message_at", "DESC"),
        )
    ),
]
MessageListQuery = Annotated[
    ListQuery,
    Depends(
        list_query(
            "messages",
            sortable=["created_at", "author_role"],
            filterable=["thread_id", "author_role"],
            default_sort=("created_at", "ASC"),
        )
    ),
]


@router.post("/threads", status_code=201, response_model=Thread)
async def start_thread(
    body: ThreadCreate,
    session: SessionDep,
    caller: StaffOrPartnerDep,
    partners: PartnersDep,
    idem: IdempotencyDep,
) -> Response:
    """Start a named conversation between a partner and its funder, outside any round.
    Staff name the ``partner_id``; a partner names the ``funder_id``."""
    thread, _ = await service.start(session=session, caller=caller, partners=partners, data=body)
    return await idem.respond(
        session,
        Thread.model_validate(thread),
        headers={"Location": f"/api/v1/threads/{thread.id}", "ETag": etag(thread)},
    )


@router.get("/threads", response_model=list[Thread])
async def list_threads(
    session: SessionDep, caller: StaffOrPartnerDep, query: ThreadListQuery, response: Response
) -> list[Thread]:
    """Your funder's threads (staff), or your own (partner)."""
    page = await service.list_(session=session, caller=caller, query=query)
    page.apply(response, "threads")
    return [Thread.model_validate(t) for t in page.items]


@router.get("/threads/{thread_id}", response_model=Thread)
async def get_thread(
    thread_id: uuid.UUID, session: SessionDep, caller: StaffOrPartnerDep, response: Response
) -> Thread:
    """One thread."""
    thread = await service.visible(session, caller, thread_id)
    response.headers["ETag"] = etag(thread)
    return Thread.model_validate(thread)


@router.get("/threads/{thread_id}/messages", response_model=list[Message])
async def list_messages(
    thread_id: uuid.UUID,
    session: SessionDep,
    caller: StaffOrPartnerDep,
    query: MessageListQuery,
    response: Response,
) -> list[Message]:
    """A thread's messages, oldest first."""
    found = await service.messages(session=session, caller=caller, thread_id=thread_id)
    page = page_of([Message.model_validate(m, from_attributes=True) for m in found], query)
    page.apply(response, "messages")
    return page.items


@router.get(
    "/threads/{thread_id}/messages/{message_id}",
    response_model=Message,
    responses=problem_responses(404),
)
async def get_message(
    thread_id: uuid.UUID, message_id: uuid.UUID, session: SessionDep, caller: StaffOrPartnerDep
) -> Message:
    """One message of a thread."""
    found = await service.messages(session=session, caller=caller, thread_id=thread_id)
    for message in found:
        if message.id == message_id:
            return Message.model_validate(message, from_attributes=True)
    raise NotFound("There is no message with this id in this thread.")


@router.post("/threads/{thread_id}/messages", status_code=201, response_model=Message)
async def post_message(
    thread_id: uuid.UUID,
    body: MessageCreate,
    session: SessionDep,
    caller: StaffOrPartnerDep,
    idem: IdempotencyDep,
) -> Response:
    """Write in a thread."""
    message = await service.post(
        session=session, caller=caller, thread_id=thread_id, body=body.body
    )
    return await idem.respond(session, Message.model_validate(message, from_attributes=True))
