"""Interactions: visits, calls, meetings and events, shared with the partner unless private."""

import uuid

from tests.partners.helpers import interaction, pair
from tests.support import Stack


async def test_staff_record_an_interaction_the_partner_sees(stack: Stack) -> None:
    p = await pair(stack)
    response = await stack.partners.post(
        "/api/v1/interactions",
        headers=p.staff,
        json={
            "partner_id": p.partner_id,
            "kind": "visit",
            "occurred_at": "2025-03-04T10:30:00",
            "summary": "Met the youth panel; they are rethinking the evening sessions.",
            "participants": ["Amina (us)", "The youth panel"],
        },
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["funder_id"] == p.funder_id
    assert created["recorded_by"].startswith("staff-")
    assert created["occurred_at"] == "2025-03-04T10:30:00Z"
    assert created["private"] is False
    assert response.headers["location"] == f"/api/v1/interactions/{created['id']}"
    assert response.headers["etag"] == '"v1"'

    response = await stack.partners.get(
        f"/api/v1/interactions/{created['id']}", headers=p.as_partner
    )
    assert response.status_code == 200
    assert response.json()["participants"] == ["Amina (us)", "The youth panel"]
    response = await stack.partners.get("/api/v1/interactions", headers=p.as_partner)
    assert [i["id"] for i in response.json()] == [created["id"]]
    assert response.headers["content-range"] == "interactions 0-0/1"


async def test_private_interactions_need_a_reason_and_are_hidden_from_the_partner(
    stack: Stack,
) -> None:
    p = await pair(stack)
    response = await stack.partners.post(
        "/api/v1/interactions",
        headers=p.staff,
        json={
            "partner_id": p.partner_id,
            "kind": "call",
            "occurred_at": "2025-03-05T09:00:00Z",
            "summary": "Trustee view on the request",
            "private": True,
        },
    )
    assert response.status_code == 422
    assert "private_reason" in response.json()["errors"]

    private = await interaction(
        stack,
        p,
        kind="call",
        summary="Trustee view on the request",
        private=True,
        private_reason="Trustees' discussion before a decision",
    )
    shared = await interaction(stack, p, kind="meeting")

    response = await stack.partners.get("/api/v1/interactions", headers=p.as_partner)
    assert [i["id"] for i in response.json()] == [shared["id"]]
    response = await stack.partners.get(
        f"/api/v1/interactions/{private['id']}", headers=p.as_partner
    )
    assert response.status_code == 404
    response = await stack.partners.get(
        "/api/v1/interactions", headers=p.as_partner, params={"filter": '{"private":true}'}
    )
    assert response.json() == []

    response = await stack.partners.get("/api/v1/interactions", headers=p.staff)
    assert {i["id"] for i in response.json()} == {private["id"], shared["id"]}
    response = await stack.partners.get(
        "/api/v1/interactions", headers=p.staff, params={"filter": '{"private":true}'}
    )
    assert [i["private_reason"] for i in response.json()] == [
        "Trustees' discussion before a decision"
    ]

    # Sharing it later: the reason goes, the partner sees it.
    response = await stack.partners.put(
        f"/api/v1/interactions/{private['id']}",
        headers={**p.staff, "If-Match": '"v1"'},
        json={**private, "private": False},
    )
    assert response.status_code == 200, response.text
    assert response.json()["private_reason"] is None
    response = await stack.partners.get(
        f"/api/v1/interactions/{private['id']}", headers=p.as_partner
    )
    assert response.status_code == 200


async def test_lists_filter_by_partner_kind_and_date(stack: Stack) -> None:
    p = await pair(stack)
    other = await stack.new_partner(p.funder_id)
    visit = await interaction(stack, p, kind="visit", occurred_at="2025-01-10T10:00:00Z")
    call = await interaction(stack, p, kind="call", occurred_at="2025-02-10T10:00:00Z")
    elsewhere = await interaction(
        stack, p, partner_id=other["id"], kind="event", occurred_at="2025-03-10T10:00:00Z"
    )

    async def ids(filter_: str, **params: str) -> list[str]:
        response = await stack.partners.get(
            "/api/v1/interactions", headers=p.staff, params={"filter": filter_, **params}
        )
        assert response.status_code == 200, response.text
        return [i["id"] for i in response.json()]

    assert await ids("{}") == [elsewhere["id"], call["id"], visit["id"]]
    assert await ids(f'{{"partner_id":"{p.partner_id}"}}') == [call["id"], visit["id"]]
    assert await ids('{"kind":["visit","event"]}') == [elsewhere["id"], visit["id"]]
    assert await ids('{"occurred_at_gte":"2025-02-01","occurred_at_lte":"2025-02-28"}') == [
        call["id"]
    ]
    assert await ids("{}", sort='["occurred_at","ASC"]') == [
        visit["id"],
        call["id"],
        elsewhere["id"],
    ]
    assert await ids(f'{{"id":["{visit["id"]}","{call["id"]}"]}}') == [call["id"], visit["id"]]
    response = await stack.partners.get(
        "/api/v1/interactions", headers=p.staff, params={"filter": '{"kind":"lunch"}'}
    )
    assert response.status_code == 400
    assert "visit" in response.json()["detail"]


async def test_changes_are_safe_from_lost_updates_and_deletes_answer_the_record(
    stack: Stack,
) -> None:
    p = await pair(stack)
    created = await interaction(stack, p)
    url = f"/api/v1/interactions/{created['id']}"
    response = await stack.partners.put(
        url, headers={**p.staff, "If-Match": '"v1"'}, json={"summary": "Visited; long chat."}
    )
    assert response.status_code == 200
    assert response.headers["etag"] == '"v2"'
    response = await stack.partners.put(
        url, headers={**p.staff, "If-Match": '"v1"'}, json={"summary": "Stale"}
    )
    assert response.status_code == 412
    response = await stack.partners.put(url, headers=p.as_partner, json={"summary": "Mine"})
    assert response.status_code == 403
    response = await stack.partners.delete(url, headers=p.staff)
    assert response.status_code == 200
    assert response.json()["summary"] == "Visited; long chat."
    assert (await stack.partners.get(url, headers=p.staff)).status_code == 404


async def test_only_staff_record_and_only_for_their_partners(stack: Stack) -> None:
    p = await pair(stack)
    body = {
        "partner_id": p.partner_id,
        "kind": "visit",
        "occurred_at": "2025-03-04T10:30:00Z",
        "summary": "x",
    }
    response = await stack.partners.post("/api/v1/interactions", headers=p.as_partner, json=body)
    assert response.status_code == 403
    stranger = await stack.new_funder()
    for partner_id in (p.partner_id, str(uuid.uuid4())):
        response = await stack.partners.post(
            "/api/v1/interactions",
            headers=stack.tokens.staff(stranger["id"]),
            json={**body, "partner_id": partner_id},
        )
        assert response.status_code == 422
        assert response.json()["errors"]["partner_id"] == [
            "There is no partner with this id among the partners you can see."
        ]
    response = await stack.partners.post(
        "/api/v1/interactions", headers=p.staff, json={**body, "kind": "audit"}
    )
    assert response.status_code == 422
    assert "kind" in response.json()["errors"]


async def test_idempotency_key_replays_the_first_answer(stack: Stack) -> None:
    p = await pair(stack)
    body = {
        "partner_id": p.partner_id,
        "kind": "event",
        "occurred_at": "2025-03-04T10:30:00Z",
        "summary": "Open day",
    }
    headers = {**p.staff, "Idempotency-Key": str(uuid.uuid4())}
    first = await stack.partners.post("/api/v1/interactions", headers=headers, json=body)
    again = await stack.partners.post("/api/v1/interactions", headers=headers, json=body)
    assert first.status_code == again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    response = await stack.partners.get("/api/v1/interactions", headers=p.staff)
    assert len(response.json()) == 1
