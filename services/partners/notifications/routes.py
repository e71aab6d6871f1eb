"""HTTP routes: the signed-in person's notification preferences, and unsubscribe links.

The unsubscribe page is served at ``/account/notifications/unsubscribe`` (the gateway
routes ``/account/`` here): ``GET`` shows what the link turns off and a button, so a
mail scanner that opens links changes nothing; ``POST`` to the same address turns it
off, from the button or from a mail program's one-click unsubscribe (RFC 8058, body
``List-Unsubscribe=One-Click``). The signed token in the link is all it needs.
"""

from typing import Annotated

from fastapi import APIRouter, Query, Request
from markupsafe import Markup
from starlette.responses import HTMLResponse

from services.common.auth import CallerDep
from services.common.db import SessionDep
from services.common.errors import Problem
from services.common.service_app import problem_responses
from services.partners.identity.pages import message_page, render
from services.partners.notifications import service
from services.partners.notifications.schemas import (
    NotificationPreferences,
    NotificationPreferencesUpdate,
)

router = APIRouter(tags=["notifications"])
pages = APIRouter(tags=["notification pages"], include_in_schema=False)

UNSUBSCRIBE = "/account/notifications/unsubscribe"
Token = Annotated[str, Query(min_length=1, max_length=300)]


def _digest_hour(request: Request) -> int:
    return int(request.app.state.settings.notifications_digest_hour)


@router.get(
    "/notification-preferences",
    response_model=NotificationPreferences,
    responses=problem_responses(403),
)
async def get_notification_preferences(
    session: SessionDep, caller: CallerDep, request: Request
) -> NotificationPreferences:
    """Which emails you get, and how often: each notification of the sides your memberships
    are on (a funder's staff, a partner's people), ``immediate`` or in a ``daily`` digest.

    Everything is on, at once, until you choose otherwise. Only a person's own sign-in
    has preferences (a system's token is refused)."""
    found = await service.preferences(
        session=session, caller=caller, digest_hour=_digest_hour(request)
    )
    return NotificationPreferences.model_validate(found)


@router.put(
    "/notification-preferences",
    response_model=NotificationPreferences,
    responses=problem_responses(403, 422),
)
async def put_notification_preferences(
    body: NotificationPreferencesUpdate, session: SessionDep, caller: CallerDep, request: Request
) -> NotificationPreferences:
    """Turn notifications on or off, or choose ``immediate`` or ``daily`` for them.

    Name only those you change. What you turn off and was still waiting is not sent."""
    found = await service.update_preferences(
        session=session, caller=caller, data=body, digest_hour=_digest_hour(request)
    )
    return NotificationPreferences.model_validate(found)


@pages.get(UNSUBSCRIBE)
async def unsubscribe_page(session: SessionDep, token: Token) -> HTMLResponse:
    try:
        _, scope = await service.open_unsubscribe(session=session, token=token)
    except Problem as exc:
        return message_page("Unsubscribe", exc.detail, status=404)
    body = Markup(
        "<p>Stop {what}?</p>"
        '<form method="post" action="{action}">'
        '<input type="hidden" name="List-Unsubscribe" value="One-Click">'
        "<button type=submit>Unsubscribe</button></form>"
        '<p class="note">You can turn it on again in your notification preferences.</p>'
    ).format(what=service.describe_scope(scope), action=f"{UNSUBSCRIBE}?token={token}")
    return render("Unsubscribe", body)


@pages.post(UNSUBSCRIBE)
async def unsubscribe(session: SessionDep, token: Token) -> HTMLResponse:
    try:
        _, scope = await service.unsubscribe(session=session, token=token)
    except Problem as exc:
        return message_page("Unsubscribe", exc.detail, status=404)
    return message_page(
        "Unsubscribed",
        f"Done: Trellis no longer sends you {service.describe_scope(scope)}. "
        "Turn it on again in your notification preferences whenever you like.",
    )
