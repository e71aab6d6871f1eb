"""Answers and actions ("you said, we did"): partners and the public see them only when
published."""

from tests.feedback.support import API, new_funder
from tests.support import Stack


async def test_actions_reach_partners_and_the_public_only_when_published(stack: Stack) -> None:
    f = await new_funder(stack, partners=5)
    c = await f.commitment("We pay on the date we promised")
    round_ = await f.round()
    for i in range(5):
        await f.answer(round_, i, [2], anonymous=True)
    await f.close(round_)
    r = await stack.feedback.post(
        f"{API}/actions",
        headers=f.staff,
        json={
            "title": "Pay every instalment by BACS on its due date",
            "round_id": round_["id"],
            "commitment_id": c["id"],
            "due_on": "2026-12-31",
        },
    )
    assert r.status_code == 201, r.text
    action = r.json()
    assert action["status"] == "planned" and action["published"] is False
    # Not doing something needs the reason.
    r = await stack.feedback.put(
        f"{API}/actions/{action['id']}", headers=f.staff, json={"status": "not_doing"}
    )
    assert r.status_code == 422 and "reason" in r.json()["errors"]
    # Unpublished: partners and the public see nothing.
    r = await stack.feedback.get(f"{API}/actions", headers=f.partner(0))
    assert r.json() == []
    r = await stack.feedback.get(f"{API}/actions/{action['id']}", headers=f.partner(0))
    assert r.status_code == 404
    await f.publish(round_, answer="We will pay on time.")
    await f.set(scorecard_published=True)
    r = await stack.feedback.get(f"{API}/public/feedback/{f.slug}/scorecard")
    assert r.json()["actions"] == []
    # Published: partners see it, and the public on the published scorecard.
    r = await stack.feedback.put(
        f"{API}/actions/{action['id']}",
        headers={**f.staff, "If-Match": f'"v{action["version"]}"'},
        json={"status": "done", "published": True},
    )
    assert r.status_code == 200, r.text
    assert r.json()["done_on"] is not None and r.json()["published_at"] is not None
    r = await stack.feedback.get(f"{API}/actions", headers=f.partner(3))
    assert [a["id"] for a in r.json()] == [action["id"]]
    r = await stack.feedback.get(f"{API}/public/feedback/{f.slug}/scorecard")
    public = r.json()
    assert [a["title"] for a in public["actions"]] == [action["title"]]
    assert public["commitments"][0]["actions"][0]["status"] == "done"
    # Another funder's partner never sees it.
    g = await new_funder(stack, partners=1)
    r = await stack.feedback.get(f"{API}/actions/{action['id']}", headers=g.partner(0))
    assert r.status_code == 404
    r = await stack.feedback.get(f"{API}/actions/{action['id']}", headers=g.staff)
    assert r.status_code == 404
    # Links must be the funder's own.
    r = await stack.feedback.post(
        f"{API}/actions", headers=g.staff, json={"title": "x", "commitment_id": c["id"]}
    )
    assert r.status_code == 422


async def test_an_action_recorded_by_mistake_is_deleted(stack: Stack) -> None:
    f = await new_funder(stack)
    r = await stack.feedback.post(f"{API}/actions", headers=f.staff, json={"title": "Oops"})
    action = r.json()
    g = await new_funder(stack)
    assert (
        await stack.feedback.delete(f"{API}/actions/{action['id']}", headers=g.staff)
    ).status_code == 404
    r = await stack.feedback.delete(f"{API}/actions/{action['id']}", headers=f.staff)
    assert r.status_code == 200 and r.json()["title"] == "Oops"
    assert (
        await stack.feedback.get(f"{API}/actions/{action['id']}", headers=f.staff)
    ).status_code == 404
