"""Pages a person opens from an email: accept an invitation, reset a password.

Served at ``/account/...`` (the gateway routes them to this service). Every
form carries the CSRF token of ``identity/pages.py``.
"""

from typing import Annotated

from fastapi import APIRouter, Form, Request
from markupsafe import Markup
from starlette.responses import HTMLResponse

from services.common.db import SessionDep
from services.common.errors import Conflict, Problem
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
from services.partners.people import invitations, repository, service
from services.partners.people.passwords import MIN_LENGTH

router = APIRouter(tags=["sign-in pages"], include_in_schema=False)


def _secure(request: Request) -> bool:
    return request.app.state.settings.base_url.startswith("https://")


def _password_fields(label: str = "Choose a password") -> Markup:
    return Markup(
        '<label for="password">{label}</label>'
        '<input id="password" name="password" type="password" autocomplete="new-password" '
        'minlength="{n}" required aria-describedby="password-hint">'
        '<p class="note" id="password-hint">At least {n} characters.</p>'
        '<label for="password_confirm">The same password again</label>'
        '<input id="password_confirm" name="password_confirm" type="password" '
        'autocomplete="new-password" minlength="{n}" required>'
    ).format(label=label, n=MIN_LENGTH)


async def _invitation_page(
    request: Request, session: SessionDep, token: str, error: str | None = None, status: int = 200
) -> HTMLResponse:
    try:
        invitation = await invitations.open_invitation(session=session, token=token)
    except Problem as exc:
        return message_page("Invitation", exc.detail, status=404)
    what = await invitations.describe_invitation(session=session, invitation=invitation)
    existing = await repository.get_person_by_email(session, invitation.email)
    csrf = csrf_for(request)
    if existing is None:
        fields = (
            Markup(
                '<label for="name">Your name</label>'
                '<input id="name" name="name" type="text" autocomplete="name" required>'
            )
            + _password_fields()
        )
        intro = Markup(
            "<p>You are invited to {what}. Make your account for <strong>{email}</strong>:</p>"
        )
    else:
        fields = Markup(
            '<label for="password">Your password</label>'
            '<input id="password" name="password" type="password" '
            'autocomplete="current-password" required>'
        )
        intro = Markup(
            "<p>You are invited to {what}. You already have an account as "
            "<strong>{email}</strong>: enter its password to accept.</p>"
        )
    body = (
        intro.format(what=what, email=invitation.email)
        + error_box(error)
        + Markup(
            '<form method="post" action="/account/invitation">{hidden}{fields}'
            '<button type="submit">Accept the invitation</button></form>'
        ).format(hidden=hidden([("token", token), (CSRF_FIELD, csrf)]), fields=fields)
    )
    return render("Accept your invitation", body, status=status, csrf=csrf, secure=_secure(request))


@router.get("/account/invitation", response_class=HTMLResponse)
async def invitation_form(request: Request, session: SessionDep, token: str = "") -> HTMLResponse:
    """The page an invitation email links to."""
    return await _invitation_page(request, session, token)


@router.post("/account/invitation", response_class=HTMLResponse)
async def accept_invitation(
    request: Request,
    session: SessionDep,
    token: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    password_confirm: Annotated[str | None, Form()] = None,
    name: Annotated[str | None, Form()] = None,
    csrf_token: Annotated[str | None, Form()] = None,
) -> HTMLResponse:
    """Accept an invitation: make an account (or confirm an existing one's password)."""
    if not csrf_ok(request, csrf_token):
        return csrf_refused()
    if password_confirm is not None and password_confirm != password:
        return await _invitation_page(
            request, session, token, "The two passwords are not the same.", status=422
        )
    try:
        person, _membership = await invitations.accept_invitation(
            session=session, token=token, name=(name or "").strip() or None, password=password
        )
    except Conflict:
        raise  # a race after the first write: the request's transaction must roll back
    except Problem as exc:
        if exc.status == 404:
            return message_page("Invitation", exc.detail, status=404)
        return await _invitation_page(request, session, token, exc.detail, status=exc.status)
    return message_page(
        "Welcome to Trellis",
        f"Your invitation is accepted, {person.name}. Sign in with {person.email} "
        "and your password from your organisation's Trellis front end.",
    )


def _reset_request_page(request: Request, note: str | None = None) -> HTMLResponse:
    csrf = csrf_for(request)
    body = (Markup('<p role="status">{}</p>').format(note) if note else Markup("")) + Markup(
        "<p>Enter your account's email. If there is such an account, we send it a link "
        "to choose a new password.</p>"
        '<form method="post" action="/account/password-reset/request">{hidden}'
        '<label for="email">Email</label>'
        '<input id="email" name="email" type="email" autocomplete="email" required>'
        '<button type="submit">Send the link</button></form>'
    ).format(hidden=hidden([(CSRF_FIELD, csrf)]))
    return render("Reset your password", body, csrf=csrf, secure=_secure(request))


async def _reset_page(
    request: Request, session: SessionDep, token: str, error: str | None = None, status: int = 200
) -> HTMLResponse:
    try:
        await service.open_password_reset(session=session, token=token)
    except Problem as exc:
        return message_page("Reset your password", exc.detail, status=404)
    csrf = csrf_for(request)
    body = error_box(error) + Markup(
        '<form method="post" action="/account/password-reset">{hidden}{fields}'
        '<button type="submit">Set the new password</button></form>'
    ).format(
        hidden=hidden([("token", token), (CSRF_FIELD, csrf)]),
        fields=_password_fields("Your new password"),
    )
    return render("Choose a new password", body, status=status, csrf=csrf, secure=_secure(request))


@router.get("/account/password-reset", response_class=HTMLResponse)
async def password_reset_form(
    request: Request, session: SessionDep, token: str | None = None
) -> HTMLResponse:
    """Without a token: ask for a link. With one (from the email): choose a new password."""
    if token is None:
        return _reset_request_page(request)
    return await _reset_page(request, session, token)


@router.post("/account/password-reset/request", response_class=HTMLResponse)
async def password_reset_request(
    request: Request,
    session: SessionDep,
    email: Annotated[str, Form()] = "",
    csrf_token: Annotated[str | None, Form()] = None,
) -> HTMLResponse:
    """Send a reset link, if there is such an account (the answer is the same either way)."""
    if not csrf_ok(request, csrf_token):
        return csrf_refused()
    settings = request.app.state.settings
    if "@" in email:
        await service.request_password_reset(
            session=session,
            email=email.strip(),
            mailer=request.app.state.mailer,
            base_url=settings.base_url,
            ttl=settings.password_reset_ttl,
        )
    return _reset_request_page(
        request,
        "If there is an account with this email, a link to choose a new password is on its way.",
    )


@router.post("/account/password-reset", response_class=HTMLResponse)
async def password_reset(
    request: Request,
    session: SessionDep,
    token: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    password_confirm: Annotated[str, Form()] = "",
    csrf_token: Annotated[str | None, Form()] = None,
) -> HTMLResponse:
    """Set the new password; every sign-in of the account is revoked."""
    if not csrf_ok(request, csrf_token):
        return csrf_refused()
    if password != password_confirm:
        return await _reset_page(
            request, session, token, "The two passwords are not the same.", status=422
        )
    try:
        await service.reset_password(session=session, token=token, password=password)
    except Problem as exc:
        if exc.status == 404:
            return message_page("Reset your password", exc.detail, status=404)
        return await _reset_page(request, session, token, exc.detail, status=exc.status)
    return message_page(
        "Password changed",
        "Your new password is set, and every place you were signed in is signed out. "
        "Sign in again with the new password.",
    )
