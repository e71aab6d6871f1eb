"""Rounds: invitation from partners' active relationships; one response per partner."""

import uuid

import pytest

from tests.feedback.support import API, new_funder
from tests.partners.people_helpers import claim
from tests.support import Stack


async def test_partners_in_an_active_relationship_are_invited_when_it_opens(stack: Stack) -> None:
    f = await new_funder(stack, partners=2)
    exploring = await stack.new_partner(f.id, status="exploring")
    await f.commitment("We pay on the date we promised")
    round_ = await f.round(open_=False)
    assert round_["status"] == "draft" and round_["commitments"] == []
    # A partner that becomes active before the round opens is invited.
    late = await stack.new_partner(f.id, status="active")
    await claim(stack, late["id"])
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
    await claim(stack, after["id"])
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


async def _invited(stack: Stack, round_: dict, partner: dict) -> bool:
    """Whether the partner sees the round and may take its ballot (both 404 otherwise)."""
    view = await stack.feedback.get(
        f"{API}/rounds/{round_['id']}", headers=stack.tokens.partner(partner["id"])
    )
    ballot = await stack.feedback.post(
        f"{API}/rounds/{round_['id']}/ballots",
        headers=stack.tokens.partner(partner["id"]),
        json={"blinded_message": "A" * 344},
    )
    assert (view.status_code == 200) is (ballot.status_code != 404), (view.text, ballot.text)
    return view.status_code == 200


async def test_an_organisation_nobody_claimed_is_not_invited_until_it_claims(
    stack: Stack,
) -> None:
    """Staff must not reach k with organisations they control: a record the funder added
    counts only once the organisation's own people have claimed it."""
    f = await new_funder(stack, partners=1)
    unclaimed = await stack.new_partner(f.id, status="active")
    await f.commitment("We pay on the date we promised")
    first = await f.round("Before it claims")
    assert first["invited_count"] == 1
    assert await _invited(stack, first, f.partners[0])
    assert not await _invited(stack, first, unclaimed)
    r = await stack.feedback.post(
        f"{API}/rounds/{first['id']}/responses",
        headers=stack.tokens.partner(unclaimed["id"]),
        json={
            "ratings": [{"commitment_id": first["commitments"][0]["commitment_id"], "rating": 5}]
        },
    )
    assert r.status_code == 404
    # Its own person joins it (an invitation accepted): the next round invites it.
    await claim(stack, unclaimed["id"])
    second = await f.round("After it claims")
    assert second["invited_count"] == 2
    assert await _invited(stack, second, unclaimed)
    assert not await _invited(stack, first, unclaimed)  # not the round that opened before


async def test_a_round_with_only_unclaimed_partners_cannot_open(stack: Stack) -> None:
    f = await new_funder(stack, partners=2, claimed=False)
    await f.commitment("We pay on the date we promised")
    round_ = await f.round(open_=False)
    r = await stack.feedback.post(f"{API}/rounds/{round_['id']}/open", headers=f.staff)
    assert r.status_code == 409, r.text
    assert "claimed" in r.json()["detail"]
    r = await stack.feedback.get(f"{API}/rounds/{round_['id']}", headers=f.staff)
    assert r.json()["status"] == "draft" and r.json()["invited_count"] == 0


async def test_an_organisation_that_has_not_accepted_the_funder_is_not_invited(
    stack: Stack,
) -> None:
    """A claimed organisation another funder links by org-id is invited by that funder only
    once it accepts it (sharing ``accepted``)."""
    org_id = f"GB-CHC-{uuid.uuid4().int % 9_000_000 + 1_000_000}"
    a = await new_funder(stack, partners=0)
    shared = await stack.new_partner(a.id, org_id=org_id, charity_number=org_id[7:])
    await claim(stack, shared["id"])
    b = await new_funder(stack, partners=1)
    linked = await stack.new_partner(b.id, org_id=org_id)
    assert linked["id"] == shared["id"] and linked["relationship"]["sharing"] == "pending"
    await b.commitment("We reply within two weeks")
    pending = await b.round("Not yet accepted")
    assert pending["invited_count"] == 1 and not await _invited(stack, pending, shared)
    r = await stack.partners.put(
        f"{API}/partners/{shared['id']}/sharing/{b.id}",
        headers=stack.tokens.partner(shared["id"]),
        json={"sharing": "accepted"},
    )
    assert r.status_code == 200, r.text
    accepted = await b.round("Accepted")
    assert accepted["invited_count"] == 2 and await _invited(stack, accepted, shared)


async def test_no_staff_api_makes_an_organisation_claimed(stack: Stack) -> None:
    f = await new_funder(stack, partners=1)
    await f.commitment("We pay on the date we promised")
    target = await stack.new_partner(f.id, status="active")
    assert target["claimed_at"] is None
    attempts = [
        ("post", f"{API}/partners", {"name": "Ours", "status": "active", "claimed_at": "2020"}),
        ("put", f"{API}/partners/{target['id']}", {"claimed_at": "2020-01-01T00:00:00Z"}),
        ("put", f"{API}/partners/{target['id']}", {"name": "Renamed", "claimed": True}),
        # The staff member's own address is not one of the organisation's contacts.
        (
            "post",
            f"{API}/invitations",
            {"email": "staff@funder.test", "role": "partner", "partner_id": target["id"]},
        ),
        (
            "post",
            f"{API}/contacts",
            {"name": "Staff as contact", "email": "staff@funder.test"},
        ),
    ]
    for method, path, body in attempts:
        r = await getattr(stack.partners, method)(path, headers=f.staff, json=body)
        if r.status_code == 200:  # a read-only field echoed back is ignored, never applied
            assert "claimed_at" in body and r.json()["claimed_at"] is None
        else:
            assert r.status_code in {403, 404, 409, 422}, (path, r.status_code, r.text)
    r = await stack.partners.get(f"{API}/partners/{target['id']}", headers=f.staff)
    assert r.json()["claimed_at"] is None
    round_ = await f.round()
    assert round_["invited_count"] == 1 and not await _invited(stack, round_, target)
