"""Bringing a funder's history in: its grants from a 360Giving file, JSON or CSV. The file
Trellis exports, imported into an empty funder elsewhere, gives the same grants."""

import json
from pathlib import Path
from typing import Any

import pytest

from tests.funding.helpers import Funder, new_funder
from tests.partners.helpers import org_id
from tests.support import Stack, running_stack

IMPORT = "/api/v1/imports/360giving"


async def _import(stack: Stack, staff: dict[str, str], body: bytes, kind: str, *, dry_run: bool):  # type: ignore[no-untyped-def]
    return await stack.funding.post(
        IMPORT,
        headers={**staff, "Content-Type": kind},
        params={"dry_run": str(dry_run).lower()},
        content=body,
    )


async def _history(stack: Stack) -> Funder:
    f = await new_funder(stack, org_id=org_id(), name="Hillside Youth Project")
    await f.awarded(
        amount_awarded=10000001,
        reference="OLD-1",
        planned_start_date="2019-04-01",
        planned_end_date="2022-03-31",
    )
    await f.awarded(
        amount_awarded=9000000,
        reference="NOW-1",
        planned_start_date="2030-04-01",
        planned_end_date="2033-03-31",
    )
    return f


def _comparable(package: dict[str, Any]) -> list[dict[str, Any]]:
    return sorted(
        ({k: v for k, v in grant.items() if k != "dateModified"} for grant in package["grants"]),
        key=lambda g: g["id"],
    )


@pytest.mark.parametrize("kind", ["application/json", "text/csv"])
async def test_an_export_imported_into_an_empty_funder_gives_the_same_grants(
    stack: Stack, backend: str, tmp_path: Path, kind: str
) -> None:
    source = await _history(stack)
    fmt = {"format": "csv"} if kind == "text/csv" else {}
    exported = await stack.funding.get(
        "/api/v1/exports/360giving", headers=source.staff, params=fmt
    )
    assert exported.status_code == 200, exported.text
    original = (await stack.funding.get("/api/v1/exports/360giving", headers=source.staff)).json()

    async with running_stack(backend, tmp_path / "elsewhere") as elsewhere:
        response = await elsewhere.partners.post(
            "/api/v1/funders",
            headers=elsewhere.tokens.admin(),
            json={
                "name": source.funder["name"],
                "slug": source.funder["slug"],
                "prefix_360giving": source.funder["prefix_360giving"],
                "org_id": source.funder["org_id"],
            },
        )
        assert response.status_code == 201, response.text
        staff = elsewhere.tokens.staff(response.json()["id"])

        dry = await _import(elsewhere, staff, exported.content, kind, dry_run=True)
        assert dry.status_code == 200, dry.text
        assert [(g["action"], g["partner_action"]) for g in dry.json()["grants"]] == [
            ("create", "create")
        ] * 2
        assert (await elsewhere.funding.get("/api/v1/grants", headers=staff)).json() == []

        done = await _import(elsewhere, staff, exported.content, kind, dry_run=False)
        assert done.status_code == 200, done.text
        assert done.json()["counts"] == {"create": 2, "exists": 0, "refuse": 0}
        again = await _import(elsewhere, staff, exported.content, kind, dry_run=False)
        assert again.json()["counts"] == {"create": 0, "exists": 2, "refuse": 0}

        grants = (
            await elsewhere.funding.get(
                "/api/v1/grants", headers=staff, params={"sort": '["awarded_on","ASC"]'}
            )
        ).json()
        assert {g["status"] for g in grants} == {"completed", "active"}
        partners = (await elsewhere.partners.get("/api/v1/partners", headers=staff)).json()
        assert [p["org_id"] for p in partners] == [source.partner["org_id"]]

        roundtrip = (await elsewhere.funding.get("/api/v1/exports/360giving", headers=staff)).json()
        assert _comparable(roundtrip) == _comparable(original)


async def test_a_dry_run_names_each_bad_grant(stack: Stack) -> None:
    f = await _history(stack)
    package = (await stack.funding.get("/api/v1/exports/360giving", headers=f.staff)).json()
    good = package["grants"][0]
    bad = [
        {**good, "id": f"{f.funder['prefix_360giving']}-NEW-1", "amountAwarded": "12.345"},
        {**good, "id": "360G-someoneelse-X1"},
        {**good, "id": f"{f.funder['prefix_360giving']}-NEW-2", "currency": "pounds"},
        {
            **good,
            "id": f"{f.funder['prefix_360giving']}-NEW-3",
            "plannedDates": [{"startDate": "2030-01-01", "endDate": "2029-01-01"}],
        },
        {
            **good,
            "id": f"{f.funder['prefix_360giving']}-NEW-4",
            "recipientOrganization": [{"id": "GB-CHC-12", "name": "Odd"}],
        },
    ]
    body = json.dumps({"grants": [good, *bad]}).encode()
    response = await _import(stack, f.staff, body, "application/json", dry_run=True)
    assert response.status_code == 200, response.text
    lines = response.json()["grants"]
    assert [(g["row"], g["action"]) for g in lines] == [(1, "exists")] + [
        (n, "refuse") for n in range(2, 7)
    ]
    reasons = {g["row"]: " ".join(g["reasons"]) for g in lines}
    assert "more decimal places" in reasons[2]
    assert "not under your funder's 360Giving prefix" in reasons[3]
    assert "ISO 4217" in reasons[4]
    assert "before its Start Date" in reasons[5]
    assert reasons[6].startswith("its recipient:")

    response = await _import(stack, f.staff, body, "application/json", dry_run=False)
    assert response.status_code == 422
    assert set(response.json()["errors"]) == {f"row {n}" for n in range(2, 7)}


async def test_a_file_that_is_not_360giving_is_refused(stack: Stack) -> None:
    f = await new_funder(stack)
    assert (
        await _import(stack, f.staff, b"{not json", "application/json", dry_run=True)
    ).status_code == 400
    assert (
        await _import(stack, f.staff, b"a,b\n1,2\n", "text/csv", dry_run=True)
    ).status_code == 400
    assert (await _import(stack, f.staff, b"x", "text/plain", dry_run=True)).status_code == 400
    assert (
        await _import(stack, f.partner_headers, b"{}", "application/json", dry_run=True)
    ).status_code == 403
