"""Takeout: every row the caller can list through the API, as JSON Lines and CSV in one zip,
and nothing it cannot; a job whose status and download are resources of their own."""

import asyncio
import csv
import io
import json
import sys
import uuid
import zipfile
from typing import Any

import httpx

from services.gateway.takeout.catalogue import listings
from tests.funding.helpers import new_funder
from tests.gateway.served import Views, new_story
from tests.support import Stack

TAKEOUT = "/api/v1/exports/takeout"


async def _finished(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    response = await client.post(TAKEOUT, headers=headers)
    assert response.status_code == 202, response.text
    location = response.headers["location"]
    for _ in range(600):
        job = (await client.get(location, headers=headers)).json()
        if job["status"] != "running":
            return job
        await asyncio.sleep(0.05)
    raise AssertionError("the takeout did not finish")


async def _zip(
    client: httpx.AsyncClient, job: dict[str, Any], headers: dict[str, str]
) -> zipfile.ZipFile:
    assert job["status"] == "done", job
    response = await client.get(job["download_url"], headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    return zipfile.ZipFile(io.BytesIO(response.content))


async def _all_rows(
    client: httpx.AsyncClient, path: str, headers: dict[str, str]
) -> list[Any] | None:
    rows: list[Any] = []
    while True:
        response = await client.get(
            path, headers=headers, params={"range": f"[{len(rows)},{len(rows) + 99}]"}
        )
        if response.status_code in {403, 404}:
            return None
        assert response.status_code == 200, (path, response.text)
        page = response.json()
        rows += page
        if len(page) < 100:
            return rows


def _lines(archive: zipfile.ZipFile, name: str) -> list[Any]:
    return [json.loads(line) for line in archive.read(name).decode().splitlines()]


async def _same_as_the_api(views: Views, archive: zipfile.ZipFile, headers: dict[str, str]) -> int:
    """Each file holds exactly the rows the API lists to the same caller; how many rows."""
    document = (await views.gateway.get("/openapi.json")).json()
    compared = 0
    key = lambda row: json.dumps(row, sort_keys=True)  # noqa: E731
    for listing in listings(document):
        expected = await _all_rows(views.gateway, listing.path, headers)
        if expected is None:
            assert f"{listing.name}.jsonl" not in archive.namelist(), listing.name
            continue
        got = _lines(archive, f"{listing.name}.jsonl")
        assert sorted(map(key, got)) == sorted(map(key, expected)), listing.name
        compared += len(got)
        with archive.open(f"{listing.name}.csv") as raw:
            table = list(csv.reader(io.TextIOWrapper(raw, encoding="utf-8")))
        assert table[0] == list(listing.columns)
        assert len(table) - 1 == len(got)
        for child in listing.children:
            nested: list[Any] = []
            for row in expected:
                path = (
                    child.path[: child.path.index("{")]
                    + row["id"]
                    + child.path[child.path.index("}") + 1 :]
                )
                nested += await _all_rows(views.gateway, path, headers) or []
            got = _lines(archive, f"{child.name}.jsonl")
            assert sorted(map(key, got)) == sorted(map(key, nested)), child.name
            compared += len(got)
    return compared


async def test_a_funders_takeout_is_what_its_staff_can_list(stack: Stack, views: Views) -> None:
    story = await new_story(stack)
    other = await new_story(stack)
    staff = story.funder.staff
    job = await _finished(views.gateway, staff)
    archive = await _zip(views.gateway, job, staff)
    rows = await _same_as_the_api(views, archive, staff)
    assert rows > 10
    names = archive.namelist()
    assert {
        "README.md",
        "grants.jsonl",
        "grants.csv",
        "partners.jsonl",
        "relationships.jsonl",
    } <= set(names)
    assert job["files"]["grants.jsonl"] == 3
    readme = archive.read("README.md").decode()
    assert "| `grants` | 3 | `GET /api/v1/grants` |" in readme
    everything = b"".join(archive.read(n) for n in names)
    assert other.funder.partner["name"].encode() not in everything
    assert other.funder.id.encode() not in everything


async def test_a_partners_takeout_is_its_organisations_own(stack: Stack, views: Views) -> None:
    story = await new_story(stack)
    headers = story.funder.partner_headers
    job = await _finished(views.gateway, headers)
    archive = await _zip(views.gateway, job, headers)
    await _same_as_the_api(views, archive, headers)
    names = set(archive.namelist())
    assert "relationships.jsonl" not in names  # the funder's record, not the organisation's
    assert [u["id"] for u in _lines(archive, "updates.jsonl")] != []
    grants = _lines(archive, "grants.jsonl")
    assert all(g["status"] != "proposed" for g in grants)  # proposals are the funder's


async def test_only_its_owner_sees_or_downloads_a_takeout(stack: Stack, views: Views) -> None:
    story = await new_story(stack)
    job = await _finished(views.gateway, story.funder.staff)
    stranger = await new_funder(stack)
    colleague = stack.tokens.staff(story.funder.id, sub="someone-else@funder.test")
    for headers in (stranger.staff, story.funder.partner_headers, colleague):
        assert (
            await views.gateway.get(f"{TAKEOUT}/{job['id']}", headers=headers)
        ).status_code == 404
        download = await views.gateway.get(f"{TAKEOUT}/{job['id']}/download", headers=headers)
        assert download.status_code == 404
        assert (await views.gateway.get(TAKEOUT, headers=headers)).json() == []
    assert (
        await views.gateway.get(f"{TAKEOUT}/{uuid.uuid4()}", headers=story.funder.staff)
    ).status_code == 404
    assert (await views.gateway.post(TAKEOUT)).status_code == 401

    mine = await views.gateway.get(TAKEOUT, headers=story.funder.staff)
    assert [j["id"] for j in mine.json()] == [job["id"]]
    assert mine.headers["content-range"] == "takeouts 0-0/1"
    deleted = await views.gateway.delete(f"{TAKEOUT}/{job['id']}", headers=story.funder.staff)
    assert deleted.status_code == 200
    assert (
        await views.gateway.get(f"{TAKEOUT}/{job['id']}", headers=story.funder.staff)
    ).status_code == 404


async def test_csv_cells_a_spreadsheet_would_run_are_text(stack: Stack, views: Views) -> None:
    funder = await new_funder(stack, name='=HYPERLINK("http://evil.example","Click")')
    job = await _finished(views.gateway, funder.staff)
    archive = await _zip(views.gateway, job, funder.staff)
    with archive.open("partners.csv") as raw:
        rows = list(csv.DictReader(io.TextIOWrapper(raw, encoding="utf-8")))
    assert rows[0]["name"] == "'" + funder.partner["name"]
    assert _lines(archive, "partners.jsonl")[0]["name"] == funder.partner["name"]


async def test_no_takeout_starts_with_a_service_down(stack: Stack, views: Views) -> None:
    funder = await new_funder(stack)
    response = await views.without_funding.post(TAKEOUT, headers=funder.staff)
    assert response.status_code == 503
    assert "funding service is unavailable" in response.json()["detail"]
    assert (await views.without_funding.get(TAKEOUT, headers=funder.staff)).json() == []


async def test_a_takeout_running_in_another_gateway_worker_reads_as_running(
    stack: Stack, views: Views
) -> None:
    """``trellis serve gateway --workers N``: a job another live worker runs is not failed;
    once that process has gone, it is."""
    story = await new_story(stack)
    job = await _finished(views.gateway, story.funder.staff)
    data_dir = stack.apps["partners"].state.settings.data_dir
    [state] = list((data_dir / "takeouts").glob(f"{job['id']}.json"))
    other = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "import time; time.sleep(60)"
    )
    try:
        record = json.loads(state.read_text())
        record.update(status="running", boot=f"{other.pid}-{uuid.uuid4().hex}")
        state.write_text(json.dumps(record))
        seen = await views.gateway.get(f"{TAKEOUT}/{job['id']}", headers=story.funder.staff)
        assert seen.json()["status"] == "running"
    finally:
        other.kill()
        await other.wait()
    gone = await views.gateway.get(f"{TAKEOUT}/{job['id']}", headers=story.funder.staff)
    assert gone.json()["status"] == "failed"
    assert "restarted" in gone.json()["error"]
