"""Helpers for the people and sign-in tests: read the mail, accept invitations, sign in."""

import base64
import email
import hashlib
import html
import re
import secrets
import uuid
from email.message import EmailMessage
from email.policy import default
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from services.partners.people import operator
from tests.support import Stack

CONSOLE = "trellis-console"
CALLBACK = "http://trellis.test/console/callback"
PASSWORD = "correct horse battery"


def unique_email(who: str = "person") -> str:
    return f"{who}-{uuid.uuid4().hex[:8]}@example.org"


async def mail_to(stack: Stack, address: str) -> list[EmailMessage]:
    """Every message written to ``address`` so far (the embedded default's .eml files)."""
    app = stack.apps["partners"]
    await app.state.mailer.drain()
    found = []
    mail_dir = app.state.settings.mail_dir
    for path in sorted(mail_dir.glob("*.eml")) if mail_dir.exists() else []:
        msg = email.message_from_bytes(path.read_bytes(), policy=default)
        if msg["To"] == address:
            found.append(msg)
    return found  # type: ignore[return-value]


async def last_mail_to(stack: Stack, address: str) -> EmailMessage:
    """The latest message written to ``address`` (read newest first: the stack is shared)."""
    app = stack.apps["partners"]
    await app.state.mailer.drain()
    mail_dir = app.state.settings.mail_dir
    for path in sorted(mail_dir.glob("*.eml"), reverse=True) if mail_dir.exists() else []:
        msg = email.message_from_bytes(path.read_bytes(), policy=default)
        if msg["To"] == address:
            return msg  # type: ignore[return-value]
    raise AssertionError(f"no mail to {address}")


def link_in(msg: EmailMessage) -> str:
    body = msg.get_body(preferencelist=("plain",))
    assert body is not None
    match = re.search(r"https?://\S+", body.get_content())
    assert match, body.get_content()
    return match.group(0)


def token_of(link: str) -> str:
    return parse_qs(urlsplit(link).query)["token"][0]


def hidden_fields(page: str) -> dict[str, str]:
    return {
        html.unescape(name): html.unescape(value)
        for name, value in re.findall(r'<input type="hidden" name="([^"]*)" value="([^"]*)">', page)
    }


def browser(stack: Stack) -> httpx.AsyncClient:
    """A fresh client with its own cookies, as one person's browser."""
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=stack.apps["partners"]), base_url="http://partners.test"
    )


async def invite(stack: Stack, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    response = await stack.partners.post("/api/v1/invitations", headers=headers, json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def accept(
    stack: Stack, address: str, *, name: str = "Sam Patel", password: str = PASSWORD
) -> httpx.Response:
    """Open the latest invitation mailed to ``address`` and accept it with the form."""
    return await accept_link(
        stack, link_in(await last_mail_to(stack, address)), name=name, password=password
    )


async def accept_link(
    stack: Stack, link: str, *, name: str = "Sam Patel", password: str = PASSWORD
) -> httpx.Response:
    """Open an invitation's link and accept it with the form."""
    async with browser(stack) as client:
        page = await client.get(urlsplit(link).path + "?" + urlsplit(link).query)
        assert page.status_code == 200, page.text
        fields = hidden_fields(page.text)
        form = {**fields, "password": password, "password_confirm": password}
        if 'name="name"' in page.text:
            form["name"] = name
        return await client.post("/account/invitation", data=form)


async def claim(stack: Stack, partner_id: str, address: str | None = None) -> str:
    """The organisation's first person joins it through an invitation, which claims its
    record (what makes it count towards a feedback round's k). The person's address."""
    address = address or unique_email("director")
    # As `trellis invite --partner` does (the link comes back whatever carries the mail).
    link = await operator.invite(
        stack.apps["partners"].state.settings, email=address, partner_id=str(partner_id)
    )
    answer = await accept_link(stack, link)
    assert answer.status_code == 200, answer.text
    return address


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


async def authorize(
    client: httpx.AsyncClient,
    address: str,
    password: str = PASSWORD,
    *,
    choose: str | None = None,
    nonce: str = "n-1",
) -> tuple[str, str]:
    """Sign in through the pages; the code and the PKCE verifier."""
    verifier, challenge = pkce()
    state = secrets.token_urlsafe(8)
    page = await client.get(
        "/oauth/authorize",
        params={
            "response_type": "code",
            "client_id": CONSOLE,
            "redirect_uri": CALLBACK,
            "scope": "openid profile email",
            "state": state,
            "nonce": nonce,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        },
    )
    assert page.status_code == 200, page.text
    form = {**hidden_fields(page.text), "email": address, "password": password}
    answer = await client.post("/oauth/authorize", data=form)
    if choose is not None:
        assert answer.status_code == 200, answer.text
        assert "Choose whom you act for" in answer.text
        fields = hidden_fields(answer.text)
        answer = await client.post(
            "/oauth/authorize/membership", data={**fields, "membership_id": choose}
        )
    assert answer.status_code == 303, answer.text
    query = parse_qs(urlsplit(answer.headers["location"]).query)
    assert query["state"] == [state]
    return query["code"][0], verifier


async def sign_in(stack: Stack, address: str, password: str = PASSWORD, **kw: Any) -> dict:
    async with browser(stack) as client:
        code, verifier = await authorize(client, address, password, **kw)
        response = await client.post(
            "/oauth/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": CALLBACK,
                "client_id": CONSOLE,
                "code_verifier": verifier,
            },
        )
    assert response.status_code == 200, response.text
    return response.json()


def bearer(tokens: dict) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


async def sql(stack: Stack, statement: Any) -> list[Any]:
    """Rows of a SQLAlchemy statement on the partners database, as a database reader sees them."""
    async with stack.apps["partners"].state.db.engine.connect() as conn:
        return [tuple(row) for row in (await conn.execute(statement)).all()]


async def add_contact(stack: Stack, partner_id: str, address: str) -> None:
    response = await stack.partners.post(
        "/api/v1/contacts",
        headers=stack.tokens.partner(partner_id),
        json={"name": "Jo Baker", "email": address},
    )
    assert response.status_code == 201, response.text


async def staff_person(
    stack: Stack, funder_id: str, address: str | None = None
) -> tuple[str, dict]:
    """A real person on a funder's staff (invited by an admin); their address and tokens."""
    address = address or unique_email("staff")
    await invite(
        stack, stack.tokens.admin(), email=address, role="funder_staff", funder_id=funder_id
    )
    assert (await accept(stack, address)).status_code == 200
    return address, await sign_in(stack, address)
