"""Rounds: invitation from partners' active relationships; one response per partner."""

import pytest

from tests.feedback.support import API, new_funder
from tests.support import Stack


async def test_partners_in_an_active_relationship_are_invited_when_it_opens(stack: Stack) -> None:
    f = await new_funder(stack, partners=2)
    exploring = await stack.new_partner(f.id, status="exploring")
    await f.commitment("We pay on the date we promised")
    round_ = await f.round(open_=False)
    assert round_["status"] == "draft" and round_["commitments"] == []
    # A partner that becomes active before the round opens is invited.
    late = await stack.new_partner(f.id, status="active")
    r = await stack.feedback.post(f"{API}/rounds/{round_['id']}/open", headers=f.staff)
    assert r.status_code == 200, r.text
    opened = r.json()
    assert opened["status"] == "open"
    assert opened["invited_count"] == 3
    assert opened["response_count"] is None  # not while it is open
    assert len(opened["commitments"]) == 1
    # Invited partners see it; others do not.
    for p in [*f.partners, late]:
        r = await stack.feedback.get(
            f"{API}/rounds/{round_['id']}", headers=stack.tokens.partner(p["id"])
        )
        assert r.status_code == 200 and r.json()["answered"] is False
    r = await stack.feedback.get(
        f"{API}/rounds/{round_['id']}", headers=stack.tokens.partner(exploring["id"])
    )
    assert r.status_code == 404
    r = await stack.feedback.get(f"{API}/rounds", headers=stack.tokens.partner(exploring["id"]))
    assert r.json() == []
    # A partner that becomes active after it opened is not invited.
    after = await stack.new_partner(f.id, status="active")
    r = await stack.feedback.get(
        f"{API}/rounds/{round_['id']}", headers=stack.tokens.partner(after["id"])
    )
    assert r.status_code == 404
    # Opening twice is refused.
    r = await stack.feedback.post(f"{API}/rounds/{round_['id']}/open", headers=f.staff)
    assert r.status_code == 409


async def test_opening_when_partners_cannot_be_reached_is_503_and_changes_nothing(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    f = await new_funder(stack, partners=1)
    await f.commitment("We reply within two weeks")
    round_ = await f.round(open_=False)
    client = stack.apps["feedback"].state.services["partners"]
    monkeypatch.setattr(client, "base_url", "http://127.0.0.1:9")  # nothing listens there
    r = await stack.feedback.post(f"{API}/rounds/{round_['id']}/open", headers=f.staff)
    monkeypatch.undo()
    assert r.status_code == 503, r.text
    assert r.json()["service"] == "partners"
    r = await stack.feedback.get(f"{API}/rounds/{round_['id']}", headers=f.staff)
    assert r.json()["status"] == "draft" and r.json()["invited_count"] == 0


async def test_one_response_per_partner_changeable_until_close(stack: Stack) -> None:
    f = await new_funder(stack, partners=2)
    await f.commitment("We pay on time")
    await f.commitment("We reply within two weeks")
    round_ = await f.round()
    out = await f.answer(round_, 0, [4, "dont_know"], comments=["Always on time", None])
    assert out["partner_id"] == f.partners[0]["id"] and out["anonymous"] is False
    assert [r["rating"] for r in out["ratings"]] == [4, "dont_know"]
    # A second response is refused, named or anonymous.
    await f.answer(round_, 0, [1, 1], expect=409)
    await f.answer(round_, 0, [1, 1], anonymous=True, expect=409)
    # Every commitment must be rated, once.
    r = await stack.feedback.post(
        f"{API}/rounds/{round_['id']}/responses",
        headers=f.partner(1),
        json={
            "ratings": [{"commitment_id": round_["commitments"][0]["commitment_id"], "rating": 3}]
        },
    )
    assert r.status_code == 422 and "missing" in r.json()["errors"]["ratings"][0]
    r = await stack.feedback.post(
        f"{API}/rounds/{round_['id']}/responses",
        headers=f.partner(1),
        json={
            "ratings": [{"commitment_id": round_["commitments"][0]["commitment_id"], "rating": 7}]
        },
    )
    assert r.status_code == 422
    # The named answer can be changed while open.
    changed = {
        "ratings": [
            {"commitment_id": c["commitment_id"], "rating": 5} for c in round_["commitments"]
        ]
    }
    r = await stack.feedback.put(
        f"{API}/rounds/{round_['id']}/responses/mine", headers=f.partner(0), json=changed
    )
    assert r.status_code == 200 and [x["rating"] for x in r.json()["ratings"]] == [5, 5]
    r = await stack.feedback.get(
        f"{API}/rounds/{round_['id']}/responses/mine", headers=f.partner(0)
    )
    assert [x["rating"] for x in r.json()["ratings"]] == [5, 5]
    r = await stack.feedback.get(f"{API}/rounds/{round_['id']}", headers=f.partner(0))
    assert r.json()["answered"] is True
    await f.close(round_)
    r = await stack.feedback.put(
        f"{API}/rounds/{round_['id']}/responses/mine", headers=f.partner(0), json=changed
    )
    assert r.status_code == 409
    await f.answer(round_, 1, [3, 3], expect=409)
    # Staff read the named response.
    r = await stack.feedback.get(
        f"{API}/responses",
        headers=f.staff,
        params={"filter": f'{{"round_id":"{round_["id"]}"}}'},
    )
    assert [x["partner_id"] for x in r.json()] == [f.partners[0]["id"]]
    assert r.headers["content-range"] == "responses 0-0/1"
