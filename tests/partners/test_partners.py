"""The first slice: funders, partner organisations and relationships, through the API."""

import uuid

from tests.support import Stack


async def test_admin_creates_funder_and_staff_record_a_partner(stack: Stack) -> None:
    funder = await stack.new_funder()
    staff = stack.tokens.staff(funder["id"])
    response = await stack.partners.post(
        "/api/v1/partners",
        headers=staff,
        json={
            "name": "Hillside Youth Project",
            "org_id": "GB-CHC-1164883",
            "region": "North East",
            "website": "https://hillside.example.org",
            "status": "active",
            "steward": "Amina",
        },
    )
    assert response.status_code == 201, response.text
    partner = response.json()
    assert partner["relationship"]["status"] == "active"
    assert partner["relationship"]["funder_id"] == funder["id"]
    assert response.headers["location"] == f"/api/v1/partners/{partner['id']}"

    response = await stack.partners.get(f"/api/v1/partners/{partner['id']}", headers=staff)
    assert response.status_code == 200
    assert response.json()["name"] == "Hillside Youth Project"
    assert response.headers["etag"] == '"v1"'


async def test_org_id_is_checked_against_its_scheme(stack: Stack) -> None:
    funder = await stack.new_funder()
    response = await stack.partners.post(
        "/api/v1/partners",
        headers=stack.tokens.staff(funder["id"]),
        json={"name": "Acme", "org_id": "GB-COH-1234567"},
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert "8 character company number" in body["errors"]["org_id"][0]
    assert body["message"] == body["detail"]


async def test_funders_never_see_each_others_relationships(stack: Stack) -> None:
    x, y = await stack.new_funder(), await stack.new_funder()
    px = await stack.new_partner(x["id"])
    response = await stack.partners.get(
        f"/api/v1/partners/{px['id']}", headers=stack.tokens.staff(y["id"])
    )
    assert response.status_code == 404
    response = await stack.partners.get("/api/v1/partners", headers=stack.tokens.staff(y["id"]))
    assert response.json() == []
    assert response.headers["content-range"] == "partners */0"
    other = str(uuid.uuid4())
    response = await stack.partners.get(
        f"/api/v1/partners/{other}", headers=stack.tokens.staff(y["id"])
    )
    assert response.status_code == 404
