"""OAuth 2.0 wire details: RFC 6749 errors, client authentication, the authorization request.

Token endpoint errors are ``application/json`` with ``error`` and
``error_description`` and ``Cache-Control: no-store`` (RFC 6749 section 5.2),
not problem documents: OAuth client libraries read exactly these members.
"""

import base64
import re
import secrets
from dataclasses import dataclass, fields
from typing import Any
from urllib.parse import unquote, urlencode, urlsplit, urlunsplit

import orjson
from starlette.responses import Response

from services.partners.config import OidcClient, Settings

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
SCOPES = ("openid", "profile", "email", "offline_access")
_PKCE = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")


class OAuthError(Exception):
    """An RFC 6749 error answer of the token (or userinfo) endpoint."""

    def __init__(
        self,
        error: str,
        description: str,
        status: int = 400,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status
        self.headers = headers or {}

    def response(self) -> Response:
        return Response(
            orjson.dumps({"error": self.error, "error_description": self.description}),
            status_code=self.status,
            media_type="application/json",
            headers={**NO_STORE, **self.headers},
        )


def json_response(body: dict[str, Any], status: int = 200) -> Response:
    return Response(
        orjson.dumps(body), status_code=status, media_type="application/json", headers=NO_STORE
    )


def invalid_client(description: str, *, basic: bool) -> OAuthError:
    """401 with the challenge of the scheme the client tried (RFC 6749 section 5.2)."""
    headers = {"WWW-Authenticate": 'Basic realm="trellis"'} if basic else {}
    return OAuthError("invalid_client", description, 401 if basic else 400, headers)


def basic_credentials(header: str | None) -> tuple[str, str] | None:
    """``client_id`` and secret from an HTTP Basic header (form-urlencoded, RFC 6749 2.3.1)."""
    if not header or not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
    except (ValueError, UnicodeDecodeError) as exc:
        raise invalid_client("The Basic credentials are malformed.", basic=True) from exc
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        raise invalid_client("The Basic credentials are malformed.", basic=True)
    return unquote(client_id), unquote(secret)


def authenticate_oidc_client(
    settings: Settings,
    *,
    basic: tuple[str, str] | None,
    client_id: str | None,
    client_secret: str | None,
) -> OidcClient:
    """The registered OIDC client making a token request (public clients send only an id)."""
    if basic is not None:
        client_id, client_secret = basic
    if not client_id:
        raise OAuthError(
            "invalid_request", "Send client_id (public clients) or authenticate the client."
        )
    client = settings.clients().get(client_id)
    if client is None:
        raise invalid_client("There is no client with this client_id.", basic=basic is not None)
    if client.client_secret is not None:
        if not client_secret or not secrets.compare_digest(
            client.client_secret.encode(), client_secret.encode()
        ):
            raise invalid_client("The client secret is not right.", basic=basic is not None)
    return client


@dataclass(frozen=True, slots=True)
class AuthRequest:
    """An authorization request (RFC 6749 4.1.1, OIDC Core 3.1.2.1) that passed its checks."""

    client_id: str
    redirect_uri: str
    scope: str
    state: str | None
    nonce: str | None
    code_challenge: str

    def hidden_fields(self) -> list[tuple[str, str | None]]:
        """The request, carried through the sign-in form."""
        return [
            ("response_type", "code"),
            ("code_challenge_method", "S256"),
            *((f.name, getattr(self, f.name)) for f in fields(self)),
        ]

    def as_claims(self) -> dict[str, str | None]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


class AuthorizeError(Exception):
    """An authorization request that fails.

    ``redirect`` is False when the client or its redirect URI cannot be trusted
    (RFC 6749 4.1.2.1): the person is told on a page instead of being sent back.
    """

    def __init__(self, error: str, description: str, *, redirect: bool, state: str | None = None):
        super().__init__(description)
        self.error = error
        self.description = description
        self.redirect = redirect
        self.state = state


def check_authorization_request(settings: Settings, params: dict[str, str]) -> AuthRequest:
    client_id = params.get("client_id") or ""
    redirect_uri = params.get("redirect_uri") or ""
    client = settings.clients().get(client_id)
    if client is None:
        raise AuthorizeError(
            "invalid_client",
            "This sign-in link names an application Trellis does not know.",
            redirect=False,
        )
    if redirect_uri not in client.redirect_uris:
        raise AuthorizeError(
            "invalid_request",
            "This sign-in link would send you back to an address the application did not "
            "register, so Trellis will not use it.",
            redirect=False,
        )
    state = params.get("state")

    def fail(error: str, description: str) -> AuthorizeError:
        return AuthorizeError(error, description, redirect=True, state=state)

    if params.get("response_type") != "code":
        raise fail("unsupported_response_type", "Only response_type=code is supported.")
    challenge = params.get("code_challenge")
    if not challenge:
        raise fail("invalid_request", "PKCE is required: send code_challenge with S256.")
    if params.get("code_challenge_method") != "S256":
        raise fail(
            "invalid_request", "Only code_challenge_method=S256 is supported (plain is not)."
        )
    if not _PKCE.match(challenge):
        raise fail("invalid_request", "code_challenge must be 43 to 128 URL-safe characters.")
    scopes = (params.get("scope") or "openid").split()
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown:
        raise fail("invalid_scope", f"Unknown scope {unknown[0]!r}; use {' '.join(SCOPES)}.")
    for name in ("state", "nonce"):
        if len(params.get(name) or "") > 500:
            raise fail("invalid_request", f"{name} is longer than 500 characters.")
    if params.get("prompt") == "none":
        raise fail("login_required", "The person must sign in; prompt=none cannot be honoured.")
    return AuthRequest(
        client_id=client_id,
        redirect_uri=redirect_uri,
        scope=" ".join(dict.fromkeys(scopes)),
        state=state,
        nonce=params.get("nonce"),
        code_challenge=challenge,
    )


def redirect_with(uri: str, params: dict[str, str | None]) -> str:
    """``uri`` with ``params`` added to its query."""
    parts = urlsplit(uri)
    extra = urlencode({k: v for k, v in params.items() if v is not None})
    query = f"{parts.query}&{extra}" if parts.query else extra
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))
