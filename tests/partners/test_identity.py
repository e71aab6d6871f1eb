"""The embedded issuer: discovery, JWKS, and the client-credentials grant for partner systems."""

from tests.partners.helpers import org_id
from tests.support import ISSUER, Stack, Tokens


async def register(stack: Stack) -> tuple[dict, dict, dict]:
    funder = await stack.new_funder()
    partner = await stack.new_partner(funder["id"], name="Hillside Youth Project")
    response = await stack.partners.post(
        f"/api/v1/partners/{partner['id']}/clients",
        headers=stack.tokens.partner(partner["id"]),
        json={"name": "Hillside CRM"},
    )
    assert response.status_code == 201, response.text
    return funder, partner, response.json()


async def test_discovery_and_jwks(stack: Stack) -> None:
    doc = (await stack.partners.get("/.well-known/openid-configuration")).json()
    assert doc["issuer"] == ISSUER
    assert doc["token_endpoint"] == f"{ISSUER}/oauth/token"
    assert "client_credentials" in doc["grant_types_supported"]
    jwks = (await stack.partners.get("/.well-known/jwks.json")).json()
    assert jwks["keys"] and all("d" not in key for key in jwks["keys"])  # never the private part


async def test_a_partner_system_gets_a_token_and_uses_it(stack: Stack) -> None:
    funder, partner, client = await register(stack)
    assert client["client_secret"]
    listed = await stack.partners.get(
        f"/api/v1/partners/{partner['id']}/clients", headers=stack.tokens.partner(partner["id"])
    )
    assert "client_secret" not in listed.json()[0]

    response = await stack.partners.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(client["client_id"], client["client_secret"]),
    )
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    token = response.json()
    assert token["token_type"] == "Bearer" and token["expires_in"] > 0
    headers = Tokens.headers(token["access_token"])

    own = await stack.partners.get(f"/api/v1/partners/{partner['id']}", headers=headers)
    assert own.status_code == 200
    assert own.json()["relationship"] is None  # the funder's own notes are not the partner's

    changed = await stack.partners.put(
        f"/api/v1/partners/{partner['id']}",
        headers=headers,
        json={"description": "In our own words", "region": "Wales"},
    )
    assert changed.status_code == 200
    assert changed.json()["description"] == "In our own words"

    # The organisation's identifiers are its own too; one another record has is refused.
    other = await stack.new_partner(funder["id"], org_id=org_id())
    refused = await stack.partners.put(
        f"/api/v1/partners/{partner['id']}", headers=headers, json={"org_id": other["org_id"]}
    )
    assert refused.status_code == 409
    assert other["org_id"] in refused.json()["message"]

    # Form-body client authentication works too.
    form = await stack.partners.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": client["client_id"],
            "client_secret": client["client_secret"],
        },
    )
    assert form.status_code == 200


async def test_wrong_secret_and_revoked_clients_are_refused(stack: Stack) -> None:
    _, partner, client = await register(stack)
    wrong = await stack.partners.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(client["client_id"], "guess"),
    )
    assert wrong.status_code == 401
    assert wrong.json()["error"] == "invalid_client"
    assert wrong.headers["content-type"] == "application/json"  # RFC 6749 5.2, not a problem

    revoked = await stack.partners.delete(
        f"/api/v1/partners/{partner['id']}/clients/{client['id']}",
        headers=stack.tokens.partner(partner["id"]),
    )
    assert revoked.json()["revoked_at"] is not None
    after = await stack.partners.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(client["client_id"], client["client_secret"]),
    )
    assert after.status_code == 401


async def test_only_client_credentials_is_supported(stack: Stack) -> None:
    response = await stack.partners.post("/oauth/token", data={"grant_type": "password"})
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


async def test_another_partner_cannot_register_clients_for_you(stack: Stack) -> None:
    funder, partner, _ = await register(stack)
    other = await stack.new_partner(funder["id"])
    response = await stack.partners.post(
        f"/api/v1/partners/{partner['id']}/clients",
        headers=stack.tokens.partner(other["id"]),
        json={"name": "Intruder"},
    )
    assert response.status_code == 404


async def test_every_service_verifies_tokens_itself(stack: Stack) -> None:
    """A request that reaches a service without the gateway is still checked."""
    _, _, client = await register(stack)
    token = (
        await stack.partners.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(client["client_id"], client["client_secret"]),
        )
    ).json()["access_token"]
    forged = token[:-6] + ("AAAAAA" if not token.endswith("AAAAAA") else "BBBBBB")
    for name, client_ in stack.clients.items():
        response = await client_.post("/internal/events", headers=Tokens.headers(forged), json={})
        assert response.status_code == 401, name
        response = await client_.post("/internal/events", headers=Tokens.headers(token), json={})
        assert response.status_code == 403, name  # a partner is not a service
