"""Gatherings: one record for an event with many partners; shared notes for those who came,
private notes for the funder alone, and a timeline entry for each partner that came."""

import json
from typing import Any

from tests.partners.helpers import Pair, pair
from tests.support import Stack

PRIVATE = "Follow up with Hillside about their premises worry."
SHARED = "Together we heard that winter fuel costs are the biggest worry."


async def gathering(stack: Stack, p: Pair, **fields: Any) -> Any:
    body = {
        "kind": "learning_day",
        "title": "Spring learning day",
        "held_at": "2026-04-22T10:00:00Z",
        "shared_notes": SHARED,
        "private_notes": PRIVATE,
        **fields,
    }
    return await stack.partners.post("/api/v1/gatherings", headers=p.staff, json=body)


async def timeline(stack: Stack, headers: dict[str, str], partner_id: str) -> list[dict]:
    response = await stack.partners.get(
        f"/api/v1/partners/{partner_id}/timeline",
        headers=headers,
        params={"filter": json.dumps({"kind": "gathering"})},
    )
    assert response.status_code == 200, response.text
    return response.json()


async def test_who_came_reads_the_shared_notes_and_has_it_in_its_timeline(stack: Stack) -> None:
    p = await pair(stack)
    came = await stack.new_partner(p.funder_id)
    away = await stack.new_partner(p.funder_id)
    uninvited = await stack.new_partner(p.funder_id)
    response = await gathering(
        stack,
        p,
        invited_partner_ids=[p.partner_id, came["id"], away["id"]],
        attended_partner_ids=[p.partner_id, came["id"]],
    )
    assert response.status_code == 201, response.text
    made = response.json()
    assert {(i["partner_id"], i["attended"]) for i in made["invitees"]} == {
        (p.partner_id, True),
        (came["id"], True),
        (away["id"], False),
    }
    assert made["private_notes"] == PRIVATE and made["shared_notes"] == SHARED
    path = f"/api/v1/gatherings/{made['id']}"

    # A partner that came: its own invitation, the shared notes, never the private notes
    # nor who else was invited.
    came_headers = stack.tokens.partner(came["id"])
    seen = await stack.partners.get(path, headers=came_headers)
    assert seen.status_code == 200, seen.text
    body = seen.json()
    assert body["shared_notes"] == SHARED and body["private_notes"] is None
    assert body["invitees"] == [{"partner_id": came["id"], "attended": True}]
    assert PRIVATE not in seen.text and away["id"] not in seen.text
    assert p.partner_id not in seen.text
    [entry] = await timeline(stack, came_headers, came["id"])
    assert entry["title"] == "Learning day: Spring learning day"
    assert entry["data"]["gathering_id"] == made["id"] and PRIVATE not in json.dumps(entry)
    # Staff see it in that partner's timeline too.
    assert len(await timeline(stack, p.staff, came["id"])) == 1

    # Invited but did not come: the gathering, without its notes, and no timeline entry.
    away_headers = stack.tokens.partner(away["id"])
    seen = (await stack.partners.get(path, headers=away_headers)).json()
    assert seen["shared_notes"] is None and seen["private_notes"] is None
    assert await timeline(stack, away_headers, away["id"]) == []

    # Not invited: nothing of it.
    stranger = stack.tokens.partner(uninvited["id"])
    assert (await stack.partners.get(path, headers=stranger)).status_code == 404
    assert (await stack.partners.get("/api/v1/gatherings", headers=stranger)).json() == []
    assert await timeline(stack, stranger, uninvited["id"]) == []

    # A partner cannot learn who else was invited through the partner_id filter.
    probe = await stack.partners.get(
        "/api/v1/gatherings",
        headers=came_headers,
        params={"filter": json.dumps({"partner_id": away["id"]})},
    )
    assert probe.status_code == 200 and probe.json() == []
    mine = await stack.partners.get(
        "/api/v1/gatherings",
        headers=came_headers,
        params={"filter": json.dumps({"partner_id": came["id"]})},
    )
    assert [g["id"] for g in mine.json()] == [made["id"]]

    # Recording afterwards that "away" came after all: its timeline follows; dropping
    # "came" from the invited takes its entry out.
    changed = await stack.partners.put(
        path,
        headers={**p.staff, "If-Match": response.headers["etag"]},
        json={
            "invited_partner_ids": [p.partner_id, away["id"]],
            "attended_partner_ids": [away["id"]],
        },
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["version"] == 2
    stale = await stack.partners.put(
        path, headers={**p.staff, "If-Match": response.headers["etag"]}, json={"title": "x"}
    )
    assert stale.status_code == 412
    assert len(await timeline(stack, away_headers, away["id"])) == 1
    assert await timeline(stack, came_headers, came["id"]) == []
    assert await timeline(stack, p.as_partner, p.partner_id) == []
    assert (await stack.partners.get(path, headers=came_headers)).status_code == 404

    deleted = await stack.partners.delete(path, headers=p.staff)
    assert deleted.status_code == 200
    assert await timeline(stack, away_headers, away["id"]) == []


async def test_another_funder_sees_nothing_and_invites_only_its_partners(stack: Stack) -> None:
    p = await pair(stack)
    other = await pair(stack)
    made = (await gathering(stack, p, invited_partner_ids=[p.partner_id])).json()
    path = f"/api/v1/gatherings/{made['id']}"
    assert (await stack.partners.get(path, headers=other.staff)).status_code == 404
    assert (await stack.partners.get("/api/v1/gatherings", headers=other.staff)).json() == []
    put = await stack.partners.put(path, headers=other.staff, json={"title": "Mine"})
    assert put.status_code == 404
    assert (await stack.partners.delete(path, headers=other.staff)).status_code == 404

    refused = await gathering(stack, p, invited_partner_ids=[other.partner_id])
    assert refused.status_code == 422 and "invited_partner_ids" in refused.json()["errors"]
    refused = await gathering(
        stack, p, invited_partner_ids=[p.partner_id], attended_partner_ids=[other.partner_id]
    )
    assert refused.status_code == 422 and "attended_partner_ids" in refused.json()["errors"]
    refused = await gathering(stack, p, invited_partner_ids=[])
    assert refused.status_code == 422
    # A partner cannot record a gathering.
    response = await stack.partners.post(
        "/api/v1/gatherings",
        headers=p.as_partner,
        json={
            "kind": "other",
            "title": "x",
            "held_at": "2026-04-22T10:00:00Z",
            "invited_partner_ids": [p.partner_id],
        },
    )
    assert response.status_code == 403
