"""The embedded OpenID Connect provider: code flow with PKCE, refresh rotation, userinfo, logout."""

import uuid
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from joserfc import jwt
from sqlalchemy import select

from services.partners.identity.models import SignInSession
from services.partners.people.models import Membership, Person
from tests.partners.helpers import pair
from tests.partners.people_helpers import (
    CALLBACK,
    CONSOLE,
    PASSWORD,
    accept,
    add_contact,
    authorize,
    bearer,
    browser,
    hidden_fields,
    invite,
    pkce,
    sign_in,
    sql,
    staff_person,
    unique_email,
)
from tests.support import AUDIENCE, ISSUER, Stack, running_stack


def _claims(stack: Stack, token: str) -> dict:
    return jwt.decode(token, stack.tokens.issuer.keys.keys).claims


async def test_discovery_and_rfc8414_metadata(stack: Stack) -> None:
    for path in ("/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"):
        doc = (await stack.partners.get(path)).json()
        assert doc["issuer"] == ISSUER
        assert doc["authorization_endpoint"] == f"{ISSUER}/oauth/authorize"
        assert doc["token_endpoint"] == f"{ISSUER}/oauth/token"
        assert doc["userinfo_endpoint"] == f"{ISSUER}/oauth/userinfo"
        assert doc["end_session_endpoint"] == f"{ISSUER}/oauth/logout"
        assert doc["response_types_supported"] == ["code"]
        assert doc["code_challenge_methods_supported"] == ["S256"]
        assert {"authorization_code", "refresh_token", "client_credentials"} <= set(
            doc["grant_types_supported"]
        )


async def test_a_person_signs_in_with_the_code_flow_and_calls_the_api(stack: Stack) -> None:
    p = await pair(stack)
    address, tokens = await staff_person(stack, p.funder_id)
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 300
    access = _claims(stack, tokens["access_token"])
    assert access["roles"] == ["funder_staff"] and access["funder_id"] == p.funder_id
    assert access["client_id"] == CONSOLE and access["aud"] == AUDIENCE
    assert access["sub"].startswith("person:") and access["mid"] and access["sid"]
    assert access["exp"] - access["iat"] == 300
    id_token = jwt.decode(tokens["id_token"], stack.tokens.issuer.keys.keys)
    assert id_token.header["typ"] == "JWT"
    assert id_token.claims["aud"] == CONSOLE and id_token.claims["nonce"] == "n-1"
    assert id_token.claims["email"] == address and id_token.claims["sid"] == access["sid"]

    own = await stack.partners.get(f"/api/v1/partners/{p.partner_id}", headers=bearer(tokens))
    assert own.status_code == 200
    # An id_token is not an access token.
    refused = await stack.partners.get(
        "/api/v1/partners", headers={"Authorization": f"Bearer {tokens['id_token']}"}
    )
    assert refused.status_code == 401

    info = await stack.partners.get("/oauth/userinfo", headers=bearer(tokens))
    assert info.status_code == 200
    assert info.json()["email"] == address and info.json()["mid"] == access["mid"]
    anonymous = await stack.partners.get("/oauth/userinfo")
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"].startswith("Bearer")
    bad = await stack.partners.get("/oauth/userinfo", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401
    assert 'error="invalid_token"' in bad.headers["www-authenticate"]


async def test_api_401s_carry_the_rfc_6750_challenge(stack: Stack) -> None:
    """No token: a bare challenge; a bad one: error="invalid_token" (RFC 6750 section 3)."""
    none = await stack.partners.get("/api/v1/people")
    assert none.status_code == 401
    assert none.headers["www-authenticate"] == 'Bearer realm="trellis"'
    bad = await stack.partners.get("/api/v1/people", headers={"Authorization": "Bearer nope"})
    assert bad.headers["www-authenticate"] == 'Bearer realm="trellis", error="invalid_token"'


async def test_pkce_is_required_and_only_s256(stack: Stack) -> None:
    _, challenge = pkce()
    base = {
        "response_type": "code",
        "client_id": CONSOLE,
        "redirect_uri": CALLBACK,
        "state": "s1",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    async with browser(stack) as client:
        for change in ({"code_challenge_method": "plain"}, {"code_challenge": None}):
            params = {k: v for k, v in {**base, **change}.items() if v is not None}
            if change.get("code_challenge") is None and "code_challenge" in change:
                params.pop("code_challenge_method")
            response = await client.get("/oauth/authorize", params=params)
            assert response.status_code == 303
            query = parse_qs(urlsplit(response.headers["location"]).query)
            assert query["error"] == ["invalid_request"] and query["state"] == ["s1"]
        token_type = await client.get("/oauth/authorize", params={**base, "response_type": "token"})
        assert "unsupported_response_type" in token_type.headers["location"]
        # An unknown client or an unregistered redirect URI is never redirected to.
        for change in ({"client_id": "evil"}, {"redirect_uri": "https://evil.example/cb"}):
            response = await client.get("/oauth/authorize", params={**base, **change})
            assert response.status_code == 400
            assert "location" not in response.headers
            assert response.headers["content-type"].startswith("text/html")


async def test_the_verifier_must_match_and_a_code_works_once(stack: Stack) -> None:
    p = await pair(stack)
    address, _ = await staff_person(stack, p.funder_id)
    async with browser(stack) as client:
        code, verifier = await authorize(client, address)
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": CALLBACK,
            "client_id": CONSOLE,
        }
        missing = await client.post("/oauth/token", data=form)
        assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"
        wrong = await client.post("/oauth/token", data={**form, "code_verifier": pkce()[0]})
        assert wrong.json()["error"] == "invalid_grant"
        assert wrong.headers["content-type"] == "application/json"
        assert wrong.headers["cache-control"] == "no-store"
        good = await client.post("/oauth/token", data={**form, "code_verifier": verifier})
        assert good.status_code == 200
        replay = await client.post("/oauth/token", data={**form, "code_verifier": verifier})
        assert replay.json()["error"] == "invalid_grant"
    # The replay revoked what the code was exchanged for.
    refresh = await stack.partners.post(
        "/oauth/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": good.json()["refresh_token"],
            "client_id": CONSOLE,
        },
    )
    assert refresh.json()["error"] == "invalid_grant"


async def test_refresh_tokens_rotate_and_reuse_ends_the_family(stack: Stack) -> None:
    p = await pair(stack)
    _, first = await staff_person(stack, p.funder_id)

    async def use(refresh_token: str):
        return await stack.partners.post(
            "/oauth/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": refresh_token,
                "client_id": CONSOLE,
            },
        )

    second = await use(first["refresh_token"])
    assert second.status_code == 200, second.text
    second = second.json()
    assert second["refresh_token"] != first["refresh_token"]
    sid = _claims(stack, first["access_token"])["sid"]
    assert _claims(stack, second["access_token"])["sid"] == sid
    third = (await use(second["refresh_token"])).json()
    assert "access_token" in third

    # The first token comes back (a stolen copy): the whole family ends.
    stolen = await use(first["refresh_token"])
    assert stolen.status_code == 400 and stolen.json()["error"] == "invalid_grant"
    assert (await use(third["refresh_token"])).json()["error"] == "invalid_grant"
    rows = await sql(
        stack, select(SignInSession.revoked_reason).where(SignInSession.id == uuid.UUID(sid))
    )
    assert rows == [("refresh_token_reuse",)]
    # Another client cannot use the console's refresh token.
    _, other = await staff_person(stack, p.funder_id)
    foreign = await stack.partners.post(
        "/oauth/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": other["refresh_token"],
            "client_id": "someone-else",
        },
    )
    assert foreign.json()["error"] == "invalid_client"


async def test_a_person_with_two_memberships_chooses_one(stack: Stack) -> None:
    p = await pair(stack)
    address, _ = await staff_person(stack, p.funder_id)
    await add_contact(stack, p.partner_id, address)
    await invite(stack, p.staff, email=address, role="partner", partner_id=p.partner_id)
    assert (await accept(stack, address)).status_code == 200
    async with browser(stack) as client:
        _, challenge = pkce()
        page = await client.get(
            "/oauth/authorize",
            params={
                "response_type": "code",
                "client_id": CONSOLE,
                "redirect_uri": CALLBACK,
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            },
        )
        chooser = await client.post(
            "/oauth/authorize",
            data={**hidden_fields(page.text), "email": address, "password": PASSWORD},
        )
        assert chooser.status_code == 200
        assert p.partner["name"] in chooser.text and p.funder["name"] in chooser.text
        fields = hidden_fields(chooser.text)
        # A ticket does not let anyone pick a membership that is not the person's.
        foreign = await client.post(
            "/oauth/authorize/membership", data={**fields, "membership_id": str(uuid.uuid4())}
        )
        assert foreign.status_code == 200 and "Choose one of these" in foreign.text
        forged = await client.post(
            "/oauth/authorize/membership",
            data={**fields, "ticket": fields["ticket"][:-4] + "AAAA", "membership_id": "x"},
        )
        assert forged.status_code == 400
    tokens = await sign_in(stack, address, choose=await _partner_membership(stack, address))
    access = _claims(stack, tokens["access_token"])
    assert access["roles"] == ["partner"] and access["partner_id"] == p.partner_id
    assert "funder_id" not in access


async def _partner_membership(stack: Stack, address: str) -> str:
    [(mid,)] = await sql(
        stack,
        select(Membership.id)
        .join(Person, Person.id == Membership.person_id)
        .where(Person.email_key == address.lower(), Membership.role == "partner"),
    )
    return str(mid)


async def test_rp_initiated_logout_ends_the_sign_in(stack: Stack) -> None:
    p = await pair(stack)
    _, tokens = await staff_person(stack, p.funder_id)
    async with browser(stack) as client:
        response = await client.get(
            "/oauth/logout",
            params={
                "id_token_hint": tokens["id_token"],
                "post_logout_redirect_uri": "http://trellis.test/console/",
                "state": "bye",
            },
        )
        assert response.status_code == 303
        assert response.headers["location"] == "http://trellis.test/console/?state=bye"
        # An unregistered address is not redirected to.
        again = await client.get(
            "/oauth/logout",
            params={
                "id_token_hint": tokens["id_token"],
                "post_logout_redirect_uri": "https://evil.example/",
            },
        )
        assert again.status_code == 200 and "signed out" in again.text
    refreshed = await stack.partners.post(
        "/oauth/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "client_id": CONSOLE,
        },
    )
    assert refreshed.json()["error"] == "invalid_grant"
    sid = _claims(stack, tokens["access_token"])["sid"]
    rows = await sql(
        stack, select(SignInSession.revoked_reason).where(SignInSession.id == uuid.UUID(sid))
    )
    assert rows == [("logout",)]


async def test_token_endpoint_errors_follow_rfc_6749(stack: Stack) -> None:
    missing = await stack.partners.post("/oauth/token", data={})
    assert missing.status_code == 400
    assert missing.json() == {
        "error": "invalid_request",
        "error_description": missing.json()["error_description"],
    }
    assert missing.headers["content-type"] == "application/json"
    assert missing.headers["cache-control"] == "no-store"
    unknown = await stack.partners.post("/oauth/token", data={"grant_type": "password"})
    assert unknown.json()["error"] == "unsupported_grant_type"
    bad_client = await stack.partners.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=("nobody", "nothing")
    )
    assert bad_client.status_code == 401
    assert bad_client.json()["error"] == "invalid_client"
    assert bad_client.headers["www-authenticate"].startswith("Basic")


async def test_the_sign_in_form_needs_its_csrf_token_and_says_what_failed(stack: Stack) -> None:
    p = await pair(stack)
    address, _ = await staff_person(stack, p.funder_id)
    async with browser(stack) as client:
        _, challenge = pkce()
        page = await client.get(
            "/oauth/authorize",
            params={
                "response_type": "code",
                "client_id": CONSOLE,
                "redirect_uri": CALLBACK,
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            },
        )
        assert '<label for="password">' in page.text and "<script" not in page.text
        assert "http" not in page.text.split("<form")[0].replace("http-equiv", "")
        fields = hidden_fields(page.text)
        wrong = await client.post(
            "/oauth/authorize", data={**fields, "email": address, "password": "wrong password"}
        )
        assert wrong.status_code == 400 and 'role="alert"' in wrong.text
        client.cookies.clear()
        forged = await client.post(
            "/oauth/authorize", data={**fields, "email": address, "password": PASSWORD}
        )
        assert forged.status_code == 400
        assert "location" not in forged.headers
        assert forged.headers["content-type"].startswith("text/html")
        assert "reload the page" in forged.text


async def test_an_unknown_email_gets_the_same_answer_as_a_wrong_password(stack: Stack) -> None:
    async with browser(stack) as client:
        _, challenge = pkce()
        page = await client.get(
            "/oauth/authorize",
            params={
                "response_type": "code",
                "client_id": CONSOLE,
                "redirect_uri": CALLBACK,
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            },
        )
        answer = await client.post(
            "/oauth/authorize",
            data={**hidden_fields(page.text), "email": unique_email(), "password": PASSWORD},
        )
    assert answer.status_code == 400
    assert "The email or password is not right" in answer.text


async def test_other_oidc_clients_are_registered_by_configuration(
    backend: str, tmp_path: Path
) -> None:
    """A confidential client from TRELLIS_PARTNERS_OIDC_CLIENTS authenticates at the token endpoint."""
    portal = {
        "client_id": "partner-portal",
        "redirect_uris": ["https://portal.example.org/cb"],
        "client_secret": "portal-secret-value",
    }
    async with running_stack(
        backend, tmp_path, services=("partners",), oidc_clients=[portal]
    ) as stack:
        funder = await stack.new_funder()
        address, _ = await staff_person(stack, funder["id"])
        verifier, challenge = pkce()
        async with browser(stack) as client:
            page = await client.get(
                "/oauth/authorize",
                params={
                    "response_type": "code",
                    "client_id": "partner-portal",
                    "redirect_uri": "https://portal.example.org/cb",
                    "code_challenge": challenge,
                    "code_challenge_method": "S256",
                },
            )
            answer = await client.post(
                "/oauth/authorize",
                data={**hidden_fields(page.text), "email": address, "password": PASSWORD},
            )
            assert answer.headers["location"].startswith("https://portal.example.org/cb?code=")
            code = parse_qs(urlsplit(answer.headers["location"]).query)["code"][0]
            form = {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": "https://portal.example.org/cb",
                "code_verifier": verifier,
            }
            wrong = await client.post(
                "/oauth/token", data=form, auth=("partner-portal", "not-the-secret")
            )
            assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
            assert wrong.headers["www-authenticate"].startswith("Basic")
            public = await client.post("/oauth/token", data={**form, "client_id": "partner-portal"})
            assert public.json()["error"] == "invalid_client"  # it has a secret: it must send it
            good = await client.post(
                "/oauth/token", data=form, auth=("partner-portal", "portal-secret-value")
            )
        assert good.status_code == 200, good.text
        assert _claims(stack, good.json()["access_token"])["client_id"] == "partner-portal"
        # The console's redirect URI is not the portal's.
        async with browser(stack) as client:
            refused = await client.get(
                "/oauth/authorize",
                params={
                    "response_type": "code",
                    "client_id": "partner-portal",
                    "redirect_uri": CALLBACK,
                    "code_challenge": challenge,
                    "code_challenge_method": "S256",
                },
            )
        assert refused.status_code == 400
