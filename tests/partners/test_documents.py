"""Documents the partner already has: links only, http(s) only, never fetched, no forms."""

import uuid

import respx

from tests.partners.helpers import org_id, pair, second_funder_of
from tests.support import Stack

REPORT = {
    "title": "Annual report 2024",
    "kind": "annual_report",
    "year": 2024,
    "url": "https://hillside.example.org/annual-report-2024.pdf",
}


async def test_a_partner_links_its_own_document_which_its_funders_see(stack: Stack) -> None:
    p = await pair(stack, org_id=org_id())
    y = await second_funder_of(stack, p)
    with respx.mock(assert_all_called=False) as outside:
        response = await stack.partners.post("/api/v1/documents", headers=p.as_partner, json=REPORT)
    assert response.status_code == 201, response.text
    assert not outside.calls, "the server must never fetch a document's URL"
    document = response.json()
    assert document["partner_id"] == p.partner_id
    assert document["funder_id"] is None
    assert response.headers["location"] == f"/api/v1/documents/{document['id']}"
    for staff in (p.staff, y.staff):
        response = await stack.partners.get(f"/api/v1/documents/{document['id']}", headers=staff)
        assert response.status_code == 200
        assert response.json()["url"] == REPORT["url"]


async def test_urls_must_be_http_or_https(stack: Stack) -> None:
    p = await pair(stack)
    for url, words in [
        ("ftp://hillside.example.org/report.pdf", "'ftp:'"),
        ("javascript:alert(1)", "'javascript:'"),
        ("file:///etc/passwd", "'file:'"),
        ("hillside.example.org/report.pdf", "without http"),
        ("https://jo:secret@hillside.example.org/report.pdf", "user name or password"),
        ("https:///report.pdf", "must name a host"),
    ]:
        response = await stack.partners.post(
            "/api/v1/documents", headers=p.as_partner, json={**REPORT, "url": url}
        )
        assert response.status_code == 422, url
        body = response.json()
        assert words in body["errors"]["url"][0], body
    response = await stack.partners.post(
        "/api/v1/documents",
        headers=p.as_partner,
        json={**REPORT, "url": "http://hillside.example.org/accounts.pdf", "kind": "accounts"},
    )
    assert response.status_code == 201
    response = await stack.partners.post(
        "/api/v1/documents", headers=p.as_partner, json={**REPORT, "kind": "application_form"}
    )
    assert response.status_code == 422
    assert "kind" in response.json()["errors"]


async def test_staff_add_links_they_found_seen_by_the_partner_not_by_other_funders(
    stack: Stack,
) -> None:
    p = await pair(stack, org_id=org_id())
    y = await second_funder_of(stack, p)
    response = await stack.partners.post(
        "/api/v1/documents",
        headers=p.staff,
        json={**REPORT, "title": "Strategy 2025-28", "kind": "strategy", "year": 2025},
    )
    assert response.status_code == 400
    assert "partner_id" in response.json()["errors"]
    response = await stack.partners.post(
        "/api/v1/documents",
        headers=p.staff,
        json={**REPORT, "partner_id": p.partner_id, "kind": "strategy", "title": "Strategy"},
    )
    assert response.status_code == 201
    found = response.json()
    assert found["funder_id"] == p.funder_id

    url = f"/api/v1/documents/{found['id']}"
    assert (await stack.partners.get(url, headers=p.as_partner)).status_code == 200
    assert (await stack.partners.get(url, headers=y.staff)).status_code == 404
    response = await stack.partners.get("/api/v1/documents", headers=y.staff)
    assert found["id"] not in [d["id"] for d in response.json()]

    # Each side changes only what it added.
    response = await stack.partners.put(url, headers=p.as_partner, json={"title": "Ours"})
    assert response.status_code == 403
    own = await stack.partners.post("/api/v1/documents", headers=p.as_partner, json=REPORT)
    own_url = f"/api/v1/documents/{own.json()['id']}"
    response = await stack.partners.put(own_url, headers=p.staff, json={"title": "Theirs"})
    assert response.status_code == 403
    response = await stack.partners.put(
        own_url, headers={**p.as_partner, "If-Match": '"v1"'}, json={"year": 2023}
    )
    assert response.status_code == 200
    assert response.json()["year"] == 2023
    response = await stack.partners.delete(url, headers=p.staff)
    assert response.status_code == 200
    assert (await stack.partners.get(url, headers=p.as_partner)).status_code == 404


async def test_documents_filter_by_partner_kind_and_year(stack: Stack) -> None:
    p = await pair(stack)
    for kind, year in [("annual_report", 2023), ("annual_report", 2024), ("accounts", 2024)]:
        response = await stack.partners.post(
            "/api/v1/documents",
            headers=p.as_partner,
            json={**REPORT, "kind": kind, "year": year, "title": f"{kind} {year}"},
        )
        assert response.status_code == 201
    other = await stack.new_partner(p.funder_id)
    await stack.partners.post(
        "/api/v1/documents", headers=stack.tokens.partner(other["id"]), json=REPORT
    )

    async def titles(filter_: str) -> list[str]:
        response = await stack.partners.get(
            "/api/v1/documents",
            headers=p.staff,
            params={"filter": filter_, "sort": '["title","ASC"]'},
        )
        assert response.status_code == 200, response.text
        return [d["title"] for d in response.json()]

    assert len(await titles("{}")) == 4
    assert await titles(f'{{"partner_id":"{p.partner_id}","kind":"annual_report"}}') == [
        "annual_report 2023",
        "annual_report 2024",
    ]
    assert await titles(f'{{"partner_id":"{p.partner_id}","year":2024}}') == [
        "accounts 2024",
        "annual_report 2024",
    ]
    assert len(await titles('{"created_at_gte":"2000-01-01"}')) == 4
    assert await titles('{"created_at_lte":"2000-01-01"}') == []


async def test_there_is_no_application_form(stack: Stack) -> None:
    p = await pair(stack)
    paths = (await stack.partners.get("/openapi.json")).json()["paths"]
    assert not [path for path in paths if "application" in path or "form" in path]
    response = await stack.partners.get("/api/v1/applications", headers=p.staff)
    assert response.status_code == 404
    response = await stack.partners.post(
        "/api/v1/documents",
        headers=p.as_partner,
        json={**REPORT, "answers": {"q1": "Why do you need funding?"}},
    )
    assert response.status_code == 422
    assert "answers" in response.json()["errors"]


async def test_a_document_link_is_not_an_id_guessing_game(stack: Stack) -> None:
    p = await pair(stack)
    response = await stack.partners.get(f"/api/v1/documents/{uuid.uuid4()}", headers=p.staff)
    assert response.status_code == 404
