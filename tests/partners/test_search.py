"""Search across the stories a caller may read, on SQLite FTS5 and PostgreSQL full text."""

import json
from typing import Any

from tests.partners.helpers import Pair, interaction, org_id, pair, second_funder_of, update
from tests.support import Stack


async def search(stack: Stack, headers: dict[str, str], q: str, **params: Any) -> list[dict]:
    query = {k: json.dumps(v) for k, v in params.items()}
    if q:
        query["q"] = q
    response = await stack.partners.get("/api/v1/search", headers=headers, params=query)
    assert response.status_code == 200, response.text
    assert response.headers["content-range"].startswith("search ")
    return response.json()


async def test_stemming_finds_volunteering_with_a_highlighted_snippet(stack: Stack) -> None:
    p = await pair(stack)
    sent = await update(stack, p, what_we_learned="Volunteering grew after we opened on Saturdays.")
    await update(stack, p, what_changed="Our energy costs doubled this winter.")

    hits = await search(stack, p.staff, "volunteer")
    assert [h["id"] for h in hits] == [sent["id"]]
    hit = hits[0]
    assert hit["kind"] == "update" and hit["update_id"] == sent["id"]
    assert hit["partner_id"] == p.partner_id and hit["funder_id"] == p.funder_id
    assert "<mark>Volunteering</mark>" in hit["snippet"]
    assert hit["relevance"] > 0

    hits = await search(stack, p.staff, '"energy costs"')
    assert len(hits) == 1
    assert "<mark>energy" in hits[0]["snippet"] and "costs</mark>" in hits[0]["snippet"]
    assert await search(stack, p.staff, "energy -winter") == []
    assert len(await search(stack, p.staff, "volunteers or energy")) == 2


async def test_accents_are_folded_both_ways(stack: Stack) -> None:
    p = await pair(stack)
    first = await update(stack, p, what_changed="The community café opened in May.")
    second = await update(stack, p, what_changed="We now run the cafe on Sundays too.")
    for q in ("cafe", "café", "CAFÉ"):
        found = {h["id"] for h in await search(stack, p.staff, q)}
        assert found == {first["id"], second["id"]}, q


async def test_a_private_interaction_is_found_by_its_funder_only(stack: Stack) -> None:
    p = await pair(stack)
    shared = await interaction(stack, p, summary="Talked about the allotment project.")
    private = await interaction(
        stack,
        p,
        summary="Worried about the allotment lease and the director's health.",
        private=True,
        private_reason="Health of a named person.",
    )
    staff_hits = {h["id"] for h in await search(stack, p.staff, "allotment")}
    assert staff_hits == {shared["id"], private["id"]}
    partner_hits = await search(stack, p.as_partner, "allotment")
    assert [h["id"] for h in partner_hits] == [shared["id"]]
    assert await search(stack, p.as_partner, "lease") == []


async def test_another_funders_copy_of_a_shared_update_is_not_found(stack: Stack) -> None:
    p = await pair(stack, org_id=org_id())
    other = await second_funder_of(stack, p)
    sent = await update(
        stack,
        p,
        funder_ids=[p.funder_id, other.funder_id],
        what_was_hard="Recruiting volunteers for the food bank was hard.",
    )
    copies = {c["funder_id"]: c["update_id"] for c in sent["shared_with"]}
    reply = await stack.partners.post(
        f"/api/v1/updates/{copies[other.funder_id]}/replies",
        headers=other.staff,
        json={"body": "Thank you: our food bank network may help with volunteers."},
    )
    assert reply.status_code == 201, reply.text

    mine = await search(stack, p.staff, "volunteers")
    assert [h["id"] for h in mine] == [copies[p.funder_id]]
    theirs = await search(stack, other.staff, "volunteers")
    assert {h["id"] for h in theirs} == {copies[other.funder_id], reply.json()["id"]}
    assert await search(stack, p.staff, "network") == []
    # The partner finds both of its copies and the other funder's reply in its thread.
    own = {h["id"] for h in await search(stack, p.as_partner, "volunteers")}
    assert own == {*copies.values(), reply.json()["id"]}


async def test_an_unrelated_funder_finds_nothing(stack: Stack) -> None:
    p = await pair(stack)
    stranger = await pair(stack)
    await update(stack, p, what_changed="Volunteers repainted the hall.")
    await interaction(stack, p, summary="Volunteers showed us the hall.")
    assert await search(stack, stranger.staff, "volunteers") == []
    assert await search(stack, stranger.as_partner, "volunteers") == []


async def test_documents_titles_follow_sharing(stack: Stack) -> None:
    p = await pair(stack, org_id=org_id())
    other = await second_funder_of(stack, p, accept=False)
    response = await stack.partners.post(
        "/api/v1/documents",
        headers=p.as_partner,
        json={
            "title": "Volunteering strategy 2026",
            "kind": "strategy",
            "url": "https://hillside.example.org/strategy.pdf",
        },
    )
    assert response.status_code == 201, response.text
    document = response.json()
    hits = await search(stack, p.staff, "volunteer", filter={"kind": "document"})
    assert [h["id"] for h in hits] == [document["id"]]
    assert hits[0]["title"] == "Volunteering strategy 2026"
    # The second funder has not been accepted: it does not see the partner's own documents.
    assert await search(stack, other.staff, "volunteer") == []


async def test_edits_and_deletes_keep_the_index_in_step(stack: Stack) -> None:
    p = await pair(stack)
    record = await interaction(stack, p, summary="Discussed the minibus.")
    assert len(await search(stack, p.staff, "minibus")) == 1
    read = await stack.partners.get(f"/api/v1/interactions/{record['id']}", headers=p.staff)
    response = await stack.partners.put(
        f"/api/v1/interactions/{record['id']}",
        headers={**p.staff, "If-Match": read.headers["etag"]},
        json={"summary": "Discussed the new kitchen."},
    )
    assert response.status_code == 200, response.text
    assert await search(stack, p.staff, "minibus") == []
    assert len(await search(stack, p.staff, "kitchen")) == 1
    response = await stack.partners.delete(f"/api/v1/interactions/{record['id']}", headers=p.staff)
    assert response.status_code == 200, response.text
    assert await search(stack, p.staff, "kitchen") == []


async def test_filters_paging_and_sort(stack: Stack) -> None:
    p: Pair = await pair(stack)
    other_partner = await stack.new_partner(p.funder_id)
    await interaction(
        stack, p, summary="Garden volunteers met.", occurred_at="2024-05-01T10:00:00Z"
    )
    await interaction(
        stack,
        p,
        summary="Garden volunteers again.",
        kind="call",
        occurred_at="2025-05-01T10:00:00Z",
    )
    response = await stack.partners.post(
        "/api/v1/interactions",
        headers=p.staff,
        json={
            "partner_id": other_partner["id"],
            "kind": "visit",
            "occurred_at": "2025-06-01T10:00:00Z",
            "summary": "Garden tour.",
        },
    )
    assert response.status_code == 201
    assert len(await search(stack, p.staff, "garden")) == 3
    only = await search(stack, p.staff, "garden", filter={"partner_id": other_partner["id"]})
    assert [h["partner_id"] for h in only] == [other_partner["id"]]
    calls = await search(stack, p.staff, "garden", filter={"kind": "interaction"})
    assert len(calls) == 3
    recent = await search(stack, p.staff, "garden", filter={"at_gte": "2025-01-01"})
    assert len(recent) == 2
    by_date = await search(stack, p.staff, "garden", sort=["at", "ASC"])
    assert [h["at"][:4] for h in by_date] == ["2024", "2025", "2025"]
    response = await stack.partners.get(
        "/api/v1/search",
        headers=p.staff,
        params={"q": "garden", "range": "[1,1]", "sort": '["at","ASC"]'},
    )
    assert response.headers["content-range"] == "search 1-1/3"
    assert [h["at"][:7] for h in response.json()] == ["2025-05"]


async def test_bad_searches_are_told_what_to_fix(stack: Stack) -> None:
    p = await pair(stack)
    for q, status in (("", 422), ("!!!", 422), ("x" * 201, 422)):
        response = await stack.partners.get("/api/v1/search", headers=p.staff, params={"q": q})
        assert response.status_code == status, (q, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    response = await stack.partners.get(
        "/api/v1/search", headers=p.staff, params={"q": "garden", "filter": '{"kind":"grant"}'}
    )
    assert response.status_code == 400 and "kind" in response.json()["detail"]
    # Text that looks like query syntax is searched as words, never an error.
    for q in ("NEAR(a b)", '"unclosed', "a AND OR NOT", "col:term", "*", "a -", "'; drop"):
        response = await stack.partners.get("/api/v1/search", headers=p.staff, params={"q": q})
        assert response.status_code in (200, 422), (q, response.text)


async def test_snippets_escape_the_partners_text(stack: Stack) -> None:
    p = await pair(stack)
    await update(stack, p, what_changed="<script>alert(1)</script> volunteers & friends")
    [hit] = await search(stack, p.staff, "volunteers")
    assert "<mark>volunteers</mark>" in hit["snippet"]
    # Only the marks are markup: whatever of the partner's text is shown is escaped.
    unmarked = hit["snippet"].replace("<mark>", "").replace("</mark>", "")
    assert "<" not in unmarked and ">" not in unmarked
    assert "&amp; friends" in hit["snippet"]


async def test_react_admins_filter_q_by_id_and_without_words(stack: Stack) -> None:
    p = await pair(stack)
    first = await update(stack, p, what_changed="Volunteers <b>painted</b> the hall.")
    second = await interaction(stack, p, summary="Saw the new kitchen.")
    stranger = await pair(stack)
    hits = await search(stack, p.staff, "", filter={"q": "volunteer"})
    assert [h["id"] for h in hits] == [first["id"]]
    # Without words: everything the caller may read, newest first, opening words as snippet.
    response = await stack.partners.get("/api/v1/search", headers=p.staff)
    assert response.status_code == 200
    assert response.headers["content-range"] == "search 0-1/2"
    everything = response.json()
    assert {h["id"] for h in everything} == {first["id"], second["id"]}
    shown = next(h for h in everything if h["id"] == first["id"])
    assert shown["snippet"] == "Volunteers &lt;b&gt;painted&lt;/b&gt; the hall."
    by_id = await search(stack, p.staff, "", filter={"id": [second["id"]]})
    assert [h["id"] for h in by_id] == [second["id"]]
    response = await stack.partners.get("/api/v1/search", headers=stranger.staff)
    assert response.json() == []
    ordered = await search(stack, p.staff, "", sort=["id", "ASC"])
    assert [h["id"] for h in ordered] == sorted([first["id"], second["id"]])


async def test_one_hit_by_id_and_the_update_filter(stack: Stack) -> None:
    """react-admin's getOne on search (``/search/{id}``) answers a record the caller may read
    and 404 otherwise; ``update_id`` narrows to one update's thread."""
    p = await pair(stack)
    stranger = await pair(stack)
    sent = await update(stack, p, what_changed="Volunteers painted the hall green.")
    other = await update(stack, p, what_changed="Volunteers cleaned the garden.")
    reply = await stack.partners.post(
        f"/api/v1/updates/{sent['id']}/replies",
        headers=p.staff,
        json={"body": "Thank you, the volunteers did well."},
    )
    assert reply.status_code == 201, reply.text
    listed = {h["id"]: h for h in await search(stack, p.staff, "")}
    one = await stack.partners.get(f"/api/v1/search/{sent['id']}", headers=p.staff)
    assert one.status_code == 200, one.text
    assert one.json() == listed[sent["id"]]
    private = await interaction(
        stack, p, summary="Private worry.", private=True, private_reason="Health of a person."
    )
    assert (
        await stack.partners.get(f"/api/v1/search/{private['id']}", headers=p.staff)
    ).status_code == 200
    for headers, hit in ((stranger.staff, sent["id"]), (p.as_partner, private["id"])):
        response = await stack.partners.get(f"/api/v1/search/{hit}", headers=headers)
        assert response.status_code == 404, hit
    thread = await search(stack, p.staff, "volunteers", filter={"update_id": sent["id"]})
    assert {h["id"] for h in thread} == {sent["id"], reply.json()["id"]}
    assert other["id"] not in {h["id"] for h in thread}
