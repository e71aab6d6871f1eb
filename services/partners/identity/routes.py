"""The embedded token issuer: OIDC discovery, JWKS and the client-credentials grant.

Production deployments point Trellis at their own identity provider
(``TRELLIS_AUTH_JWKS_URL``) and need none of this; it stays for partner
systems registered here.
"""

import base64
from typing import Annotated
from urllib.parse import unquote

import orjson
from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from services.common.auth import KeyStore, TokenIssuer
from services.common.db import SessionDep
from services.common.errors import BadRequest, Problem, Unauthorized
from services.common.openapi import problem_responses
from services.common.ratelimit import AttemptGuard, AttemptLimits, shared_storage, source_address
from services.partners.clients import service
from services.partners.clients.schemas import TokenResponse

router = APIRouter(tags=["identity"])


class OAuthError(Problem):
    """An RFC 6749 error that is also a problem document."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        headers = {"Cache-Control": "no-store"}
        if error == "invalid_client":
            headers["WWW-Authenticate"] = 'Basic realm="trellis"'
        super().__init__(
            description,
            status=status,
            slug=f"oauth-{error.replace('_', '-')}",
            headers=headers,
            extra={"error": error, "error_description": description},
        )


CLIENT_LOCK_ADVICE = (
    "Check the client id and secret your system sends; if the secret is lost, your "
    "organisation's people can revoke this client and create a new one. The lock lifts by "
    "itself after the time in Retry-After."
)


def _token_guard(request: Request) -> AttemptGuard:
    """Failed client-credentials attempts, per client id and per source address."""
    state = request.app.state
    guard: AttemptGuard | None = getattr(state, "token_guard", None)
    if guard is None:
        settings = state.settings
        guard = AttemptGuard(
            shared_storage(request),
            AttemptLimits.parse(
                settings.token_failure_limits, settings.token_failure_limits_per_source
            ),
            name="oauth-token",
            subject="client",
            advice=CLIENT_LOCK_ADVICE,
        )
        state.token_guard = guard
    return guard


def _issuer(request: Request) -> TokenIssuer:
    settings = request.app.state.settings
    return TokenIssuer(
        KeyStore(settings.signing_keys_file),
        issuer=settings.auth_issuer,
        audience=settings.auth_audience,
    )


@router.get("/.well-known/openid-configuration", summary="OIDC discovery document")
async def discovery(request: Request) -> dict[str, object]:
    issuer = request.app.state.settings.auth_issuer.rstrip("/")
    return {
        "issuer": issuer,
        "jwks_uri": f"{issuer}/.well-known/jwks.json",
        "token_endpoint": f"{issuer}/oauth/token",
        "grant_types_supported": ["client_credentials"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "response_types_supported": ["token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "claims_supported": [
            "iss",
            "sub",
            "aud",
            "exp",
            "iat",
            "jti",
            "client_id",
            "roles",
            "funder_id",
            "partner_id",
            "scope",
        ],
    }


@router.get("/.well-known/jwks.json", summary="The issuer's public signing keys")
async def jwks(request: Request) -> Response:
    keys = KeyStore(request.app.state.settings.signing_keys_file)
    if not keys.path.exists():
        raise Problem(
            "This deployment uses an external identity provider.", status=404, slug="not-found"
        )
    return Response(
        orjson.dumps(keys.public_jwks()),
        media_type="application/json",
        headers={"Cache-Control": "public, max-age=300"},
    )


def _basic_credentials(header: str | None) -> tuple[str, str] | None:
    if not header or not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip()).decode()
        client_id, _, secret = decoded.partition(":")
    except (ValueError, UnicodeDecodeError) as exc:
        raise OAuthError("invalid_client", "The Basic credentials are malformed.", 401) from exc
    return unquote(client_id), unquote(secret)


@router.post(
    "/oauth/token",
    response_model=TokenResponse,
    summary="Get an access token",
    responses=problem_responses(400, 401, 429),
)
async def token(
    request: Request,
    session: SessionDep,
    grant_type: Annotated[str | None, Form()] = None,
    client_id: Annotated[str | None, Form()] = None,
    client_secret: Annotated[str | None, Form()] = None,
) -> Response:
    """The client-credentials grant for registered partner systems.

    Authenticate with HTTP Basic (``client_id:client_secret``) or with both in
    the form body. Answers an RFC 9068 access token with the ``partner`` role.
    Failed attempts are limited per client id and per source address: past the
    limit the answer is 429 with ``Retry-After``, and past the second limit the
    client is locked for the rest of the window, even with the right secret.
    """
    if grant_type != "client_credentials":
        raise OAuthError(
            "unsupported_grant_type", "Only grant_type=client_credentials is supported here."
        )
    credentials = _basic_credentials(request.headers.get("authorization"))
    if credentials is None:
        if not (client_id and client_secret):
            raise OAuthError(
                "invalid_client",
                "Send the client id and secret with HTTP Basic "
                "authentication or as client_id and client_secret.",
                401,
            )
        credentials = (client_id, client_secret)
    settings = request.app.state.settings
    guard = _token_guard(request)
    source = source_address(request)
    await guard.check(subject=credentials[0], source=source)
    try:
        access_token, scope = await service.issue_client_token(
            session=session,
            issuer=_issuer(request),
            client_id=credentials[0],
            client_secret=credentials[1],
            ttl=settings.client_token_ttl,
        )
    except Unauthorized as exc:
        await guard.failed(subject=credentials[0], source=source)
        raise OAuthError("invalid_client", exc.detail, 401) from exc
    except FileNotFoundError as exc:
        raise BadRequest("This deployment issues no tokens; use your identity provider.") from exc
    body = TokenResponse(
        access_token=access_token, expires_in=settings.client_token_ttl, scope=scope
    )
    return Response(
        body.model_dump_json(),
        media_type="application/json",
        headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
    )
