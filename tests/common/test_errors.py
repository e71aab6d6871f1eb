"""Every error is an RFC 9457 problem with a message that says what to fix."""

import orjson

from services.common.errors import Unprocessable
from tests.support import Stack

PROBLEM = "application/problem+json"


def assert_problem(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    for member in ("type", "title", "status", "detail", "instance", "message"):
        assert member in body, member
    assert body["status"] == status
    assert body["message"] == body["detail"]
    return body


async def test_unknown_path_is_a_404_problem(stack: Stack) -> None:
    body = assert_problem(await stack.partners.get("/api/v1/nothing-here"), 404)
    assert body["instance"] == "/api/v1/nothing-here"


async def test_wrong_method_is_a_405_problem(stack: Stack) -> None:
    funder = await stack.new_funder()
    response = await stack.partners.patch(
        "/api/v1/partners", headers=stack.tokens.staff(funder["id"])
    )
    assert_problem(response, 405)


async def test_validation_errors_are_keyed_by_field(stack: Stack) -> None:
    funder = await stack.new_funder()
    response = await stack.partners.post(
        "/api/v1/partners",
        headers=stack.tokens.staff(funder["id"]),
        json={"website": "ftp://nowhere", "status": "thriving"},
    )
    body = assert_problem(response, 422)
    assert set(body["errors"]) == {"name", "website", "status"}
    assert body["errors"]["name"] == ["is required"]
    assert "name" in body["detail"]


async def test_unknown_fields_are_refused_by_name(stack: Stack) -> None:
    funder = await stack.new_funder()
    response = await stack.partners.post(
        "/api/v1/partners",
        headers=stack.tokens.staff(funder["id"]),
        json={"name": "Acme", "favourite_colour": "blue"},
    )
    body = assert_problem(response, 422)
    assert "favourite_colour" in body["errors"]
    assert "favourite_colour" in body["message"]


async def test_malformed_json_says_so(stack: Stack) -> None:
    funder = await stack.new_funder()
    response = await stack.partners.post(
        "/api/v1/partners",
        content=b"{not json",
        headers={**stack.tokens.staff(funder["id"]), "content-type": "application/json"},
    )
    body = assert_problem(response, 422)
    assert "not valid JSON" in body["message"]


async def test_unexpected_errors_leak_nothing(kit) -> None:
    _, client, tokens = kit
    response = await client.post("/api/v1/notes", json={"text": "fail"}, headers=tokens.admin())
    body = assert_problem(response, 500)
    assert "SELECT" not in response.text
    assert "Traceback" not in response.text
    assert body["title"] == "Internal Server Error"


def test_a_problem_with_a_figure_beyond_64_bits_still_renders() -> None:
    response = Unprocessable("Off by a lot.", extra={"off_by": 2**70, "parts": [-(2**65), 3]})
    body = orjson.loads(response.to_response("/x").body)
    assert body["off_by"] == str(2**70) and body["parts"] == [str(-(2**65)), 3]
