"""HTTP routes of reflective updates and their replies."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Response

from services.common.auth import PartnerDep, StaffOrPartnerDep
from services.common.db import SessionDep
from services.common.errors import NotFound
from services.common.idempotency import IdempotencyDep
from services.common.lists import ListQuery, list_query, one_query
from services.common.service_app import problem_responses
from services.partners.updates import service
from services.partners.updates.models import Update as UpdateRow
from services.partners.updates.schemas import Reply, ReplyCreate, Update, UpdateCopy, UpdateCreate

router = APIRouter(tags=["updates"])

UpdateQuery = Annotated[
    ListQuery,
    Depends(
        list_query(
            "updates",
            sortable=["sent_at", "last_activity_at", "first_reply_at"],
            filterable=["partner_id", "funder_id", "replied", "sent_at_gte", "sent_at_lte", "tag"],
            default_sort=("sent_at", "DESC"),
        )
    ),
]
ReplyQuery = Annotated[
    ListQuery,
    Depends(
        list_query(
            "replies",
            sortable=["created_at"],
            filterable=["author_side", "update_id"],
            default_sort=("created_at", "ASC"),
            max_page_size=200,
        )
    ),
]


def _out(update: UpdateRow, copies: dict[uuid.UUID, list[UpdateCopy]]) -> Update:
    out = Update.model_validate(update)
    out.shared_with = copies.get(update.id)
    return out


@router.post("/updates", status_code=201, response_model=Update, responses=problem_responses(409))
async def send_update(
    body: UpdateCreate, session: SessionDep, caller: PartnerDep, idem: IdempotencyDep
) -> Response:
    """Send a reflective update to one or more of your funders (partners).

    Client systems use a token from ``POST /oauth/token`` (client credentials)
    and should send an ``Idempotency-Key`` so a retry never sends twice. Example::

        {"funder_ids": ["…", "…"],
         "what_changed": "We moved the evening club to Thursdays.",
         "what_we_learned": "Young people want to run the sessions themselves.",
         "what_was_hard": "We lost our youth worker in March.",
         "want_you_to_know": "We are recruiting again.",
         "document_ids": ["…"],
         "links": [{"title": "Youth panel notes", "url": "https://example.org/notes"}]}

    Every part is optional but at least one needs text (422 otherwise). There is
    no schedule. Each funder named gets its own copy and sees only its own; the
    answer is the first copy, with ``shared_with`` listing every copy's id.
    ``funder_ids`` may be left out when you work with one funder.
    """
    copies = await service.send_update(session=session, caller=caller, data=body)
    groups = await service.shared_with(session=session, caller=caller, updates=copies)
    first = copies[0]
    return await idem.respond(
        session, _out(first, groups), headers={"Location": f"/api/v1/updates/{first.id}"}
    )


@router.get("/updates", response_model=list[Update])
async def list_updates(
    session: SessionDep, caller: StaffOrPartnerDep, query: UpdateQuery, response: Response
) -> list[Update]:
    """Updates sent to your funder (staff), or the copies you sent (partner).

    Filters: ``partner_id``, ``funder_id``, ``replied`` (true/false: has the funder
    replied yet), ``sent_at_gte`` / ``sent_at_lte``, ``id``.
    """
    page = await service.list_updates(session=session, caller=caller, query=query)
    page.apply(response, "updates")
    groups = await service.shared_with(session=session, caller=caller, updates=page.items)
    return [_out(u, groups) for u in page.items]


@router.get("/updates/{update_id}", response_model=Update)
async def get_update(
    update_id: uuid.UUID, session: SessionDep, caller: StaffOrPartnerDep
) -> Update:
    """One update: the partner that sent it, or staff of the funder this copy went to."""
    update = await service.get_update(session=session, caller=caller, update_id=update_id)
    groups = await service.shared_with(session=session, caller=caller, updates=[update])
    return _out(update, groups)


@router.post(
    "/updates/{update_id}/replies",
    status_code=201,
    response_model=Reply,
    responses=problem_responses(409),
)
async def add_reply(
    update_id: uuid.UUID,
    body: ReplyCreate,
    session: SessionDep,
    caller: StaffOrPartnerDep,
    idem: IdempotencyDep,
) -> Response:
    """Reply in an update's thread; either side continues it. Example: ``{"body": "Thank you…"}``.

    The funder's first reply records the time from the update to it
    (``first_reply_at``, ``reply_seconds`` on the update) and emits
    ``update.replied``. Accepts ``Idempotency-Key``.
    """
    reply = await service.add_reply(session=session, caller=caller, update_id=update_id, data=body)
    return await idem.respond(
        session,
        Reply.model_validate(reply),
        headers={"Location": f"/api/v1/updates/{update_id}/replies"},
    )


@router.get("/updates/{update_id}/replies", response_model=list[Reply])
async def list_replies(
    update_id: uuid.UUID,
    session: SessionDep,
    caller: StaffOrPartnerDep,
    query: ReplyQuery,
    response: Response,
) -> list[Reply]:
    """The thread of an update, oldest first. Filter: ``author_side`` (funder or partner)."""
    page = await service.list_replies(
        session=session, caller=caller, update_id=update_id, query=query
    )
    page.apply(response, "replies")
    return [Reply.model_validate(r) for r in page.items]


@router.get(
    "/updates/{update_id}/replies/{reply_id}",
    response_model=Reply,
    responses=problem_responses(404),
)
async def get_reply(
    update_id: uuid.UUID, reply_id: uuid.UUID, session: SessionDep, caller: StaffOrPartnerDep
) -> Reply:
    """One reply in an update's thread."""
    page = await service.list_replies(
        session=session, caller=caller, update_id=update_id, query=one_query("replies", reply_id)
    )
    if not page.items:
        raise NotFound("There is no reply with this id in this update's thread.")
    return Reply.model_validate(page.items[0])
