"""An external OpenID Connect provider signs people in; Trellis maps them to memberships.

The rule (services/partners/identity/external.py): the provider's ``(iss, sub)``
once linked; else its verified email matching a Trellis person whose email
Trellis verified (an accepted invitation). Proved with a second issuer.
"""

import time
from pathlib import Path

import httpx
from joserfc import jwt
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from services.common.auth import KeyStore
from services.partners.identity.external import ExternalProviders
from tests.partners.people_helpers import CONSOLE, accept, bearer, invite
from tests.support import running_stack

IDP = "https://login.funder.example"
IDP_AUDIENCE = "trellis-at-funder-idp"
EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ID_TOKEN = "urn:ietf:params:oauth:token-type:id_token"


def id_token(keys: KeyStore, *, sub: str, email: str, verified: bool = True, **over) -> str:
    now = int(time.time())
    claims = {
        "iss": IDP,
        "aud": IDP_AUDIENCE,
        "sub": sub,
        "iat": now,
        "exp": now + 300,
        "email": email,
        "email_verified": verified,
        **over,
    }
    key = keys.signing_key()
    return jwt.encode({"alg": "RS256", "typ": "JWT", "kid": key.kid}, claims, key)


async def test_an_external_providers_people_map_to_memberships(
    backend: str, tmp_path: Path
) -> None:
    external = KeyStore(tmp_path / "idp-keys.json")
    external.ensure()
    impostor = KeyStore(tmp_path / "impostor-keys.json")
    impostor.ensure()
    idp = Starlette(routes=[Route("/jwks", lambda _: JSONResponse(external.public_jwks()))])
    providers = [{"issuer": IDP, "jwks_uri": "http://idp.test/jwks", "audience": IDP_AUDIENCE}]
    async with running_stack(
        backend, tmp_path, services=("partners",), external_idps=providers
    ) as stack:
        app = stack.apps["partners"]
        app.state.external_providers = ExternalProviders(
            app.state.settings.external_idps,
            httpx.AsyncClient(transport=httpx.ASGITransport(app=idp)),
        )
        doc = (await stack.partners.get("/.well-known/openid-configuration")).json()
        assert EXCHANGE in doc["grant_types_supported"]

        funder = await stack.new_funder()
        await invite(
            stack,
            stack.tokens.admin(),
            email="Ruth.Okafor@funder.example",
            role="funder_staff",
            funder_id=funder["id"],
        )
        assert (await accept(stack, "Ruth.Okafor@funder.example")).status_code == 200

        async def exchange(token: str, **extra: str) -> httpx.Response:
            return await stack.partners.post(
                "/oauth/token",
                data={
                    "grant_type": EXCHANGE,
                    "client_id": CONSOLE,
                    "subject_token": token,
                    "subject_token_type": ID_TOKEN,
                    **extra,
                },
            )

        # A verified email that matches an accepted invitation: linked, signed in as staff.
        first = await exchange(
            id_token(external, sub="idp-123", email="ruth.okafor@funder.example")
        )
        assert first.status_code == 200, first.text
        tokens = first.json()
        assert tokens["refresh_token"] and tokens["id_token"]
        own = await stack.partners.get(f"/api/v1/funders/{funder['id']}", headers=bearer(tokens))
        assert own.status_code == 200

        # From now on the provider's subject decides, whatever email it later says.
        moved = await exchange(id_token(external, sub="idp-123", email="ruth@elsewhere.example"))
        assert moved.status_code == 200
        # Another account at the provider with the same email cannot take the person over.
        twin = await exchange(id_token(external, sub="idp-999", email="ruth.okafor@funder.example"))
        assert twin.json()["error"] == "invalid_grant"

        refused = {
            "unverified email": id_token(
                external, sub="idp-2", email="ruth.okafor@funder.example", verified=False
            ),
            "nobody invited": id_token(external, sub="idp-3", email="stranger@funder.example"),
            "wrong audience": id_token(
                external, sub="idp-123", email="ruth.okafor@funder.example", aud="other-app"
            ),
            "expired": id_token(
                external, sub="idp-123", email="x@funder.example", exp=int(time.time()) - 120
            ),
            "signed by someone else": id_token(
                impostor, sub="idp-123", email="ruth.okafor@funder.example"
            ),
            "untrusted issuer": id_token(
                external,
                sub="idp-123",
                email="ruth.okafor@funder.example",
                iss="https://evil.example",
            ),
        }
        for why, token in refused.items():
            response = await exchange(token)
            assert response.status_code == 400, why
            assert response.json()["error"] == "invalid_grant", why
        nobody = await exchange(id_token(external, sub="idp-3", email="stranger@funder.example"))
        assert "invite" in nobody.json()["error_description"]
        wrong_type = await stack.partners.post(
            "/oauth/token",
            data={"grant_type": EXCHANGE, "client_id": CONSOLE, "subject_token": "x"},
        )
        assert wrong_type.json()["error"] == "invalid_request"
