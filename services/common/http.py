"""Calls between services: one long-lived HTTP client, service credentials, clear 503s."""

import time
from typing import Any

import httpx

from services.common import deadline
from services.common.auth import KeyStore, TokenIssuer
from services.common.errors import ServiceUnavailable
from services.common.requestid import current_request_id
from services.common.settings import CommonSettings


class ServiceTokens:
    """Access tokens with the ``service`` role, for calls to other services' internal endpoints.

    Embedded default: minted with the local signing keys. Production: fetched from
    the identity provider with the client-credentials grant. Either way one token
    is reused until a minute before it expires.
    """

    def __init__(self, settings: CommonSettings, http: httpx.AsyncClient) -> None:
        self.settings = settings
        self.http = http
        self._token: str | None = None
        self._expires = 0.0
        self._issuer: TokenIssuer | None = None
        if settings.auth_token_url is None and settings.signing_keys_file.exists():
            self._issuer = TokenIssuer(
                KeyStore(settings.signing_keys_file),
                issuer=settings.auth_issuer,
                audience=settings.auth_audience,
            )

    async def token(self) -> str:
        if self._token and time.time() < self._expires - 60:
            return self._token
        if self._issuer is not None:
            ttl = 900
            self._token = self._issuer.mint(
                sub=f"service:{self.settings.service_name}",
                roles=["service"],
                client_id=f"trellis-{self.settings.service_name}",
                ttl=ttl,
            )
            self._expires = time.time() + ttl
            return self._token
        if not (
            self.settings.auth_token_url
            and self.settings.service_client_id
            and self.settings.service_client_secret
        ):
            raise ServiceUnavailable(
                "This service has no credentials for calling other services: set "
                "TRELLIS_AUTH_TOKEN_URL, TRELLIS_SERVICE_CLIENT_ID and TRELLIS_SERVICE_CLIENT_SECRET."
            )
        try:
            response = await self.http.post(
                self.settings.auth_token_url,
                data={"grant_type": "client_credentials"},
                auth=(self.settings.service_client_id, self.settings.service_client_secret),
            )
            response.raise_for_status()
            body = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise ServiceUnavailable(
                "The identity provider could not issue a service token."
            ) from exc
        self._token = body["access_token"]
        self._expires = time.time() + int(body.get("expires_in", 300))
        return self._token


class ServiceClient:
    """Calls one other Trellis service by name; failures become a 503 naming it."""

    def __init__(
        self,
        name: str,
        base_url: str,
        http: httpx.AsyncClient,
        tokens: ServiceTokens,
        *,
        caller: str = "this",
        timeout: float = 5.0,
    ):
        """``caller`` is the calling service's own name; ``timeout`` the longest a call may
        take when the request has no deadline (or a longer one)."""
        self.name = name
        self.base_url = base_url.rstrip("/")
        self.http = http
        self.tokens = tokens
        self.caller = caller
        self.timeout = timeout

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
    ) -> httpx.Response:
        headers = {"authorization": f"Bearer {await self.tokens.token()}"}
        request_id = current_request_id()
        if request_id:
            headers["x-request-id"] = request_id
        timeout: Any = httpx.USE_CLIENT_DEFAULT
        left = deadline.remaining()
        if left is not None:
            # Our caller's deadline bounds this call; the callee gets a little less, so it
            # gives up (and keeps nothing) before we do, and then it is the one named.
            wait = min(self.timeout, left - deadline.margin(left))
            if wait <= 0:
                raise deadline.DeadlineExceeded(
                    self.caller,
                    f"This request ran out of time before the {self.name} service could be "
                    "asked; nothing was changed. Try again.",
                )
            timeout = httpx.Timeout(wait, connect=min(2.0, wait))
            name, value = deadline.budget_header(wait)
            headers[name] = value
        try:
            response = await self.http.request(
                method,
                self.base_url + path,
                json=json,
                params=params,
                headers=headers,
                timeout=timeout,
            )
        except httpx.TimeoutException as exc:
            raise ServiceUnavailable(
                f"The {self.name} service did not answer in time; nothing was changed. Try again shortly.",
                extra={"service": self.name},
            ) from exc
        except httpx.TransportError as exc:
            raise ServiceUnavailable(
                f"The {self.name} service could not be reached; nothing was changed. Try again shortly.",
                extra={"service": self.name},
            ) from exc
        if response.status_code >= 500:
            raise ServiceUnavailable(
                f"The {self.name} service failed to answer ({response.status_code}); "
                "nothing was changed. Try again shortly.",
                extra={"service": self.name},
            )
        return response

    async def get_json(self, path: str, *, params: dict[str, Any] | None = None) -> Any | None:
        """GET a JSON document; ``None`` when the other service answers 404."""
        response = await self.request("GET", path, params=params)
        if response.status_code == 404:
            return None
        if response.status_code >= 400:
            raise ServiceUnavailable(
                f"The {self.name} service refused our request ({response.status_code}).",
                extra={"service": self.name},
            )
        return response.json()
