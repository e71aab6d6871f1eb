"""The authorization endpoint: the sign-in page and the membership chooser.

``GET /oauth/authorize`` checks the request (registered client and redirect URI,
``response_type=code``, PKCE with S256) and shows the sign-in form, which carries
the request in hidden fields and a CSRF token. ``POST /oauth/authorize`` checks
the password; a person with one membership goes straight back to the client
with a code, one with several chooses on the next page (the chooser carries a
short-lived ticket signed by the provider, so nobody can choose for someone else).
"""

import time
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Form, Request
from markupsafe import Markup
from starlette.responses import HTMLResponse, RedirectResponse, Response

from services.common.auth import KeyStore
from services.common.db import SessionDep
from services.common.ratelimit import (
    AttemptGuard,
    AttemptLimits,
    TooManyAttempts,
    shared_storage,
    source_address,
)
from services.partners.config import Settings
from services.partners.identity import service
from services.partners.identity.oauth import (
    AuthorizeError,
    AuthRequest,
    check_authorization_request,
    redirect_with,
)
from services.partners.identity.pages import (
    CSRF_FIELD,
    csrf_for,
    csrf_ok,
    csrf_refused,
    error_box,
    hidden,
    message_page,
    render,
)
from services.partners.people import repository as people_repository
from services.partners.people import service as people_service
from services.partners.people.models import Membership, Person

router = APIRouter(tags=["sign-in pages"], include_in_schema=False)

WRONG = "The email or password is not right. Check both and try again."


def _settings(request: Request) -> Settings:
    return request.app.state.settings


def _secure(request: Request) -> bool:
    return _settings(request).base_url.startswith("https://")


def _keys(request: Request) -> KeyStore:
    return KeyStore(_settings(request).signing_keys_file)


def _refuse(request: Request, exc: AuthorizeError, redirect_uri: str | None) -> Response:
    if not exc.redirect or not redirect_uri:
        return message_page("Sign-in link not valid", exc.description, status=400)
    target = redirect_with(
        redirect_uri,
        {
            "error": exc.error,
            "error_description": exc.description,
            "state": exc.state,
            "iss": _settings(request).auth_issuer,
        },
    )
    return RedirectResponse(target, status_code=303, headers={"Cache-Control": "no-store"})


SIGNIN_LOCK_ADVICE = (
    'If you have forgotten your password, reset it with "Forgot your password?" below; '
    "otherwise wait until the lock lifts and try again."
)


def _signin_guard(request: Request) -> AttemptGuard:
    """Failed sign-ins, per account (email) and per source address."""
    state = request.app.state
    guard: AttemptGuard | None = getattr(state, "signin_guard", None)
    if guard is None:
        settings = _settings(request)
        guard = AttemptGuard(
            shared_storage(request),
            AttemptLimits.parse(
                settings.signin_failure_limits, settings.signin_failure_limits_per_source
            ),
            name="sign-in",
            subject="account",
            advice=SIGNIN_LOCK_ADVICE,
        )
        state.signin_guard = guard
    return guard


def _signin_page(
    request: Request,
    auth: AuthRequest,
    *,
    email: str = "",
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    csrf = csrf_for(request)
    body = error_box(error) + Markup(
        '<form method="post" action="/oauth/authorize">{hidden}'
        '<label for="email">Email</label>'
        '<input id="email" name="email" type="email" autocomplete="username" value="{email}" '
        "required autofocus>"
        '<label for="password">Password</label>'
        '<input id="password" name="password" type="password" autocomplete="current-password" '
        "required>"
        '<button type="submit">Sign in</button></form>'
        '<p class="note"><a href="/account/password-reset">Forgot your password?</a></p>'
    ).format(hidden=hidden([*auth.hidden_fields(), (CSRF_FIELD, csrf)]), email=email)
    return render("Sign in to Trellis", body, status=status, csrf=csrf, secure=_secure(request))


async def _finish(
    request: Request,
    session: SessionDep,
    auth: AuthRequest,
    person: Person,
    membership: Membership,
    auth_time: int,
) -> Response:
    code = await service.issue_code(
        session=session,
        request=auth,
        person=person,
        membership=membership,
        auth_time=datetime.fromtimestamp(auth_time, UTC),
        ttl=_settings(request).authorization_code_ttl,
    )
    target = redirect_with(
        auth.redirect_uri,
        {"code": code, "state": auth.state, "iss": _settings(request).auth_issuer},
    )
    return RedirectResponse(target, status_code=303, headers={"Cache-Control": "no-store"})


@router.get("/oauth/authorize", response_class=HTMLResponse)
async def authorize(request: Request) -> Response:
    """Start signing in: check the request, show the sign-in form."""
    params = dict(request.query_params)
    try:
        auth = check_authorization_request(_settings(request), params)
    except AuthorizeError as exc:
        return _refuse(request, exc, params.get("redirect_uri"))
    return _signin_page(request, auth, email=params.get("login_hint", ""))


@router.post("/oauth/authorize", response_class=HTMLResponse)
async def sign_in(
    request: Request,
    session: SessionDep,
    email: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    csrf_token: Annotated[str | None, Form()] = None,
) -> Response:
    """Check the email and password, then go back to the client or choose a membership."""
    if not csrf_ok(request, csrf_token):
        return csrf_refused()
    form = await request.form()
    params = {k: str(v) for k, v in form.items() if isinstance(v, str)}
    try:
        auth = check_authorization_request(_settings(request), params)
    except AuthorizeError as exc:
        return _refuse(request, exc, params.get("redirect_uri"))
    # Failed sign-ins are limited per account and per source, before the password is
    # checked: 429 with Retry-After, then a lock (the right password is refused too).
    guard = _signin_guard(request)
    account = email.strip().lower()
    source = source_address(request)
    try:
        await guard.check(subject=account, source=source)
    except TooManyAttempts as exc:
        page = _signin_page(request, auth, email=email, error=exc.detail, status=429)
        page.headers["Retry-After"] = str(exc.retry_after)
        return page
    person = await people_service.authenticate(session=session, email=email, password=password)
    if person is None:
        # Nothing of a failed sign-in is kept; ending its transaction first frees
        # SQLite's write lock for the counter (kept on its own connection).
        await session.rollback()
        await guard.failed(subject=account, source=source)
        return _signin_page(request, auth, email=email, error=WRONG, status=400)
    memberships = await people_repository.active_memberships(session, person.id)
    auth_time = int(time.time())
    if not memberships:
        return message_page(
            "No access yet",
            "You signed in, but your account is not a member of any funder or organisation "
            "any more. Ask a colleague to invite you again.",
            status=403,
        )
    if len(memberships) == 1:
        return await _finish(request, session, auth, person, memberships[0], auth_time)
    ticket = service.make_ticket(
        _keys(request),
        person=person,
        auth_time=auth_time,
        request=auth,
        issuer=_settings(request).auth_issuer,
    )
    return await _chooser(request, session, person, memberships, ticket)


async def _chooser(
    request: Request,
    session: SessionDep,
    person: Person,
    memberships: list[Membership],
    ticket: str,
    error: str | None = None,
) -> HTMLResponse:
    labels = await people_repository.membership_labels(session, memberships)
    csrf = csrf_for(request)
    options = Markup("").join(
        Markup(
            '<label class="choice"><input type="radio" name="membership_id" value="{id}"{checked}>'
            "{label}</label>"
        ).format(id=m.id, label=labels[m.id], checked=Markup(" checked") if i == 0 else "")
        for i, m in enumerate(memberships)
    )
    body = error_box(error) + Markup(
        "<p>Signed in as <strong>{email}</strong>. Whom are you acting for?</p>"
        '<form method="post" action="/oauth/authorize/membership">{hidden}'
        "<fieldset><legend>Act as</legend>{options}</fieldset>"
        '<button type="submit">Continue</button></form>'
    ).format(
        email=person.email,
        hidden=hidden([("ticket", ticket), (CSRF_FIELD, csrf)]),
        options=options,
    )
    return render("Choose whom you act for", body, csrf=csrf, secure=_secure(request))


@router.post("/oauth/authorize/membership", response_class=HTMLResponse)
async def choose_membership(
    request: Request,
    session: SessionDep,
    ticket: Annotated[str, Form()] = "",
    membership_id: Annotated[str, Form()] = "",
    csrf_token: Annotated[str | None, Form()] = None,
) -> Response:
    """Act under the chosen membership: back to the client with a code."""
    if not csrf_ok(request, csrf_token):
        return csrf_refused()
    settings = _settings(request)
    try:
        person_id, auth_time, auth = service.read_ticket(
            _keys(request), ticket, issuer=settings.auth_issuer
        )
        auth = check_authorization_request(
            settings, {**auth.as_claims(), "response_type": "code", "code_challenge_method": "S256"}
        )
    except (ValueError, AuthorizeError):
        return message_page(
            "Sign-in expired",
            "This sign-in took too long or was not started here. Go back to the application "
            "and sign in again.",
            status=400,
        )
    person = await people_repository.get_person(session, person_id)
    if person is None or person.disabled_at is not None:
        return message_page("Sign-in expired", "Sign in again.", status=400)
    memberships = await people_repository.active_memberships(session, person.id)
    chosen = next((m for m in memberships if str(m.id) == membership_id), None)
    if chosen is None:
        return await _chooser(request, session, person, memberships, ticket, "Choose one of these.")
    return await _finish(request, session, auth, person, chosen, auth_time)
