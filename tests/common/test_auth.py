"""Tokens: 401 for bad ones, 403 for the wrong role, 404 for another tenant's record."""

import time
import uuid
from pathlib import Path

import httpx
import pytest
from joserfc import jwt
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from services.common.auth import KeyStore, TokenIssuer
from tests.support import AUDIENCE, ISSUER, Stack, Tokens, running_stack


async def assert_401(response: httpx.Response, words: str) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert words in response.json()["message"]


async def test_no_token_is_401(stack: Stack) -> None:
    await assert_401(await stack.partners.get("/api/v1/partners"), "needs an access token")


async def test_not_bearer_is_401(stack: Stack) -> None:
    response = await stack.partners.get("/api/v1/partners", headers={"Authorization": "Basic abc"})
    await assert_401(response, "Bearer")


async def test_bad_signature_is_401(stack: Stack, tmp_path: Path) -> None:
    stranger = KeyStore(tmp_path / "other.json")
    stranger.ensure()
    forged = TokenIssuer(stranger, issuer=ISSUER, audience=AUDIENCE).mint(
        sub="mallory", roles=["platform_admin"], client_id="x"
    )
    response = await stack.partners.get("/api/v1/funders", headers=Tokens.headers(forged))
    await assert_401(response, "not valid")


@pytest.mark.parametrize(
    ("issuer", "audience"), [(ISSUER, "someone-else"), ("http://evil.test", AUDIENCE)]
)
async def test_wrong_audience_or_issuer_is_401(stack: Stack, issuer: str, audience: str) -> None:
    token = TokenIssuer(stack.tokens.issuer.keys, issuer=issuer, audience=audience).mint(
        sub="a", roles=["platform_admin"], client_id="x"
    )
    response = await stack.partners.get("/api/v1/funders", headers=Tokens.headers(token))
    await assert_401(response, "check the issuer and audience")


async def test_expired_is_401(stack: Stack) -> None:
    token = stack.tokens.issuer.mint(sub="a", roles=["platform_admin"], client_id="x", ttl=-120)
    response = await stack.partners.get("/api/v1/funders", headers=Tokens.headers(token))
    await assert_401(response, "expired")


async def test_not_an_access_token_is_401(stack: Stack) -> None:
    key = stack.tokens.issuer.keys.signing_key()
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "a",
        "client_id": "x",
        "iat": now,
        "exp": now + 60,
        "jti": "j",
        "roles": ["platform_admin"],
    }
    id_token = jwt.encode({"alg": "RS256", "kid": key.kid}, claims, key)
    response = await stack.partners.get("/api/v1/funders", headers=Tokens.headers(id_token))
    await assert_401(response, "at+jwt")


async def test_wrong_role_is_403(stack: Stack) -> None:
    funder = await stack.new_funder()
    response = await stack.partners.post(
        "/api/v1/funders",
        headers=stack.tokens.staff(funder["id"]),
        json={"name": "X", "slug": "x-y", "prefix_360giving": "360G-x"},
    )
    assert response.status_code == 403
    assert "platform_admin" in response.json()["message"]
    partner = await stack.new_partner(funder["id"])
    response = await stack.partners.post(
        "/api/v1/partners", headers=stack.tokens.partner(partner["id"]), json={"name": "Sneaky"}
    )
    assert response.status_code == 403


async def test_other_tenants_records_are_404(stack: Stack) -> None:
    x, y = await stack.new_funder(), await stack.new_funder()
    px = await stack.new_partner(x["id"])
    py = await stack.new_partner(y["id"])
    y_staff = stack.tokens.staff(y["id"])
    rel_x = px["relationship"]["id"]
    for method, url, body in [
        ("GET", f"/api/v1/partners/{px['id']}", None),
        ("PUT", f"/api/v1/partners/{px['id']}", {"name": "Hijack"}),
        ("GET", f"/api/v1/relationships/{rel_x}", None),
        ("PUT", f"/api/v1/relationships/{rel_x}", {"status": "ended"}),
        ("GET", f"/api/v1/funders/{x['id']}", None),
    ]:
        response = await stack.partners.request(method, url, headers=y_staff, json=body)
        assert response.status_code == 404, (method, url, response.text)
    # An organisation's API clients are its own people's business: no funder's staff at all.
    response = await stack.partners.get(f"/api/v1/partners/{px['id']}/clients", headers=y_staff)
    assert response.status_code == 403
    as_py = stack.tokens.partner(py["id"])
    response = await stack.partners.get(f"/api/v1/partners/{px['id']}", headers=as_py)
    assert response.status_code == 404
    listed = await stack.partners.get("/api/v1/partners", headers=as_py)
    assert [p["id"] for p in listed.json()] == [py["id"]]
    unknown = await stack.partners.get(f"/api/v1/partners/{uuid.uuid4()}", headers=y_staff)
    assert unknown.status_code == 404
    assert unknown.json()["message"] == response.json()["message"]


async def test_an_external_identity_provider_replaces_the_embedded_issuer(
    backend: str, tmp_path: Path
) -> None:
    """Production points at the funder's own IdP by its JWKS URL: its keys are trusted, ours not."""
    external = KeyStore(tmp_path / "idp-keys.json")
    external.ensure()
    idp = Starlette(routes=[Route("/jwks.json", lambda _: JSONResponse(external.public_jwks()))])
    issuer = "https://login.funder.example"
    async with running_stack(
        backend,
        tmp_path,
        services=("partners",),
        auth_issuer=issuer,
        auth_jwks_url="http://idp.test/jwks.json",
    ) as stack:
        stack.apps["partners"].state.http._mounts  # noqa: B018  (the client exists)
        stack.apps["partners"].state.verifier._http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=idp)
        )
        theirs = TokenIssuer(external, issuer=issuer, audience=AUDIENCE).mint(
            sub="ops@funder.example", roles=["platform_admin"], client_id="idp-client"
        )
        ours = TokenIssuer(stack.tokens.issuer.keys, issuer=issuer, audience=AUDIENCE).mint(
            sub="ops@funder.example", roles=["platform_admin"], client_id="idp-client"
        )
        ok = await stack.partners.get("/api/v1/funders", headers=Tokens.headers(theirs))
        assert ok.status_code == 200, ok.text
        refused = await stack.partners.get("/api/v1/funders", headers=Tokens.headers(ours))
        assert refused.status_code == 401
        # The IdP rotates: a token with a new kid makes the verifier fetch the JWKS again.
        external.rotate()
        stack.apps["partners"].state.verifier._fetched_at = 0
        rotated = TokenIssuer(external, issuer=issuer, audience=AUDIENCE).mint(
            sub="ops@funder.example", roles=["platform_admin"], client_id="idp-client"
        )
        assert (
            await stack.partners.get("/api/v1/funders", headers=Tokens.headers(rotated))
        ).status_code == 200
