"""Reflective updates: sent by partners through the API when they choose, replied to by funders."""

import uuid
from datetime import timedelta

from sqlalchemy import update as sql_update

from services.common.db import utcnow
from services.partners.updates.models import Update as UpdateRow
from tests.partners.helpers import org_id, outbox_events, pair, second_funder_of, update
from tests.support import Stack

PROMPTS = ("what_changed", "what_we_learned", "what_was_hard", "want_you_to_know")


async def client_token(stack: Stack, partner_id: str, own: dict[str, str]) -> dict[str, str]:
    """A token for the partner's own system (registered by its own people), by client credentials."""
    response = await stack.partners.post(
        f"/api/v1/partners/{partner_id}/clients", headers=own, json={"name": "Our CRM"}
    )
    assert response.status_code == 201, response.text
    client = response.json()
    response = await stack.partners.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(client["client_id"], client["client_secret"]),
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def test_a_partner_system_sends_an_update_with_an_idempotency_key(stack: Stack) -> None:
    p = await pair(stack)
    headers = {**await client_token(stack, p.partner_id, p.as_partner), "Idempotency-Key": "u-1"}
    body = {
        "what_we_learned": "Young people want to run the sessions themselves.",
        "what_was_hard": "We lost our youth worker in March and the club closed for six weeks.",
        "links": [{"title": "Youth panel notes", "url": "https://hillside.example.org/notes"}],
    }
    first = await stack.partners.post("/api/v1/updates", headers=headers, json=body)
    assert first.status_code == 201, first.text
    sent = first.json()
    assert sent["funder_id"] == p.funder_id
    assert sent["partner_id"] == p.partner_id
    assert sent["what_changed"] is None
    assert sent["sent_by"] == "Our CRM"
    assert sent["first_reply_at"] is None and sent["reply_count"] == 0
    assert sent["shared_with"] == [{"update_id": sent["id"], "funder_id": p.funder_id}]
    again = await stack.partners.post("/api/v1/updates", headers=headers, json=body)
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["id"] == sent["id"]

    response = await stack.partners.get("/api/v1/updates", headers=p.staff)
    assert [u["id"] for u in response.json()] == [sent["id"]]
    assert response.json()[0]["shared_with"] is None
    received = [
        e
        for e in await outbox_events(stack, "update.received")
        if e["data"]["update_id"] == sent["id"]
    ]
    assert len(received) == 1
    assert received[0]["data"] == {
        "update_id": sent["id"],
        "funder_id": p.funder_id,
        "partner_id": p.partner_id,
        "received_on": sent["sent_at"][:10],
    }


async def test_an_update_needs_words_in_at_least_one_part(stack: Stack) -> None:
    p = await pair(stack)
    for body in ({}, {"what_changed": "   "}, {p_: "" for p_ in PROMPTS}, {"document_ids": []}):
        response = await stack.partners.post("/api/v1/updates", headers=p.as_partner, json=body)
        assert response.status_code == 422, body
        problem = response.json()
        assert "at least one part" in problem["detail"]
        assert set(problem["errors"]) == set(PROMPTS)
    for prompt in PROMPTS:
        response = await stack.partners.post(
            "/api/v1/updates", headers=p.as_partner, json={prompt: "Just this."}
        )
        assert response.status_code == 201
    response = await stack.partners.post(
        "/api/v1/updates",
        headers=p.as_partner,
        json={"what_changed": "x", "kpis": {"young_people_reached": 40}},
    )
    assert response.status_code == 422
    assert "kpis" in response.json()["errors"]
    response = await stack.partners.post(
        "/api/v1/updates", headers=p.staff, json={"what_changed": "Staff cannot send updates"}
    )
    assert response.status_code == 403


async def test_one_update_shared_with_two_funders_each_sees_only_its_own(stack: Stack) -> None:
    x = await pair(stack, org_id=org_id())
    y = await second_funder_of(stack, x)
    response = await stack.partners.post(
        "/api/v1/updates",
        headers=x.as_partner,
        json={"what_changed": "We merged with a neighbour."},
    )
    assert response.status_code == 422
    assert "funder_ids" in response.json()["errors"]

    sent = await update(
        stack,
        x,
        funder_ids=[x.funder_id, y.funder_id, x.funder_id],
        what_changed="We merged with a neighbour.",
    )
    copies = {c["funder_id"]: c["update_id"] for c in sent["shared_with"]}
    assert set(copies) == {x.funder_id, y.funder_id}
    assert sent["id"] == copies[x.funder_id]

    for side, other in ((x, y), (y, x)):
        response = await stack.partners.get("/api/v1/updates", headers=side.staff)
        seen = response.json()
        assert [u["id"] for u in seen] == [copies[side.funder_id]]
        assert seen[0]["funder_id"] == side.funder_id
        assert seen[0]["what_changed"] == "We merged with a neighbour."
        assert seen[0]["shared_with"] is None
        response = await stack.partners.get(
            f"/api/v1/updates/{copies[other.funder_id]}", headers=side.staff
        )
        assert response.status_code == 404
        response = await stack.partners.post(
            f"/api/v1/updates/{copies[other.funder_id]}/replies",
            headers=side.staff,
            json={"body": "Hello"},
        )
        assert response.status_code == 404

    response = await stack.partners.post(
        f"/api/v1/updates/{copies[x.funder_id]}/replies",
        headers=x.staff,
        json={"body": "Thank you; could we visit?"},
    )
    assert response.status_code == 201
    response = await stack.partners.get(
        f"/api/v1/updates/{copies[y.funder_id]}/replies", headers=y.staff
    )
    assert response.json() == []
    response = await stack.partners.get(f"/api/v1/updates/{copies[y.funder_id]}", headers=y.staff)
    assert response.json()["reply_count"] == 0

    response = await stack.partners.get("/api/v1/updates", headers=x.as_partner)
    assert {u["id"] for u in response.json()} == set(copies.values())
    response = await stack.partners.get(
        "/api/v1/updates",
        headers=x.as_partner,
        params={"filter": f'{{"funder_id":"{y.funder_id}"}}'},
    )
    assert [u["id"] for u in response.json()] == [copies[y.funder_id]]


async def test_funders_outside_the_relationship_are_refused_revealing_nothing(
    stack: Stack,
) -> None:
    p = await pair(stack)
    stranger = await stack.new_funder()
    answers = []
    for funder_id in (stranger["id"], str(uuid.uuid4())):
        response = await stack.partners.post(
            "/api/v1/updates",
            headers=p.as_partner,
            json={"funder_ids": [p.funder_id, funder_id], "what_changed": "News"},
        )
        assert response.status_code == 422
        answers.append(response.json()["detail"].replace(funder_id, "<id>"))
    assert answers[0] == answers[1]
    response = await stack.partners.get("/api/v1/updates", headers=p.as_partner)
    assert response.json() == [], "nothing is sent when one funder is refused"


async def test_linked_documents_must_be_the_partners_own(stack: Stack) -> None:
    p = await pair(stack)
    other = await stack.new_partner(p.funder_id)
    theirs = await stack.partners.post(
        "/api/v1/documents",
        headers=stack.tokens.partner(other["id"]),
        json={"title": "Accounts", "kind": "accounts", "url": "https://other.example.org/a.pdf"},
    )
    ours = await stack.partners.post(
        "/api/v1/documents",
        headers=p.as_partner,
        json={"title": "Accounts", "kind": "accounts", "url": "https://ours.example.org/a.pdf"},
    )
    response = await stack.partners.post(
        "/api/v1/updates",
        headers=p.as_partner,
        json={"what_changed": "See accounts", "document_ids": [theirs.json()["id"]]},
    )
    assert response.status_code == 422
    assert "document_ids" in response.json()["errors"]
    sent = await update(stack, p, document_ids=[ours.json()["id"]])
    assert sent["document_ids"] == [ours.json()["id"]]
    response = await stack.partners.post(
        "/api/v1/updates",
        headers=p.as_partner,
        json={"what_changed": "x", "links": [{"title": "Notes", "url": "ftp://x.example.org"}]},
    )
    assert response.status_code == 422
    assert "links.0.url" in response.json()["errors"]


async def test_first_reply_time_is_recorded_and_emitted_once(stack: Stack) -> None:
    p = await pair(stack)
    sent = await update(stack, p)
    # The update arrived three days ago.
    three_days_ago = utcnow() - timedelta(days=3)
    async with stack.apps["partners"].state.db.sessionmaker() as session:
        await session.execute(
            sql_update(UpdateRow)
            .where(UpdateRow.id == uuid.UUID(sent["id"]))
            .values(sent_at=three_days_ago)
        )
        await session.commit()
    thread = f"/api/v1/updates/{sent['id']}/replies"

    # The partner adding to its own update is not the funder replying.
    response = await stack.partners.post(
        thread, headers=p.as_partner, json={"body": "One more thing: we found a new venue."}
    )
    assert response.status_code == 201
    assert response.json()["author_side"] == "partner"
    assert (await stack.partners.get(f"/api/v1/updates/{sent['id']}", headers=p.staff)).json()[
        "first_reply_at"
    ] is None

    response = await stack.partners.post(
        thread, headers={**p.staff, "Idempotency-Key": "r-1"}, json={"body": "Thank you!"}
    )
    assert response.status_code == 201
    assert response.json()["author_side"] == "funder"
    response = await stack.partners.post(
        thread, headers=p.staff, json={"body": "And congratulations on the venue."}
    )
    assert response.status_code == 201
    response = await stack.partners.post(
        thread, headers=p.as_partner, json={"body": "Thanks, come and see it."}
    )
    assert response.status_code == 201

    copy = (await stack.partners.get(f"/api/v1/updates/{sent['id']}", headers=p.staff)).json()
    assert copy["reply_count"] == 4
    assert 3 * 86400 - 5 <= copy["reply_seconds"] <= 3 * 86400 + 60
    replied = [
        e
        for e in await outbox_events(stack, "update.replied")
        if e["data"]["update_id"] == sent["id"]
    ]
    assert len(replied) == 1
    data = replied[0]["data"]
    assert data["funder_id"] == p.funder_id and data["partner_id"] == p.partner_id
    assert data["reply_seconds"] == copy["reply_seconds"]
    assert data["first_reply_at"].replace("+00:00", "Z") == copy["first_reply_at"]
    assert data["received_at"][:19] == three_days_ago.isoformat()[:19]

    response = await stack.partners.get(thread, headers=p.as_partner)
    assert response.headers["content-range"] == "replies 0-3/4"
    assert [r["author_side"] for r in response.json()] == ["partner", "funder", "funder", "partner"]
    response = await stack.partners.get(
        "/api/v1/updates", headers=p.staff, params={"filter": '{"replied":false}'}
    )
    assert sent["id"] not in [u["id"] for u in response.json()]
    await stack.deliver_events()
