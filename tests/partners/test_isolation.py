"""Isolation of every relationship record: partner A vs partner B, funder X vs funder Y.

A partner sees only its own records; staff see only partners in relationship
with their funder; anything else is a 404, the same as a record that does not exist.
"""

import uuid
from dataclasses import dataclass
from typing import Any

import pytest

from tests.partners.helpers import Pair, interaction, pair, update
from tests.support import Stack


@dataclass
class World:
    x: Pair  # funder X and its partner A
    b: dict[str, str]  # partner B (also funded by X)
    y: Pair  # funder Y and its partner C
    records: dict[str, str]  # resource -> URL of one of A's records


async def build(stack: Stack) -> World:
    x = await pair(stack)
    partner_b = await stack.new_partner(x.funder_id)
    y = await pair(stack)
    met = await interaction(stack, x)
    own_doc = await stack.partners.post(
        "/api/v1/documents",
        headers=x.as_partner,
        json={"title": "Accounts", "kind": "accounts", "url": "https://a.example.org/a.pdf"},
    )
    found_doc = await stack.partners.post(
        "/api/v1/documents",
        headers=x.staff,
        json={
            "partner_id": x.partner_id,
            "title": "Press piece",
            "kind": "other",
            "url": "https://news.example.org/a",
        },
    )
    contact = await stack.partners.post(
        "/api/v1/contacts", headers=x.as_partner, json={"name": "Jo Baker"}
    )
    sent = await update(stack, x)
    await stack.partners.post(
        f"/api/v1/updates/{sent['id']}/replies", headers=x.staff, json={"body": "Thanks"}
    )
    records = {
        "interactions": f"/api/v1/interactions/{met['id']}",
        "documents": f"/api/v1/documents/{own_doc.json()['id']}",
        "staff documents": f"/api/v1/documents/{found_doc.json()['id']}",
        "contacts": f"/api/v1/contacts/{contact.json()['id']}",
        "updates": f"/api/v1/updates/{sent['id']}",
        "replies": f"/api/v1/updates/{sent['id']}/replies",
        "timeline": f"/api/v1/partners/{x.partner_id}/timeline",
    }
    return World(x, stack.tokens.partner(partner_b["id"]), y, records)


LISTS = {
    "interactions": "/api/v1/interactions",
    "documents": "/api/v1/documents",
    "contacts": "/api/v1/contacts",
    "updates": "/api/v1/updates",
}


@pytest.fixture(scope="module")
async def world(stack: Stack) -> World:
    return await build(stack)


def intruders(world: World) -> dict[str, dict[str, str]]:
    return {"partner B": world.b, "funder Y": world.y.staff}


async def test_owners_see_every_record(stack: Stack, world: World) -> None:
    for url in world.records.values():
        for headers in (world.x.staff, world.x.as_partner):
            response = await stack.partners.get(url, headers=headers)
            assert response.status_code == 200, (url, response.text)
    for name, url in LISTS.items():
        for headers in (world.x.staff, world.x.as_partner):
            response = await stack.partners.get(url, headers=headers)
            assert response.json(), name


@pytest.mark.parametrize(
    "resource",
    ["interactions", "documents", "staff documents", "contacts", "updates", "replies", "timeline"],
)
async def test_others_get_404_reading_a_record(stack: Stack, world: World, resource: str) -> None:
    url = world.records[resource]
    for who, headers in intruders(world).items():
        response = await stack.partners.get(url, headers=headers)
        assert response.status_code == 404, (who, resource)
        assert response.headers["content-type"] == "application/problem+json"
    missing = url.replace(url.split("/")[4], str(uuid.uuid4()))
    response = await stack.partners.get(missing, headers=world.x.staff)
    assert response.status_code == 404


@pytest.mark.parametrize("resource", sorted(LISTS))
async def test_others_lists_never_show_the_record(
    stack: Stack, world: World, resource: str
) -> None:
    for who, headers in intruders(world).items():
        for filter_ in ("{}", f'{{"partner_id":"{world.x.partner_id}"}}'):
            response = await stack.partners.get(
                LISTS[resource], headers=headers, params={"filter": filter_}
            )
            assert response.status_code == 200, response.text
            assert response.json() == [], (who, resource)
            assert response.headers["content-range"] == f"{resource} */0"


async def test_others_cannot_change_reply_to_or_erase_records(stack: Stack, world: World) -> None:
    r = world.records
    attempts: list[tuple[str, str, dict[str, Any] | None]] = [
        ("PUT", r["documents"], {"title": "Mine now"}),
        ("DELETE", r["documents"], None),
        ("PUT", r["staff documents"], {"title": "Mine now"}),
        ("PUT", r["contacts"], {"name": "Someone else"}),
        ("DELETE", r["contacts"], None),
        ("POST", r["replies"], {"body": "Hello"}),
    ]
    for who, headers in intruders(world).items():
        for method, url, body in attempts:
            response = await stack.partners.request(method, url, headers=headers, json=body)
            assert response.status_code in (403, 404), (who, method, url)
            if not (who == "funder Y" and method == "PUT" and "contacts" in url):
                assert response.status_code == 404, (who, method, url, response.text)
    # Staff of funder Y cannot change X's interactions or record one for A.
    response = await stack.partners.put(
        r["interactions"], headers=world.y.staff, json={"summary": "Mine now"}
    )
    assert response.status_code == 404
    response = await stack.partners.delete(r["interactions"], headers=world.y.staff)
    assert response.status_code == 404
    body = {
        "partner_id": world.x.partner_id,
        "kind": "visit",
        "occurred_at": "2025-01-01T00:00:00Z",
        "summary": "x",
    }
    response = await stack.partners.post("/api/v1/interactions", headers=world.y.staff, json=body)
    assert response.status_code == 422
    response = await stack.partners.post(
        "/api/v1/documents",
        headers=world.y.staff,
        json={
            "partner_id": world.x.partner_id,
            "title": "t",
            "kind": "other",
            "url": "https://a.b",
        },
    )
    assert response.status_code == 422
    # A partner cannot add a document for another partner.
    response = await stack.partners.post(
        "/api/v1/documents",
        headers=world.b,
        json={
            "partner_id": world.x.partner_id,
            "title": "t",
            "kind": "other",
            "url": "https://a.b",
        },
    )
    assert response.status_code == 422
    # Nothing changed.
    response = await stack.partners.get(r["contacts"], headers=world.x.as_partner)
    assert response.json()["name"] == "Jo Baker"
    response = await stack.partners.get(r["replies"], headers=world.x.as_partner)
    assert [m["body"] for m in response.json()] == ["Thanks"]


async def test_a_partner_cannot_address_a_funder_it_does_not_work_with(
    stack: Stack, world: World
) -> None:
    response = await stack.partners.post(
        "/api/v1/updates",
        headers=world.x.as_partner,
        json={"funder_ids": [world.y.funder_id], "what_changed": "Hello"},
    )
    assert response.status_code == 422
    response = await stack.partners.get("/api/v1/updates", headers=world.y.staff)
    assert response.json() == []
