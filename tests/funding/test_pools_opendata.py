"""Pooled grants as 360Giving open data: every member funder a funding organisation, the pool
as grant programme, each member's own export showing its share; valid against the schema."""

import csv
import io

import pytest

from tests.funding.pool_helpers import new_pool
from tests.funding.test_opendata import Validator
from tests.support import Stack


@pytest.fixture(scope="module")
def validator() -> Validator:
    return Validator()


async def test_pooled_grants_in_every_members_export(stack: Stack, validator: Validator) -> None:
    pool = await new_pool(stack, members=3)
    host, proposer, third = pool.members
    for member, amount in zip(pool.members, (100000, 100000, 100001), strict=True):
        await pool.contribute(member, amount)
    own = await host.awarded(amount_awarded=5000000)
    proposal = await pool.propose(proposer, 100000)
    for member in pool.members[:2]:
        decided = await pool.vote(member, proposal, "approve")
    grant_id = decided.json()["grant_id"]
    grant = (await stack.funding.get(f"/api/v1/grants/{grant_id}", headers=host.staff)).json()
    names = [host.funder["name"], third.funder["name"], proposer.funder["name"]]
    shares = {host.id: 33333, proposer.id: 33333, third.id: 33334}

    for member in pool.members:
        response = await stack.funding.get("/api/v1/exports/360giving", headers=member.staff)
        assert response.status_code == 200, response.text
        package = response.json()
        errors = sorted(validator.iter_errors(package), key=str)
        assert not errors, [e.message for e in errors]
        pooled = next(g for g in package["grants"] if g["id"] == grant["grant_360_id"])
        assert pooled["amountAwarded"] == 1000.0
        # Host first, then by share (the larger first), then by id.
        assert [o["name"] for o in pooled["fundingOrganization"]] == names
        assert pooled["grantProgramme"] == [{"code": pool.id, "title": pool.pool["name"]}]
        assert pooled["publisherShareOfAmountAwarded"] == shares[member.id] / 100
        # The recipient is the proposer's partner, named whoever publishes.
        assert pooled["recipientOrganization"][0]["name"] == proposer.partner["name"]
        ids = [g["id"] for g in package["grants"]]
        assert (own["grant_360_id"] in ids) == (member is host)
        if member is host:
            plain = next(g for g in package["grants"] if g["id"] == own["grant_360_id"])
            assert "publisherShareOfAmountAwarded" not in plain
            assert "grantProgramme" not in plain

    response = await stack.funding.get("/api/v1/exports/360giving.csv", headers=third.staff)
    assert response.status_code == 200
    reader = csv.DictReader(io.StringIO(response.text))
    assert reader.fieldnames is not None
    for i in range(3):
        assert f"Funding Org:{i}:Identifier" in reader.fieldnames
        assert f"Funding Org:{i}:Name" in reader.fieldnames
    assert "Funding Org:Name" not in reader.fieldnames
    (row,) = list(reader)
    assert row["Identifier"] == grant["grant_360_id"]
    assert row["Amount Awarded"] == "1000.00"
    assert [row[f"Funding Org:{i}:Name"] for i in range(3)] == names
    assert row["Grant Programme:Title"] == pool.pool["name"]
    assert row["Publisher Share Of Amount Awarded"] == "333.34"
    # The host's CSV: its own grant leaves the other funding organisation columns empty.
    response = await stack.funding.get("/api/v1/exports/360giving.csv", headers=host.staff)
    rows = {r["Identifier"]: r for r in csv.DictReader(io.StringIO(response.text))}
    assert rows[own["grant_360_id"]]["Funding Org:0:Name"] == host.funder["name"]
    assert rows[own["grant_360_id"]]["Funding Org:1:Name"] == ""
    assert rows[own["grant_360_id"]]["Publisher Share Of Amount Awarded"] == ""
    assert rows[grant["grant_360_id"]]["Publisher Share Of Amount Awarded"] == "333.33"
