"""Every resource reaches the service that owns it; anything else is a 404 problem."""

import httpx
import pytest

from services.gateway import routing
from tests.gateway.conftest import EchoStack

# The contract every service was built against (the brief's table), spelled out.
EXPECTED = {
    "partners": [
        "funders",
        "partners",
        "relationships",
        "interactions",
        "documents",
        "contacts",
        "updates",
        "imports/partners",
        "people",
        "memberships",
        "invitations",
        "password-resets",
        "search",
        "tags",
        "learning-notes",
        "gatherings",
        "webhooks",
        "notification-preferences",
    ],
    "funding": [
        "grants",
        "instalments",
        "payments",
        "variations",
        "grant-requests",
        "exports",
        "pools",
        "funder-settings",
        "finance-settings",
        "budgets",
        "forecast",
        "forecast.csv",
        "payment-runs",
        "trustee-papers",
        "trustee-papers.csv",
        "public/funding",
        "imports/360giving",
    ],
    "feedback": [
        "commitments",
        "rounds",
        "responses",
        "results",
        "actions",
        "threads",
        "measures",
        "scorecards",
        "public/feedback",
    ],
}
CASES = [(resource, service) for service, names in EXPECTED.items() for resource in names]


@pytest.mark.parametrize(("resource", "service"), CASES)
async def test_each_resource_goes_to_its_service(
    echo_stack: EchoStack, resource: str, service: str
) -> None:
    async with httpx.AsyncClient(base_url=echo_stack.url) as client:
        response = await client.get(f"/api/v1/{resource}/some-id/sub?sort=%5B%22a%22%5D&x=1")
        assert response.status_code == 200, response.text
        seen = response.json()
        assert seen["service"] == service
        assert seen["path"] == f"/api/v1/{resource}/some-id/sub"
        assert seen["query"] == "sort=%5B%22a%22%5D&x=1"

        response = await client.get(f"/api/v1/{resource}")
        assert response.json()["service"] == service


@pytest.mark.parametrize(
    "path",
    [
        "/oauth/token",
        "/oauth/authorize",
        "/oauth/userinfo",
        "/oauth/logout",
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
        "/.well-known/jwks.json",
        "/account/invitation",
        "/account/password-reset",
        "/account/notifications/unsubscribe",
    ],
)
async def test_identity_endpoints_go_to_partners(echo_stack: EchoStack, path: str) -> None:
    async with httpx.AsyncClient(base_url=echo_stack.url) as client:
        response = await client.get(path)
    assert response.json()["service"] == "partners"


def test_the_table_is_the_agreed_one() -> None:
    assert {r: s for r, s in CASES} == routing.RESOURCES
    assert routing.service_for("/api/v1/public/funding/acme/grants") == "funding"
    assert routing.service_for("/api/v1/public") is None
    assert routing.service_for("/api/v1/public/other") is None
    assert routing.service_for("/api/v1/") is None
    assert routing.service_for("/api/v1/imports") is None
    for view in ("/api/v1/overview", "/api/v1/audit", "/api/v1/partners/x/overview"):
        assert routing.service_for(view) == "gateway"
    assert routing.service_for("/api/v1/exports/takeout/x/download") == "gateway"
    assert routing.service_for("/api/v1/exports/360giving") == "funding"
    assert routing.service_for("/internal/funders/x") is None


@pytest.mark.parametrize(
    "path", ["/api/v1/grantees", "/api/v1/public/other", "/api/v1/", "/api/v1/internal"]
)
async def test_unknown_resource_is_a_404_problem(echo_stack: EchoStack, path: str) -> None:
    async with httpx.AsyncClient(base_url=echo_stack.url) as client:
        response = await client.get(path)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == 404
    assert "/docs" in body["detail"]
    assert body["message"] == body["detail"]


async def test_internal_endpoints_are_not_reachable_through_the_gateway(
    echo_stack: EchoStack,
) -> None:
    async with httpx.AsyncClient(base_url=echo_stack.url) as client:
        response = await client.get("/internal/funders/x")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


async def test_encoded_paths_and_methods_pass_unchanged(echo_stack: EchoStack) -> None:
    async with httpx.AsyncClient(base_url=echo_stack.url) as client:
        response = await client.request("DELETE", "/api/v1/documents/a%2Fb%20c?q=%C3%A9")
        seen = response.json()
        assert seen["method"] == "DELETE"
        assert seen["raw_path"] == "/api/v1/documents/a%2Fb%20c"
        assert seen["query"] == "q=%C3%A9"

        response = await client.put("/api/v1/grants/1", json={"title": "Core"})
        seen = response.json()
        assert seen["method"] == "PUT"
        assert seen["body_length"] == len(b'{"title":"Core"}')

        response = await client.get("/api/v1/grants/1?status=404")
        assert response.status_code == 404
