"""Bringing partners in from a spreadsheet: a dry run names every row's fate and why; the
import is all-or-nothing and idempotent; a known organisation is linked, not revealed."""

from tests.partners.helpers import org_id
from tests.support import Stack


def _csv(*rows: str) -> bytes:
    return ("name,org_id,region,status\n" + "\n".join(rows) + "\n").encode()


async def _import(stack: Stack, staff: dict[str, str], body: bytes, *, dry_run: bool):  # type: ignore[no-untyped-def]
    return await stack.partners.post(
        "/api/v1/imports/partners",
        headers={**staff, "Content-Type": "text/csv"},
        params={"dry_run": str(dry_run).lower()},
        content=body,
    )


async def test_a_dry_run_names_each_row_and_changes_nothing(stack: Stack) -> None:
    funder = await stack.new_funder()
    staff = stack.tokens.staff(funder["id"])
    other = await stack.new_funder()
    known = await stack.new_partner(other["id"], org_id=org_id(), name="Known Elsewhere")
    body = _csv(
        f"Hillside Youth Project,{org_id()},North East,active",
        f"Known Elsewhere,{known['org_id']},,exploring",
        "No Number Group,,Wales,",
        "Bad Stage,,,thriving",
        "Bad Number,GB-CHC-12,,",
        "No Number Group,,,",
    )
    response = await _import(stack, staff, body, dry_run=True)
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["dry_run"] is True
    assert [(r["row"], r["action"]) for r in report["rows"]] == [
        (2, "create"),
        (3, "link"),
        (4, "create"),
        (5, "refuse"),
        (6, "refuse"),
        (7, "refuse"),
    ]
    reasons = {r["row"]: " ".join(r["reasons"]) for r in report["rows"]}
    assert "status" in reasons[5]
    assert "org_id" in reasons[6]
    assert "row 4" in reasons[7]
    assert report["counts"] == {"create": 2, "link": 1, "exists": 0, "refuse": 3}
    listed = await stack.partners.get("/api/v1/partners", headers=staff)
    assert listed.json() == []


async def test_the_import_is_all_or_nothing_and_idempotent(stack: Stack) -> None:
    funder = await stack.new_funder()
    staff = stack.tokens.staff(funder["id"])
    good = _csv(f"Hillside Youth Project,{org_id()},North East,active", "Riverside Group,,,ended")
    bad = good + b"Bad Stage,,,thriving\n"
    response = await _import(stack, staff, bad, dry_run=False)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert "row 4" in response.json()["errors"]
    assert (await stack.partners.get("/api/v1/partners", headers=staff)).json() == []

    first = await _import(stack, staff, good, dry_run=False)
    assert first.status_code == 200, first.text
    assert first.json()["counts"]["create"] == 2
    listed = (
        await stack.partners.get(
            "/api/v1/partners", headers=staff, params={"sort": '["name","ASC"]'}
        )
    ).json()
    assert [(p["name"], p["relationship"]["status"]) for p in listed] == [
        ("Hillside Youth Project", "active"),
        ("Riverside Group", "ended"),
    ]
    again = await _import(stack, staff, good, dry_run=False)
    assert again.json()["counts"] == {"create": 0, "link": 0, "exists": 2, "refuse": 0}
    assert len((await stack.partners.get("/api/v1/partners", headers=staff)).json()) == 2


async def test_a_bad_file_is_refused_with_words(stack: Stack) -> None:
    funder = await stack.new_funder()
    staff = stack.tokens.staff(funder["id"])
    response = await _import(stack, staff, b"title,colour\nx,red\n", dry_run=True)
    assert response.status_code == 400
    assert "unknown columns title, colour" in response.json()["detail"]
    response = await _import(stack, staff, b"\xff\xfe\x00", dry_run=True)
    assert response.status_code == 400
    partner = await stack.new_partner(funder["id"])
    as_partner = stack.tokens.partner(partner["id"])
    assert (await _import(stack, as_partner, _csv("X,,,"), dry_run=True)).status_code == 403
