"""The funder's own tags and learning notes, and feedback threads in search.

Tags and notes are the funder's: its staff read them, nobody else (another funder,
the partner, another partner) ever does, in any answer.
"""

import json
from typing import Any

from tests.partners.helpers import Pair, interaction, org_id, pair, second_funder_of, update
from tests.support import Stack


async def tag(stack: Stack, p: Pair, kind: str, subject_id: str, text: str) -> Any:
    return await stack.partners.post(
        "/api/v1/tags",
        headers=p.staff,
        json={"subject_kind": kind, "subject_id": subject_id, "tag": text},
    )


async def listed(stack: Stack, headers: dict[str, str], path: str, **filters: Any) -> Any:
    params = {"filter": json.dumps(filters)} if filters else {}
    return await stack.partners.get(path, headers=headers, params=params)


async def search(stack: Stack, headers: dict[str, str], q: str | None, **filters: Any) -> Any:
    params = {"filter": json.dumps(filters)} if filters else {}
    if q:
        params["q"] = q
    response = await stack.partners.get("/api/v1/search", headers=headers, params=params)
    assert response.status_code == 200, response.text
    return response.json()


async def thread(stack: Stack, p: Pair, subject: str, body: str) -> dict[str, Any]:
    response = await stack.feedback.post(
        "/api/v1/threads",
        headers=p.staff,
        json={"subject": subject, "body": body, "partner_id": p.partner_id},
    )
    assert response.status_code == 201, response.text
    await stack.deliver_events()
    return response.json()


async def test_staff_tag_updates_and_interactions_and_filter_by_tag(stack: Stack) -> None:
    p = await pair(stack)
    heating = await update(stack, p, what_was_hard="Heating the hall costs twice what it did.")
    other = await update(stack, p, what_changed="New volunteers joined.")
    visit = await interaction(stack, p, summary="Saw the boiler; bills are a worry.")

    response = await tag(stack, p, "update", heating["id"], "Energy  Costs")
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["tag"] == "Energy Costs" and created["partner_id"] == p.partner_id
    assert (await tag(stack, p, "interaction", visit["id"], "energy costs")).status_code == 201
    again = await tag(stack, p, "update", heating["id"], "energy costs")
    assert again.status_code == 409, again.text

    found = await listed(stack, p.staff, "/api/v1/updates", tag="energy costs")
    assert [u["id"] for u in found.json()] == [heating["id"]]
    found = await listed(stack, p.staff, "/api/v1/interactions", tag=["ENERGY COSTS"])
    assert [i["id"] for i in found.json()] == [visit["id"]]
    hits = await search(stack, p.staff, None, tag="energy costs")
    assert {h["id"] for h in hits} == {heating["id"], visit["id"]}
    assert other["id"] not in {h["id"] for h in hits}
    hits = await search(stack, p.staff, "hall", tag="energy costs")
    assert [h["id"] for h in hits] == [heating["id"]]

    tags = await listed(stack, p.staff, "/api/v1/tags", subject_id=heating["id"])
    assert [t["tag"] for t in tags.json()] == ["Energy Costs"]
    assert tags.headers["content-range"] == "tags 0-0/1"
    one = await stack.partners.get(f"/api/v1/tags/{created['id']}", headers=p.staff)
    assert one.status_code == 200
    gone = await stack.partners.delete(f"/api/v1/tags/{created['id']}", headers=p.staff)
    assert gone.status_code == 200 and gone.json()["id"] == created["id"]
    found = await listed(stack, p.staff, "/api/v1/updates", tag="energy costs")
    assert found.json() == []


async def test_tags_and_notes_are_never_shown_to_partners_or_other_funders(
    stack: Stack,
) -> None:
    p = await pair(stack, org_id=org_id())
    other = await second_funder_of(stack, p)
    stranger = await pair(stack)
    sent = await update(
        stack,
        p,
        funder_ids=[p.funder_id, other.funder_id],
        what_was_hard="Our volunteers are exhausted this winter.",
    )
    mine = next(c["update_id"] for c in sent["shared_with"] if c["funder_id"] == p.funder_id)
    theirs = next(c["update_id"] for c in sent["shared_with"] if c["funder_id"] != p.funder_id)
    tagged = (await tag(stack, p, "update", mine, "burnout")).json()
    note = await stack.partners.post(
        "/api/v1/learning-notes",
        headers=p.staff,
        json={"title": "Burnout", "body": "Exhausted volunteers, a theme.", "update_ids": [mine]},
    )
    assert note.status_code == 201, note.text
    note_id = note.json()["id"]

    # Another funder cannot tag or note this funder's copy, nor read its tags or notes.
    refused = await tag(stack, other, "update", mine, "burnout")
    assert refused.status_code == 422 and "subject_id" in refused.json()["errors"]
    refused = await stack.partners.post(
        "/api/v1/learning-notes",
        headers=other.staff,
        json={"title": "x", "body": "y", "update_ids": [mine]},
    )
    assert refused.status_code == 422 and "update_ids" in refused.json()["errors"]
    for reader in (other, stranger):
        assert (await listed(stack, reader.staff, "/api/v1/tags")).json() == []
        assert (await listed(stack, reader.staff, "/api/v1/learning-notes")).json() == []
        for path in (f"/api/v1/tags/{tagged['id']}", f"/api/v1/learning-notes/{note_id}"):
            assert (await stack.partners.get(path, headers=reader.staff)).status_code == 404
        assert await search(stack, reader.staff, "burnout OR exhausted", tag="burnout") == []
        hits = await search(stack, reader.staff, "exhausted")
        assert note_id not in {h["id"] for h in hits}
    # The other funder's own tag on its own copy finds only its copy.
    assert (await tag(stack, other, "update", theirs, "burnout")).status_code == 201
    hits = await search(stack, other.staff, None, tag="burnout")
    assert [h["id"] for h in hits] == [theirs]

    # The partner: tags and notes do not exist for it, in any answer.
    for headers in (p.as_partner, stranger.as_partner):
        for path in ("/api/v1/tags", "/api/v1/learning-notes"):
            assert (await stack.partners.get(path, headers=headers)).status_code == 403
        for path in (f"/api/v1/tags/{tagged['id']}", f"/api/v1/learning-notes/{note_id}"):
            assert (await stack.partners.get(path, headers=headers)).status_code == 403
    refused = await listed(stack, p.as_partner, "/api/v1/updates", tag="burnout")
    assert refused.status_code == 400
    refused = await stack.partners.get(
        "/api/v1/search", headers=p.as_partner, params={"filter": '{"tag":"burnout"}'}
    )
    assert refused.status_code == 400
    hits = await search(stack, p.as_partner, "exhausted OR burnout")
    assert {h["kind"] for h in hits} == {"update"} and note_id not in {h["id"] for h in hits}
    own_update = await stack.partners.get(f"/api/v1/updates/{mine}", headers=p.as_partner)
    timeline = await stack.partners.get(
        f"/api/v1/partners/{p.partner_id}/timeline", headers=p.as_partner
    )
    for answer in (own_update.text, timeline.text):
        assert "burnout" not in answer.lower() and "Burnout" not in answer


async def test_a_learning_note_links_updates_and_interactions_across_partners(
    stack: Stack,
) -> None:
    p = await pair(stack)
    q_partner = await stack.new_partner(p.funder_id)
    q_update = await stack.partners.post(
        "/api/v1/updates",
        headers=stack.tokens.partner(q_partner["id"]),
        json={"what_was_hard": "Energy bills for the community café tripled."},
    )
    assert q_update.status_code == 201, q_update.text
    first = await update(stack, p, what_was_hard="Heating the hall is unaffordable.")
    visit = await interaction(stack, p, summary="Talked about the heating.")
    body = {
        "title": "Energy costs across partners",
        "body": "Partners spend more on heating than on volunteering expenses.",
        "update_ids": [first["id"], q_update.json()["id"]],
        "interaction_ids": [visit["id"]],
    }
    response = await stack.partners.post("/api/v1/learning-notes", headers=p.staff, json=body)
    assert response.status_code == 201, response.text
    note = response.json()
    assert set(note["update_ids"]) == {first["id"], q_update.json()["id"]}
    assert note["interaction_ids"] == [visit["id"]]
    assert set(note["partner_ids"]) == {p.partner_id, q_partner["id"]}
    etag = response.headers["etag"]

    # Notes are found by search (stemming: "volunteer" finds "volunteering"), for staff.
    hits = await search(stack, p.staff, "volunteer", kind="learning_note")
    assert [h["id"] for h in hits] == [note["id"]]
    assert hits[0]["partner_id"] is None and hits[0]["title"] == body["title"]
    by_source = await listed(stack, p.staff, "/api/v1/learning-notes", update_id=first["id"])
    assert [n["id"] for n in by_source.json()] == [note["id"]]
    by_partner = await listed(stack, p.staff, "/api/v1/learning-notes", partner_id=q_partner["id"])
    assert [n["id"] for n in by_partner.json()] == [note["id"]]

    # Tag the note; filter notes and search by it.
    assert (await tag(stack, p, "learning_note", note["id"], "energy costs")).status_code == 201
    by_tag = await listed(stack, p.staff, "/api/v1/learning-notes", tag="energy costs")
    assert [n["tags"] for n in by_tag.json()] == [["energy costs"]]
    assert [h["id"] for h in await search(stack, p.staff, None, tag="energy costs")] == [note["id"]]

    # Change the sources: the version moves; a stale If-Match is a 412.
    path = f"/api/v1/learning-notes/{note['id']}"
    changed = await stack.partners.put(
        path, headers={**p.staff, "If-Match": etag}, json={"interaction_ids": []}
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["interaction_ids"] == [] and changed.json()["version"] == 2
    stale = await stack.partners.put(
        path, headers={**p.staff, "If-Match": etag}, json={"title": "Lost"}
    )
    assert stale.status_code == 412
    # The edited text is what search finds.
    edited = await stack.partners.put(path, headers=p.staff, json={"body": "Boilers and bills."})
    assert edited.status_code == 200
    assert await search(stack, p.staff, "volunteer", kind="learning_note") == []
    assert [h["id"] for h in await search(stack, p.staff, "boiler")] == [note["id"]]
    deleted = await stack.partners.delete(path, headers=p.staff)
    assert deleted.status_code == 200 and deleted.json()["id"] == note["id"]
    assert await search(stack, p.staff, "boiler") == []
    assert (await listed(stack, p.staff, "/api/v1/tags", subject_id=note["id"])).json() == []


async def test_threads_are_searched_under_the_threads_own_rule(stack: Stack) -> None:
    p = await pair(stack, org_id=org_id())
    other = await second_funder_of(stack, p)
    stranger = await pair(stack)
    ours = await thread(stack, p, "Volunteering plans", "How are the volunteers settling in?")
    theirs = await thread(stack, other, "Grant timing", "We can also help your volunteers.")

    hits = await search(stack, p.staff, "volunteer", kind="thread")
    assert {h["thread_id"] for h in hits} == {ours["id"]}
    assert hits[0]["title"] == "Volunteering plans" and "<mark>" in hits[0]["snippet"]
    assert {h["thread_id"] for h in await search(stack, other.staff, "volunteers")} == {
        theirs["id"]
    }
    # The partner finds both of its threads; a stranger finds neither.
    own = {h["thread_id"] for h in await search(stack, p.as_partner, "volunteers")}
    assert own == {ours["id"], theirs["id"]}
    assert await search(stack, stranger.staff, "volunteers") == []
    assert await search(stack, stranger.as_partner, "volunteers") == []

    # A reply in the thread is found too (the event is consumed once).
    reply = await stack.feedback.post(
        f"/api/v1/threads/{ours['id']}/messages",
        headers=p.as_partner,
        json={"body": "The allotment team is thriving."},
    )
    assert reply.status_code == 201, reply.text
    await stack.deliver_events()
    hits = await search(stack, p.staff, "allotment")
    assert [(h["id"], h["kind"]) for h in hits] == [(reply.json()["id"], "thread")]
    in_thread = await search(stack, p.staff, None, thread_id=ours["id"])
    assert len(in_thread) == 2 and {h["thread_id"] for h in in_thread} == {ours["id"]}

    # Staff tag their thread; another funder cannot tag it.
    assert (await tag(stack, p, "thread", ours["id"], "volunteers")).status_code == 201
    assert (await tag(stack, other, "thread", ours["id"], "volunteers")).status_code == 422
    hits = await search(stack, p.staff, None, tag="volunteers")
    assert {h["thread_id"] for h in hits} == {ours["id"]} and len(hits) == 2
