"""Idempotency keys are scoped by tenant and caller, not by ``sub`` alone.

The finding: two callers with the same ``sub`` and key at different funders got
each other's stored answer (funder Y's staff were answered with funder X's new
partner record, and nothing was created for Y).
"""

from services.common.auth import caller_from_claims
from services.common.idempotency import owner_of
from tests.support import Stack


async def test_the_same_sub_and_key_at_two_funders_get_their_own_answers(stack: Stack) -> None:
    x, y = await stack.new_funder(), await stack.new_funder()
    key = {"Idempotency-Key": "add-partner-1"}
    body = {"name": "Hillside Youth Project"}
    at_x = await stack.partners.post(
        "/api/v1/partners",
        headers={**stack.tokens.staff(x["id"], sub="sam@consultancy.test"), **key},
        json=body,
    )
    at_y = await stack.partners.post(
        "/api/v1/partners",
        headers={**stack.tokens.staff(y["id"], sub="sam@consultancy.test"), **key},
        json=body,
    )
    assert at_x.status_code == at_y.status_code == 201
    assert "idempotent-replayed" not in at_y.headers
    assert at_y.json()["id"] != at_x.json()["id"]
    # Y's staff see the record Y made, and X's is not Y's to see.
    staff_y = stack.tokens.staff(y["id"], sub="sam@consultancy.test")
    mine = await stack.partners.get(f"/api/v1/partners/{at_y.json()['id']}", headers=staff_y)
    assert mine.status_code == 200
    theirs = await stack.partners.get(f"/api/v1/partners/{at_x.json()['id']}", headers=staff_y)
    assert theirs.status_code == 404
    # A retry at X still replays X's answer.
    again = await stack.partners.post(
        "/api/v1/partners",
        headers={**stack.tokens.staff(x["id"], sub="sam@consultancy.test"), **key},
        json=body,
    )
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["id"] == at_x.json()["id"]


def test_every_part_of_who_a_caller_acts_as_scopes_its_keys() -> None:
    base = {
        "sub": "sam",
        "roles": ["funder_staff"],
        "funder_id": "8d6c1c1e-0000-4000-8000-000000000001",
    }
    variants = [
        base,
        {**base, "funder_id": "8d6c1c1e-0000-4000-8000-000000000002"},
        {**base, "client_id": "another-app"},
        {**base, "mid": "membership-2"},
        {"sub": "sam", "roles": ["partner"], "partner_id": base["funder_id"]},
        {"sub": "sam", "roles": ["platform_admin"]},
    ]
    owners = {owner_of(caller_from_claims(claims)) for claims in variants}
    assert len(owners) == len(variants)
    assert owner_of(caller_from_claims(base)) == owner_of(caller_from_claims(dict(base)))
