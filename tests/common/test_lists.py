"""The react-admin list contract (ra-data-simple-rest), shown on the partners list."""

import base64
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


async def test_id_is_sortable_with_react_admins_defaults(stack: Stack, listed) -> None:
    _, staff, made = listed
    ids = sorted(p["id"] for p in made)
    seen: list[str] = []
    for start in range(0, 12, 5):
        response = await stack.partners.get(
            "/api/v1/partners",
            headers=staff,
            params=q(sort=["id", "ASC"], range=[start, start + 4]),
        )
        assert response.status_code == 200, response.text
        seen += [p["id"] for p in response.json()]
    assert seen == ids
    response = await stack.partners.get(
        "/api/v1/partners", headers=staff, params=q(sort=["id", "DESC"], range=[0, 2])
    )
    assert [p["id"] for p in response.json()] == ids[::-1][:3]


async def test_a_cursor_page_says_where_it_sits(stack: Stack, listed) -> None:
    _, staff, _ = listed
    first = await stack.partners.get(
        "/api/v1/partners", headers=staff, params=q(sort=["name", "ASC"], range=[0, 4])
    )
    second = await stack.partners.get(
        "/api/v1/partners",
        headers=staff,
        params={**q(sort=["name", "ASC"], range=[0, 4]), "cursor": first.headers["x-next-cursor"]},
    )
    assert [p["name"] for p in second.json()] == [f"Org {i:02d}" for i in range(5, 10)]
    assert second.headers["content-range"] == "partners 5-9/12"
    # By id too (react-admin's default sort), with the cursor the page gave.
    by_id = await stack.partners.get(
        "/api/v1/partners", headers=staff, params=q(sort=["id", "ASC"], range=[0, 4])
    )
    after = await stack.partners.get(
        "/api/v1/partners",
        headers=staff,
        params={**q(sort=["id", "ASC"], range=[0, 4]), "cursor": by_id.headers["x-next-cursor"]},
    )
    assert after.headers["content-range"] == "partners 5-9/12"
    assert min(p["id"] for p in after.json()) > max(p["id"] for p in by_id.json())


def _cursor(*parts: object) -> str:
    raw = json.dumps(list(parts)).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "%%%",
        "bm90IGpzb24",  # "not json"
        _cursor({"a": 1}),
        _cursor("name", False, "Org 03"),
        _cursor("name", False, 12, "7f0c2a3e-1111-4c44-9a9a-000000000000", 5),
        _cursor("name", False, ["x"], "7f0c2a3e-1111-4c44-9a9a-000000000000", 5),
        _cursor("name", False, "Org 03", "not-a-uuid", 5),
        _cursor("name", False, "Org 03", 42, 5),
        _cursor("name", False, "Org 03", "7f0c2a3e-1111-4c44-9a9a-000000000000", -1),
        _cursor("name", False, "Org 03", "7f0c2a3e-1111-4c44-9a9a-000000000000", 2**63),
        _cursor("name", "no", "Org 03", "7f0c2a3e-1111-4c44-9a9a-000000000000", 5),
        _cursor("created_at", False, "yesterday", "7f0c2a3e-1111-4c44-9a9a-000000000000", 5),
        _cursor(
            "created_at", False, "2020-01-01T00:00:00", "7f0c2a3e-1111-4c44-9a9a-000000000000", 5
        ),
        _cursor("created_at", False, 3, "7f0c2a3e-1111-4c44-9a9a-000000000000", 5),
        _cursor("name", False, "Org\u0000", "7f0c2a3e-1111-4c44-9a9a-000000000000", 5),
        "A" * 5000,
    ],
)
async def test_forged_cursors_are_400(stack: Stack, listed, cursor: str) -> None:
    _, staff, _ = listed
    sort = "created_at" if "created_at" in base64_text(cursor) else "name"
    response = await stack.partners.get(
        "/api/v1/partners",
        headers=staff,
        params={**q(sort=[sort, "ASC"]), "cursor": cursor},
    )
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert "cursor" in response.json()["errors"]


def base64_text(raw: str) -> str:
    try:
        return base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode()
    except ValueError:
        return ""


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"range": f"[{2**63},{2**63 + 5}]"}, "range"),
        ({"range": f"[{2**53},{2**53 + 5}]"}, "range"),
        ({"range": f"[0,{2**64}]"}, "range"),
        ({"filter": json.dumps({"q": 2**63})}, "filter"),
        ({"filter": json.dumps({"q": [1, 2**63]})}, "filter"),
        ({"filter": json.dumps({"q": 2**64})}, "filter"),
        ({"filter": json.dumps({"q": "a\u0000b"})}, "filter"),
        ({"filter": json.dumps({"region": ["North", "\u0000"]})}, "filter"),
    ],
)
async def test_numbers_out_of_range_are_400(stack: Stack, listed, params, field) -> None:
    _, staff, _ = listed
    response = await stack.partners.get("/api/v1/partners", headers=staff, params=params)
    assert response.status_code == 400, response.text
    assert field in response.json()["errors"]


async def test_a_huge_range_end_is_capped_not_refused(stack: Stack, listed) -> None:
    _, staff, _ = listed
    response = await stack.partners.get(
        "/api/v1/partners", headers=staff, params=q(range=[10, 2**62])
    )
    assert response.status_code == 200
    assert response.headers["content-range"] == "partners 10-11/12"


async def test_a_partner_filtering_by_a_funders_field_is_refused(stack: Stack, listed) -> None:
    _, _, made = listed
    own = stack.tokens.partner(made[0]["id"])
    response = await stack.partners.get(
        "/api/v1/partners", headers=own, params=q(filter={"status": "active"})
    )
    assert response.status_code == 400, response.text
    assert "status" in response.json()["message"]
    response = await stack.partners.get(
        "/api/v1/partners", headers=own, params=q(filter={"region": made[0]["region"]})
    )
    assert [p["id"] for p in response.json()] == [made[0]["id"]]
    response = await stack.partners.get(
        "/api/v1/partners", headers=own, params=q(filter={"region": "nowhere"})
    )
    assert response.json() == []
    assert response.headers["content-range"] == "partners */0"


async def test_a_cursor_value_beyond_its_columns_size_is_400(stack: Stack) -> None:
    """The pool ledger sorts by ``sequence`` (a 32-bit integer): 2^40 would be a 500 on
    PostgreSQL if it reached the database."""
    funder = await stack.new_funder()
    staff = stack.tokens.staff(funder["id"])
    pool = await stack.funding.post(
        "/api/v1/pools",
        headers=staff,
        json={"name": "Fund", "purpose": "Listen.", "decision_rule": "majority"},
    )
    assert pool.status_code == 201, pool.text
    for value in (2**40, 2**31):
        cursor = _cursor("sequence", False, value, "7f0c2a3e-1111-4c44-9a9a-000000000000", 25)
        response = await stack.funding.get(
            f"/api/v1/pools/{pool.json()['id']}/ledger",
            headers=staff,
            params={**q(sort=["sequence", "ASC"]), "cursor": cursor},
        )
        assert response.status_code == 400, response.text
    cursor = _cursor("sequence", False, 2**31 - 1, "7f0c2a3e-1111-4c44-9a9a-000000000000", 25)
    response = await stack.funding.get(
        f"/api/v1/pools/{pool.json()['id']}/ledger",
        headers=staff,
        params={**q(sort=["sequence", "ASC"]), "cursor": cursor},
    )
    assert response.status_code == 200, response.text
    assert response.json() == []
    assert response.headers["content-range"].endswith("*/0")


async def test_a_cursor_walks_a_money_sort(stack: Stack) -> None:
    """Amounts are a custom column type (Money); a cursor over them continues exactly."""
    funder = await stack.new_funder()
    staff = stack.tokens.staff(funder["id"])
    partner = await stack.new_partner(funder["id"])
    for amount in (500, 300, 300, 100, 900):
        response = await stack.funding.post(
            "/api/v1/grants",
            headers=staff,
            json={
                "partner_id": partner["id"],
                "title": "Core funding",
                "description": "Unrestricted.",
                "amount_awarded": amount,
                "planned_start_date": "2030-04-01",
                "planned_end_date": "2033-03-31",
            },
        )
        assert response.status_code == 201, response.text
    seen: list[int] = []
    params = q(sort=["amount_awarded", "ASC"], range=[0, 1])
    ranges = []
    while True:
        response = await stack.funding.get("/api/v1/grants", headers=staff, params=params)
        assert response.status_code == 200, response.text
        seen += [g["amount_awarded"] for g in response.json()]
        ranges.append(response.headers["content-range"])
        cursor = response.headers.get("x-next-cursor")
        if not cursor:
            break
        params = {**q(sort=["amount_awarded", "ASC"], range=[0, 1]), "cursor": cursor}
    assert seen == [100, 300, 300, 500, 900]
    assert ranges == ["grants 0-1/5", "grants 2-3/5", "grants 4-4/5"]
