"""The react-admin list contract (ra-data-simple-rest), shown on the partners list."""

import json

import pytest

from tests.support import Stack, running_stack


@pytest.fixture(scope="module")
async def listed(stack: Stack) -> tuple[dict, dict, list[dict]]:
    funder = await stack.new_funder()
    staff = stack.tokens.staff(funder["id"])
    made = []
    for i in range(12):
        made.append(
            await stack.new_partner(
                funder["id"],
                name=f"Org {i:02d}",
                region="North" if i % 2 else "South",
                status="active" if i < 8 else "paused",
            )
        )
    return funder, staff, made


def q(**params: object) -> dict[str, str]:
    return {k: json.dumps(v) for k, v in params.items()}


async def test_range_sort_and_content_range(stack: Stack, listed) -> None:
    _, staff, _ = listed
    response = await stack.partners.get(
        "/api/v1/partners", headers=staff, params=q(sort=["name", "DESC"], range=[0, 4])
    )
    assert response.status_code == 200
    assert [p["name"] for p in response.json()] == [
        "Org 11",
        "Org 10",
        "Org 09",
        "Org 08",
        "Org 07",
    ]
    assert response.headers["content-range"] == "partners 0-4/12"
    response = await stack.partners.get(
        "/api/v1/partners", headers=staff, params=q(sort=["name", "ASC"], range=[10, 14])
    )
    assert [p["name"] for p in response.json()] == ["Org 10", "Org 11"]
    assert response.headers["content-range"] == "partners 10-11/12"


async def test_filters_and_many_ids(stack: Stack, listed) -> None:
    _, staff, made = listed
    response = await stack.partners.get(
        "/api/v1/partners", headers=staff, params=q(filter={"region": "North", "status": "paused"})
    )
    assert sorted(p["name"] for p in response.json()) == ["Org 09", "Org 11"]
    ids = [made[0]["id"], made[5]["id"]]
    response = await stack.partners.get(
        "/api/v1/partners", headers=staff, params=q(filter={"id": ids})
    )
    assert sorted(p["id"] for p in response.json()) == sorted(ids)
    assert response.headers["content-range"] == "partners 0-1/2"


async def test_page_size_is_capped(kit) -> None:
    _, client, tokens = kit
    for i in range(7):
        await client.post("/api/v1/notes", json={"text": f"n{i}"}, headers=tokens.admin())
    response = await client.get("/api/v1/notes", params=q(range=[0, 1000]), headers=tokens.admin())
    assert len(response.json()) == 5
    assert response.headers["content-range"] == "notes 0-4/7"


@pytest.mark.parametrize(
    ("params", "field", "words"),
    [
        ({"range": "[0"}, "range", "not valid JSON"),
        ({"range": "[5,1]"}, "range", "0 <= start <= end"),
        ({"range": '["a","b"]'}, "range", "whole numbers"),
        ({"sort": '["name"]'}, "sort", "JSON pair"),
        ({"sort": '["secret","ASC"]'}, "sort", "cannot be sorted by 'secret'"),
        ({"sort": '["name","UP"]'}, "sort", "ASC or DESC"),
        ({"filter": "[1,2]"}, "filter", "JSON object"),
        ({"filter": '{"colour":"red"}'}, "filter", "cannot be filtered by 'colour'"),
        ({"filter": '{"id":["not-a-uuid"]}'}, "filter", "UUID"),
        ({"filter": '{"status":"thriving"}'}, "filter", "'thriving' is not one of them"),
    ],
)
async def test_malformed_list_parameters_are_400(
    stack: Stack, listed, params, field, words
) -> None:
    _, staff, _ = listed
    response = await stack.partners.get("/api/v1/partners", headers=staff, params=params)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert words in body["message"]
    assert field in body["errors"]


async def test_cursor_continues_where_the_page_ended(stack: Stack, listed) -> None:
    _, staff, _ = listed
    seen: list[str] = []
    params = q(sort=["name", "ASC"], range=[0, 4])
    while True:
        response = await stack.partners.get("/api/v1/partners", headers=staff, params=params)
        seen += [p["name"] for p in response.json()]
        cursor = response.headers.get("x-next-cursor")
        if not cursor:
            break
        params = {**q(sort=["name", "ASC"], range=[0, 4]), "cursor": cursor}
    assert seen == [f"Org {i:02d}" for i in range(12)]
    response = await stack.partners.get(
        "/api/v1/partners",
        headers=staff,
        params={**q(sort=["name", "DESC"]), "cursor": cursor or "x"},
    )
    assert response.status_code == 400


async def test_the_services_page_size_cap_is_configurable(backend: str, tmp_path) -> None:
    async with running_stack(backend, tmp_path, services=("partners",), max_page_size=3) as small:
        funder = await small.new_funder()
        for _ in range(5):
            await small.new_partner(funder["id"])
        response = await small.partners.get(
            "/api/v1/partners", headers=small.tokens.staff(funder["id"]), params=q(range=[0, 99])
        )
        assert len(response.json()) == 3
        assert response.headers["content-range"] == "partners 0-2/5"
