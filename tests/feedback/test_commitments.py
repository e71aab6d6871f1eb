"""Commitments: versioned words, publish, retire, public reading."""

from tests.feedback.support import API, new_funder
from tests.support import Stack


async def test_editing_a_published_commitment_makes_a_new_version(stack: Stack) -> None:
    f = await new_funder(stack)
    draft = (
        await stack.feedback.post(
            f"{API}/commitments",
            headers=f.staff,
            json={"title": "We pay on tme", "description": "typo", "position": 1},
        )
    ).json()
    assert draft["status"] == "draft" and draft["current_version"] == 1
    # A draft is edited in place: still version 1.
    r = await stack.feedback.put(
        f"{API}/commitments/{draft['id']}", headers=f.staff, json={"title": "We pay on time"}
    )
    assert r.status_code == 200 and r.json()["current_version"] == 1
    r = await stack.feedback.post(f"{API}/commitments/{draft['id']}/publish", headers=f.staff)
    assert r.json()["status"] == "published"
    etag = r.headers["etag"]
    # Published: new words make version 2, the old words are kept.
    r = await stack.feedback.put(
        f"{API}/commitments/{draft['id']}",
        headers={**f.staff, "If-Match": etag},
        json={**r.json(), "title": "We pay on the date we promised"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["current_version"] == 2
    assert r.json()["title"] == "We pay on the date we promised"
    # A stale ETag is refused.
    r = await stack.feedback.put(
        f"{API}/commitments/{draft['id']}",
        headers={**f.staff, "If-Match": etag},
        json={"title": "Lost update"},
    )
    assert r.status_code == 412
    versions = (
        await stack.feedback.get(f"{API}/commitments/{draft['id']}/versions", headers=f.staff)
    ).json()
    assert [(v["number"], v["title"]) for v in versions] == [
        (1, "We pay on time"),
        (2, "We pay on the date we promised"),
    ]
    # Changing only the order does not make a version.
    r = await stack.feedback.put(
        f"{API}/commitments/{draft['id']}", headers=f.staff, json={"position": 3}
    )
    assert r.json()["current_version"] == 2


async def test_public_reads_current_commitments_without_a_token(stack: Stack) -> None:
    f = await new_funder(stack)
    a = await f.commitment("We reply within two weeks", position=2)
    b = await f.commitment("We pay on the date we promised", position=1)
    await stack.feedback.post(
        f"{API}/commitments", headers=f.staff, json={"title": "Still a draft"}
    )
    r = await stack.feedback.get(f"{API}/public/feedback/{f.slug}/commitments")
    assert r.status_code == 200
    assert [c["title"] for c in r.json()] == [b["title"], a["title"]]
    # Retired commitments leave the charter.
    r = await stack.feedback.post(f"{API}/commitments/{a['id']}/retire", headers=f.staff)
    assert r.json()["status"] == "retired"
    r = await stack.feedback.get(f"{API}/public/feedback/{f.slug}/commitments")
    assert [c["title"] for c in r.json()] == [b["title"]]
    r = await stack.feedback.put(
        f"{API}/commitments/{a['id']}", headers=f.staff, json={"title": "Back again"}
    )
    assert r.status_code == 409
    r = await stack.feedback.get(f"{API}/public/feedback/no-such-funder/commitments")
    assert r.status_code == 404


async def test_commitments_are_isolated_per_funder(stack: Stack) -> None:
    f, g = await new_funder(stack, partners=1), await new_funder(stack, partners=1)
    c = await f.commitment("We listen")
    r = await stack.feedback.get(f"{API}/commitments/{c['id']}", headers=g.staff)
    assert r.status_code == 404
    r = await stack.feedback.get(f"{API}/commitments", headers=g.staff)
    assert r.json() == []
    # A partner of f reads it; a partner of g does not.
    r = await stack.feedback.get(f"{API}/commitments/{c['id']}", headers=f.partner(0))
    assert r.status_code == 200
    r = await stack.feedback.get(f"{API}/commitments/{c['id']}", headers=g.partner(0))
    assert r.status_code == 404
    r = await stack.feedback.get(
        f"{API}/commitments", headers=f.staff, params={"filter": f'{{"id":["{c["id"]}"]}}'}
    )
    assert [x["id"] for x in r.json()] == [c["id"]]
    assert r.headers["content-range"] == "commitments 0-0/1"


async def test_ratings_stay_with_the_version_that_was_rated(stack: Stack) -> None:
    f = await new_funder(stack, partners=1)
    c = await f.commitment("We reply within a month")
    round_ = await f.round()
    v1 = round_["commitments"][0]["commitment_version_id"]
    # New words while the round is open: the round still asks about version 1.
    r = await stack.feedback.put(
        f"{API}/commitments/{c['id']}", headers=f.staff, json={"title": "We reply within two weeks"}
    )
    assert r.json()["current_version"] == 2
    out = await f.answer(round_, 0, [4])
    assert out["ratings"][0]["commitment_version_id"] == v1
    r = await stack.feedback.get(f"{API}/rounds/{round_['id']}", headers=f.partner(0))
    assert r.json()["commitments"][0]["title"] == "We reply within a month"
