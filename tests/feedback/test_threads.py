"""Threads: named two-way conversations, isolated per partner."""

from tests.feedback.support import API, new_funder
from tests.support import Stack


async def test_threads_are_two_way_and_isolated_per_partner(stack: Stack) -> None:
    f = await new_funder(stack, partners=2)
    # A partner starts one.
    r = await stack.feedback.post(
        f"{API}/threads",
        headers=f.partner(0),
        json={"funder_id": f.id, "subject": "About the round", "body": "Can we talk?"},
    )
    assert r.status_code == 201, r.text
    ours = r.json()
    assert ours["started_by"] == "partner" and ours["partner_id"] == f.partners[0]["id"]
    # Staff start another, with the other partner.
    r = await stack.feedback.post(
        f"{API}/threads",
        headers=f.staff,
        json={
            "partner_id": f.partners[1]["id"],
            "subject": "Thank you",
            "body": "For your update.",
        },
    )
    assert r.status_code == 201
    theirs = r.json()
    assert theirs["started_by"] == "funder"
    # Staff reply; the partner reads both messages, named.
    r = await stack.feedback.post(
        f"{API}/threads/{ours['id']}/messages", headers=f.staff, json={"body": "Of course."}
    )
    assert r.status_code == 201 and r.json()["author_role"] == "funder"
    r = await stack.feedback.get(f"{API}/threads/{ours['id']}/messages", headers=f.partner(0))
    assert [(m["author_role"], m["body"]) for m in r.json()] == [
        ("partner", "Can we talk?"),
        ("funder", "Of course."),
    ]
    # Each partner sees only its own threads.
    r = await stack.feedback.get(f"{API}/threads", headers=f.partner(0))
    assert [t["id"] for t in r.json()] == [ours["id"]]
    for path in (f"threads/{theirs['id']}", f"threads/{theirs['id']}/messages"):
        r = await stack.feedback.get(f"{API}/{path}", headers=f.partner(0))
        assert r.status_code == 404
    r = await stack.feedback.post(
        f"{API}/threads/{theirs['id']}/messages", headers=f.partner(0), json={"body": "Hi"}
    )
    assert r.status_code == 404
    r = await stack.feedback.get(f"{API}/threads", headers=f.staff)
    assert {t["id"] for t in r.json()} == {ours["id"], theirs["id"]}
    # Another funder sees none of them; nobody writes to a stranger.
    g = await new_funder(stack, partners=1)
    r = await stack.feedback.get(f"{API}/threads/{ours['id']}", headers=g.staff)
    assert r.status_code == 404
    r = await stack.feedback.post(
        f"{API}/threads",
        headers=g.partner(0),
        json={"funder_id": f.id, "subject": "Hello", "body": "We have never met"},
    )
    assert r.status_code == 404
    r = await stack.feedback.post(
        f"{API}/threads",
        headers=f.staff,
        json={"partner_id": g.partners[0]["id"], "subject": "Hello", "body": "Hi"},
    )
    assert r.status_code == 404
