"""The embedded OpenID Connect provider: discovery, keys, token, userinfo, sign-out.

The sign-in pages (``/oauth/authorize``) are in ``identity/signin.py``.
Production deployments may let an external provider sign people in instead;
see ``identity/external.py`` for how its users map to Trellis memberships.
"""

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from services.common.auth import KeyStore, TokenIssuer, bearer_token
from services.common.db import SessionDep
from services.common.errors import Problem, Unauthorized
from services.common.openapi import problem_response
from services.common.ratelimit import AttemptGuard, AttemptLimits, shared_storage, source_address
from services.partners.clients import service as clients_service
from services.partners.clients.schemas import OAuthError as OAuthErrorBody
from services.partners.clients.schemas import TokenResponse
from services.partners.config import Settings
from services.partners.identity import external, service
from services.partners.identity.oauth import (
    NO_STORE,
    SCOPES,
    OAuthError,
    authenticate_oidc_client,
    basic_credentials,
    invalid_client,
    json_response,
    redirect_with,
)
from services.partners.identity.pages import message_page

router = APIRouter(tags=["identity"])

CLAIMS = [
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "jti",
    "client_id",
    "roles",
    "funder_id",
    "partner_id",
    "sid",
    "mid",
    "name",
    "email",
    "email_verified",
    "scope",
]


def _settings(request: Request) -> Settings:
    return request.app.state.settings


def _issuer(request: Request) -> TokenIssuer:
    settings = _settings(request)
    return TokenIssuer(
        KeyStore(settings.signing_keys_file),
        issuer=settings.auth_issuer,
        audience=settings.auth_audience,
    )


def _lifetimes(settings: Settings) -> service.Lifetimes:
    return service.Lifetimes(
        access_token=settings.access_token_ttl,
        id_token=settings.id_token_ttl,
        session=settings.session_ttl,
        code=settings.authorization_code_ttl,
    )


def _metadata(settings: Settings) -> dict[str, Any]:
    issuer = settings.auth_issuer.rstrip("/")
    grants = ["authorization_code", "refresh_token", "client_credentials"]
    if settings.external_idps:
        grants.append(external.TOKEN_EXCHANGE)
    return {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/oauth/authorize",
        "token_endpoint": f"{issuer}/oauth/token",
        "userinfo_endpoint": f"{issuer}/oauth/userinfo",
        "end_session_endpoint": f"{issuer}/oauth/logout",
        "jwks_uri": f"{issuer}/.well-known/jwks.json",
        "scopes_supported": list(SCOPES),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": grants,
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": [
            "none",
            "client_secret_basic",
            "client_secret_post",
        ],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "userinfo_signing_alg_values_supported": ["none"],
        "claims_supported": CLAIMS,
        "prompt_values_supported": ["login"],
        "authorization_response_iss_parameter_supported": True,
        "service_documentation": f"{issuer}/docs",
    }


@router.get("/.well-known/openid-configuration", summary="OpenID Connect discovery document")
async def discovery(request: Request) -> dict[str, Any]:
    """Where the provider's endpoints are and what it supports (OpenID Connect Discovery 1.0)."""
    return _metadata(_settings(request))


@router.get(
    "/.well-known/oauth-authorization-server",
    summary="OAuth 2.0 authorization server metadata (RFC 8414)",
)
async def oauth_metadata(request: Request) -> dict[str, Any]:
    """The same metadata for OAuth 2.0 clients that read RFC 8414."""
    return _metadata(_settings(request))


@router.get("/.well-known/jwks.json", summary="The issuer's public signing keys")
async def jwks(request: Request) -> Response:
    keys = KeyStore(_settings(request).signing_keys_file)
    if not keys.path.exists():
        raise Problem(
            "This deployment uses an external identity provider.", status=404, slug="not-found"
        )
    return Response(
        orjson.dumps(keys.public_jwks()),
        media_type="application/json",
        headers={"Cache-Control": "public, max-age=300"},
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
        settings = _settings(request)
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


async def _client_credentials(
    request: Request,
    session: SessionDep,
    basic: tuple[str, str] | None,
    client_id: str | None,
    client_secret: str | None,
) -> Response:
    if basic is None:
        if not (client_id and client_secret):
            raise invalid_client(
                "Send the client id and secret with HTTP Basic authentication or as "
                "client_id and client_secret.",
                basic=True,
            )
        credentials = (client_id, client_secret)
    else:
        credentials = basic
    settings = _settings(request)
    guard = _token_guard(request)
    source = source_address(request)
    await guard.check(subject=credentials[0], source=source)
    try:
        access_token, scope = await clients_service.issue_client_token(
            session=session,
            issuer=_issuer(request),
            client_id=credentials[0],
            client_secret=credentials[1],
            ttl=settings.client_token_ttl,
        )
    except Unauthorized as exc:
        # Nothing of a failed authentication is kept; ending its transaction first frees
        # SQLite's write lock for the counter (kept on its own connection).
        await session.rollback()
        await guard.failed(subject=credentials[0], source=source)
        raise invalid_client(exc.detail, basic=True) from exc
    except clients_service.ClientNotConfirmed as exc:
        raise OAuthError("unauthorized_client", exc.detail, 400) from exc
    body = TokenResponse(
        access_token=access_token, expires_in=settings.client_token_ttl, scope=scope
    )
    return Response(body.model_dump_json(), media_type="application/json", headers=NO_STORE)


def _providers(request: Request) -> external.ExternalProviders:
    state = request.app.state
    if getattr(state, "external_providers", None) is None:
        state.external_providers = external.ExternalProviders(
            _settings(request).external_idps, state.http
        )
    return state.external_providers


@router.post(
    "/oauth/token",
    response_model=TokenResponse,
    summary="Get an access token",
    responses={
        400: {
            "model": OAuthErrorBody,
            "description": "An RFC 6749 error: `error` and `error_description`.",
        },
        401: {
            "model": OAuthErrorBody,
            "description": "The client could not be authenticated (`invalid_client`).",
        },
        429: {
            **problem_response(429),
            "description": "Too many failed client-credentials attempts: wait the "
            "`Retry-After` seconds; past the second limit the client is locked "
            "(problem type `locked`).",
        },
    },
)
async def token(
    request: Request,
    session: SessionDep,
    grant_type: Annotated[str | None, Form()] = None,
    client_id: Annotated[str | None, Form()] = None,
    client_secret: Annotated[str | None, Form()] = None,
    code: Annotated[str | None, Form()] = None,
    redirect_uri: Annotated[str | None, Form()] = None,
    code_verifier: Annotated[str | None, Form()] = None,
    refresh_token: Annotated[str | None, Form()] = None,
    scope: Annotated[str | None, Form()] = None,
    subject_token: Annotated[str | None, Form()] = None,
    subject_token_type: Annotated[str | None, Form()] = None,
    membership_id: Annotated[str | None, Form()] = None,
) -> Response:
    """The token endpoint (RFC 6749), form-encoded.

    - ``client_credentials``: registered partner systems (HTTP Basic or form secret).
      Failed attempts are limited per client id and per source address: past the
      limit, 429 with ``Retry-After``; past the second limit the client is locked for
      the rest of the window, even with the right secret.
    - ``authorization_code``: with ``code``, ``redirect_uri``, ``client_id`` and the
      PKCE ``code_verifier``; answers an access token, an id_token and a refresh token.
    - ``refresh_token``: rotates the refresh token; a rotated one presented again
      ends the whole sign-in.
    - ``urn:ietf:params:oauth:grant-type:token-exchange`` (when external providers are
      configured): an external provider's id_token for Trellis tokens.

    Errors are RFC 6749 JSON (``error``, ``error_description``), never cached.
    """
    try:
        basic = basic_credentials(request.headers.get("authorization"))
        if not grant_type:
            raise OAuthError("invalid_request", "Send grant_type.")
        if grant_type == "client_credentials":
            return await _client_credentials(request, session, basic, client_id, client_secret)
        settings = _settings(request)
        if grant_type in ("authorization_code", "refresh_token"):
            client = authenticate_oidc_client(
                settings, basic=basic, client_id=client_id, client_secret=client_secret
            )
            if grant_type == "authorization_code":
                body = await service.exchange_code(
                    session=session,
                    client=client,
                    code=code,
                    redirect_uri=redirect_uri,
                    code_verifier=code_verifier,
                    issuer=_issuer(request),
                    lifetimes=_lifetimes(settings),
                )
            else:
                body = await service.refresh(
                    session=session,
                    client=client,
                    refresh_token=refresh_token,
                    scope=scope,
                    issuer=_issuer(request),
                    lifetimes=_lifetimes(settings),
                )
            return json_response(body)
        if grant_type == external.TOKEN_EXCHANGE and settings.external_idps:
            client = authenticate_oidc_client(
                settings, basic=basic, client_id=client_id, client_secret=client_secret
            )
            if subject_token_type != external.ID_TOKEN_TYPE or not subject_token:
                raise OAuthError(
                    "invalid_request",
                    f"Send the provider's id_token as subject_token, with subject_token_type "
                    f"{external.ID_TOKEN_TYPE}.",
                )
            idp, claims = await _providers(request).verify(subject_token)
            person = await external.resolve_person(session=session, idp=idp, claims=claims)
            membership = await external.choose_membership(
                session=session, person=person, membership_id=membership_id
            )
            body = await service.start_external_session(
                session=session,
                person=person,
                membership=membership,
                client_id=client.client_id,
                issuer=_issuer(request),
                lifetimes=_lifetimes(settings),
            )
            body["issued_token_type"] = "urn:ietf:params:oauth:token-type:access_token"
            return json_response(body)
        raise OAuthError(
            "unsupported_grant_type",
            "Supported grant types: authorization_code, refresh_token, client_credentials"
            + (f", {external.TOKEN_EXCHANGE}" if settings.external_idps else "")
            + ".",
        )
    except OAuthError as exc:
        return exc.response()
    except FileNotFoundError:
        return OAuthError(
            "invalid_request", "This deployment issues no tokens; use your identity provider."
        ).response()


def _bearer_challenge(error: str | None = None, description: str | None = None) -> str:
    parts = ['Bearer realm="trellis"']
    if error:
        parts.append(f'error="{error}"')
    if description:
        parts.append('error_description="{}"'.format(description.replace('"', "'")))
    return ", ".join(parts)


async def _userinfo(request: Request, session: SessionDep) -> Response:
    try:
        token_value = bearer_token(request.headers.get("authorization"))
    except Unauthorized:
        token_value = None
    if token_value is None:
        return Response(
            orjson.dumps(
                {"error": "invalid_request", "error_description": "Send a Bearer access token."}
            ),
            status_code=401,
            media_type="application/json",
            headers={"WWW-Authenticate": _bearer_challenge()},
        )
    try:
        caller = await request.app.state.verifier.verify(token_value)
        body = await service.userinfo(session=session, caller=caller)
    except Unauthorized as exc:
        return Response(
            orjson.dumps({"error": "invalid_token", "error_description": exc.detail}),
            status_code=401,
            media_type="application/json",
            headers={"WWW-Authenticate": _bearer_challenge("invalid_token", exc.detail)},
        )
    except OAuthError as exc:
        exc.headers["WWW-Authenticate"] = _bearer_challenge("invalid_token", exc.description)
        return exc.response()
    return json_response(body)


BEARER = {"security": [{"bearerAuth": []}]}


@router.get(
    "/oauth/userinfo",
    summary="Who the access token's person is (OIDC userinfo)",
    openapi_extra=BEARER,
)
async def userinfo_get(request: Request, session: SessionDep) -> Response:
    """The person behind a person's access token, and the memberships they hold."""
    return await _userinfo(request, session)


@router.post(
    "/oauth/userinfo",
    summary="Who the access token's person is (OIDC userinfo)",
    openapi_extra=BEARER,
)
async def userinfo_form(request: Request, session: SessionDep) -> Response:
    """The same as ``GET``, for clients that POST."""
    return await _userinfo(request, session)


async def _logout(
    request: Request,
    session: SessionDep,
    id_token_hint: str | None,
    post_logout_redirect_uri: str | None,
    state: str | None,
    client_id: str | None,
) -> Response:
    settings = _settings(request)
    claims: dict[str, Any] | None = None
    if id_token_hint:
        try:
            claims = service.read_id_token_hint(
                KeyStore(settings.signing_keys_file), id_token_hint, issuer=settings.auth_issuer
            )
        except ValueError:
            return message_page(
                "Sign out",
                "This sign-out link is not one Trellis made, so nothing was changed.",
                status=400,
            )
        if claims.get("sid") and claims.get("sub"):
            await service.end_session(
                session=session, sid=str(claims["sid"]), person_sub_claim=str(claims["sub"])
            )
    audience = claims.get("aud") if claims else client_id
    client = settings.clients().get(str(audience)) if audience else None
    if (
        post_logout_redirect_uri
        and client is not None
        and post_logout_redirect_uri in client.post_logout_redirect_uris
    ):
        return RedirectResponse(
            redirect_with(post_logout_redirect_uri, {"state": state}),
            status_code=303,
            headers={"Cache-Control": "no-store"},
        )
    return message_page(
        "Signed out",
        "You are signed out of Trellis on this application." if claims else "You are signed out.",
    )


@router.get("/oauth/logout", summary="Sign out (OIDC RP-initiated logout)", include_in_schema=False)
async def logout_get(
    request: Request,
    session: SessionDep,
    id_token_hint: str | None = None,
    post_logout_redirect_uri: str | None = None,
    state: str | None = None,
    client_id: str | None = None,
) -> Response:
    """End the sign-in named by ``id_token_hint`` and go back to a registered address."""
    return await _logout(
        request, session, id_token_hint, post_logout_redirect_uri, state, client_id
    )


@router.post(
    "/oauth/logout", summary="Sign out (OIDC RP-initiated logout)", include_in_schema=False
)
async def logout_form(
    request: Request,
    session: SessionDep,
    id_token_hint: Annotated[str | None, Form()] = None,
    post_logout_redirect_uri: Annotated[str | None, Form()] = None,
    state: Annotated[str | None, Form()] = None,
    client_id: Annotated[str | None, Form()] = None,
) -> Response:
    """The same as ``GET``, with the parameters in a form."""
    return await _logout(
        request, session, id_token_hint, post_logout_redirect_uri, state, client_id
    )
