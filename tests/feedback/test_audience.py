"""Hear from everyone: a round's audience (ended relationships, chosen organisations, a
pool's partners) and the end-of-grant round offered when a grant completes. Only claimed
organisations that accepted the funder are invited, whatever the audience."""

import uuid
from datetime import date, datetime, timedelta
from typing import Any

from tests.feedback.support import API, Funder, new_funder
from tests.funding.pool_helpers import new_pool
from tests.partners.people_helpers import claim
from tests.support import Stack


async def _draft(f: Funder, expect: int = 201, **fields: Any) -> dict[str, Any]:
    today = date.today()
    body = {
        "title": "Hearing from everyone",
        "opens_on": today.isoformat(),
        "closes_on": (today + timedelta(days=28)).isoformat(),
        **fields,
    }
    r = await f.stack.feedback.post(f"{API}/rounds", headers=f.staff, json=body)
    assert r.status_code == expect, r.text
    return r.json()


async def _open(f: Funder, round_: dict[str, Any], expect: int = 200) -> dict[str, Any]:
    r = await f.stack.feedback.post(f"{API}/rounds/{round_['id']}/open", headers=f.staff)
    assert r.status_code == expect, r.text
    return r.json()


async def _end(stack: Stack, f: Funder, partner: dict[str, Any]) -> None:
    r = await stack.partners.put(
        f"{API}/relationships/{partner['relationship']['id']}",
        headers=f.staff,
        json={"status": "ended"},
    )
    assert r.status_code == 200, r.text


async def _claimed(stack: Stack, f: Funder, status: str = "active") -> dict[str, Any]:
    partner = await stack.new_partner(f.id, status=status)
    await claim(stack, partner["id"])
    return partner


async def test_an_ended_partner_answers_when_chosen_and_gets_404_otherwise(
    stack: Stack,
) -> None:
    f = await new_funder(stack, partners=1)
    await f.commitment("We pay on the date we promised")
    ended = await _claimed(stack, f)
    await _end(stack, f, ended)
    as_ended = stack.tokens.partner(ended["id"])
    usual = await f.round("Active partners only")
    assert usual["audience"] == "active" and usual["invited_count"] == 1
    r = await stack.feedback.get(f"{API}/rounds/{usual['id']}", headers=as_ended)
    assert r.status_code == 404
    ratings = [{"commitment_id": usual["commitments"][0]["commitment_id"], "rating": 4}]
    r = await stack.feedback.post(
        f"{API}/rounds/{usual['id']}/responses", headers=as_ended, json={"ratings": ratings}
    )
    assert r.status_code == 404

    chosen = await _draft(f, audience="chosen", organisation_ids=[ended["id"], f.partners[0]["id"]])
    assert chosen["audience"] == "chosen"
    assert sorted(chosen["organisation_ids"]) == sorted([ended["id"], f.partners[0]["id"]])
    chosen = await _open(f, chosen)
    assert chosen["invited_count"] == 2
    r = await stack.feedback.get(f"{API}/rounds/{chosen['id']}", headers=as_ended)
    assert r.status_code == 200
    assert r.json()["organisation_ids"] is None  # a partner never learns who else was asked
    ratings = [{"commitment_id": chosen["commitments"][0]["commitment_id"], "rating": 2}]
    r = await stack.feedback.post(
        f"{API}/rounds/{chosen['id']}/responses", headers=as_ended, json={"ratings": ratings}
    )
    assert r.status_code == 201, r.text
    # And anonymously, with a ballot, as any invited partner.
    f.partners.append(ended)
    out = await f.answer(chosen, len(f.partners) - 1, [3], anonymous=True, expect=409)
    assert "409" in out["error"]  # it has answered by name already: one answer per partner
    assert (await f.answer(chosen, 0, [5], anonymous=True))["ballot"]


async def test_the_ended_audience_invites_claimed_ended_partners_only(stack: Stack) -> None:
    f = await new_funder(stack, partners=1)
    await f.commitment("We reply within two weeks")
    ended = await _claimed(stack, f)
    await _end(stack, f, ended)
    unclaimed = await stack.new_partner(f.id, status="active")
    await _end(stack, f, unclaimed)
    round_ = await _open(f, await _draft(f, audience="ended"))
    assert round_["invited_count"] == 1
    for partner, code in ((ended, 200), (unclaimed, 404), (f.partners[0], 404)):
        r = await stack.feedback.get(
            f"{API}/rounds/{round_['id']}", headers=stack.tokens.partner(partner["id"])
        )
        assert r.status_code == code, partner


async def test_chosen_organisations_that_never_claimed_are_left_out(stack: Stack) -> None:
    f = await new_funder(stack, partners=0)
    await f.commitment("We reply within two weeks")
    declined = await stack.new_partner(f.id, status="exploring")
    round_ = await _draft(f, audience="chosen", organisation_ids=[declined["id"]])
    r = await _open(f, round_, expect=409)
    assert "claimed" in r["detail"]
    await claim(stack, declined["id"])
    opened = await _open(f, round_)
    assert opened["invited_count"] == 1


async def test_an_audience_is_checked_with_errors_that_say_what_to_fix(stack: Stack) -> None:
    f = await new_funder(stack, partners=1)
    other = await new_funder(stack, partners=1)
    cases = [
        ({"audience": "chosen"}, "organisation_ids"),
        ({"audience": "chosen", "organisation_ids": []}, "organisation_ids"),
        ({"audience": "chosen", "organisation_ids": [other.partners[0]["id"]]}, "organisation_ids"),
        ({"audience": "chosen", "organisation_ids": [str(uuid.uuid4())]}, "organisation_ids"),
        ({"audience": "chosen", "organisation_ids": ["not-a-uuid"]}, "organisation_ids"),
        ({"organisation_ids": [f.partners[0]["id"]]}, "organisation_ids"),
        ({"audience": "pool"}, "pool_id"),
        ({"audience": "pool", "pool_id": str(uuid.uuid4())}, "pool_id"),
        ({"audience": "ended", "pool_id": str(uuid.uuid4())}, "pool_id"),
        ({"audience": "everyone"}, "audience"),
    ]
    for fields, field in cases:
        problem = await _draft(f, expect=422, **fields)
        assert any(k.split(".")[0] == field for k in problem["errors"]), (fields, problem)
        assert problem["status"] == 422 and problem["detail"]
    # Other funders' partners are not named back.
    problem = await _draft(
        f, expect=422, audience="chosen", organisation_ids=[other.partners[0]["id"]]
    )
    assert other.partners[0]["name"] not in str(problem)
    # Nothing was written.
    r = await stack.feedback.get(f"{API}/rounds", headers=f.staff)
    assert r.json() == []


async def test_whom_a_round_asks_changes_only_while_it_is_a_draft(stack: Stack) -> None:
    f = await new_funder(stack, partners=2)
    await f.commitment("We reply within two weeks")
    round_ = await _draft(f)
    r = await stack.feedback.put(
        f"{API}/rounds/{round_['id']}",
        headers=f.staff,
        json={"audience": "chosen", "organisation_ids": [f.partners[1]["id"]]},
    )
    assert r.status_code == 200, r.text
    assert r.json()["organisation_ids"] == [f.partners[1]["id"]]
    opened = await _open(f, r.json())
    assert opened["invited_count"] == 1
    # Whom it asks, sent back unchanged (as a client echoing the record does), is no change.
    echo = {k: opened[k] for k in ("title", "audience", "organisation_ids", "pool_id", "origin")}
    r = await stack.feedback.put(f"{API}/rounds/{round_['id']}", headers=f.staff, json=echo)
    assert r.status_code == 200, r.text
    r = await stack.feedback.put(
        f"{API}/rounds/{round_['id']}", headers=f.staff, json={"audience": "active"}
    )
    assert r.status_code == 409 and "cannot change" in r.json()["detail"]


async def test_a_pool_round_asks_the_pools_organisations_that_accepted_the_funder(
    stack: Stack,
) -> None:
    pool = await new_pool(stack, members=2)
    host, member = pool.members
    await claim(stack, host.partner["id"])
    await claim(stack, member.partner["id"])
    proposal = await pool.propose(host, 1000)
    assert proposal["partner_id"] == host.partner["id"]
    f = Funder(stack, host.funder, [host.partner])
    await f.commitment("We decide together, openly")
    round_ = await _open(f, await _draft(f, audience="pool", pool_id=pool.id))
    assert round_["audience"] == "pool" and round_["pool_id"] == pool.id
    assert round_["invited_count"] == 1
    r = await stack.feedback.get(
        f"{API}/rounds/{round_['id']}", headers=stack.tokens.partner(host.partner["id"])
    )
    assert r.status_code == 200
    # The member's own partner is not the pool's, and not invited.
    r = await stack.feedback.get(
        f"{API}/rounds/{round_['id']}", headers=stack.tokens.partner(member.partner["id"])
    )
    assert r.status_code == 404
    # A funder that is not a member cannot name the pool.
    outsider = await new_funder(stack, partners=1)
    problem = await _draft(outsider, expect=422, audience="pool", pool_id=pool.id)
    assert "pool_id" in problem["errors"]


async def _send(stack: Stack, data: dict[str, Any], event_id: str | None = None) -> None:
    r = await stack.feedback.post(
        "/internal/events",
        headers=stack.tokens.service("funding"),
        json={
            "id": event_id or str(uuid.uuid4()),
            "type": "grant.completed",
            "source": "funding",
            "occurred_at": datetime.now().astimezone().isoformat(),
            "data": data,
        },
    )
    assert r.status_code == 200, r.text


async def _offered(stack: Stack, f: Funder) -> list[dict[str, Any]]:
    r = await stack.feedback.get(f"{API}/rounds", headers=f.staff)
    return [r for r in r.json() if r["origin"] == "grant_completed"]


async def test_a_completed_grant_offers_an_end_of_grant_round(stack: Stack) -> None:
    f = await new_funder(stack, partners=2)
    await f.commitment("We pay on the date we promised")
    headers = f.staff
    body = {
        "partner_id": f.partners[0]["id"],
        "title": "Core funding",
        "description": "Unrestricted.",
        "amount_awarded": 300,
        "planned_start_date": "2020-01-01",
        "planned_end_date": "2022-12-31",
    }
    grant = (await stack.funding.post(f"{API}/grants", headers=headers, json=body)).json()
    r = await stack.funding.post(
        f"{API}/grants/{grant['id']}/approve",
        headers=headers,
        json={"decided_on": "2020-01-01", "decided_by": "Board", "reference": "EOG-1"},
    )
    assert r.status_code == 200, r.text
    schedule = await stack.funding.get(f"{API}/grants/{grant['id']}/schedule", headers=headers)
    for instalment in schedule.json()["instalments"]:
        r = await stack.funding.post(
            f"{API}/payments",
            headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
            json={"instalment_id": instalment["id"], "paid_on": date.today().isoformat()},
        )
        assert r.status_code == 201, r.text
    assert await _offered(stack, f) == []
    r = await stack.funding.post(f"{API}/grants/{grant['id']}/complete", headers=headers)
    assert r.status_code == 200, r.text
    await stack.deliver_events()
    [offered] = await _offered(stack, f)
    assert offered["status"] == "draft" and offered["audience"] == "chosen"
    assert offered["organisation_ids"] == [f.partners[0]["id"]]

    # The same completion heard twice (a redelivery, or the same fact in a new event) and
    # another grant of the same partner add nobody; another partner's completion joins.
    event = {
        "grant_id": grant["id"],
        "funder_id": f.id,
        "partner_id": f.partners[0]["id"],
        "completed_on": date.today().isoformat(),
    }
    same = str(uuid.uuid4())
    await _send(stack, event, same)
    await _send(stack, event, same)
    await _send(stack, {**event, "grant_id": str(uuid.uuid4())})
    await _send(stack, {**event, "partner_id": f.partners[1]["id"]})
    [offered] = await _offered(stack, f)
    assert sorted(offered["organisation_ids"]) == sorted(p["id"] for p in f.partners)
    opened = await _open(f, offered)
    assert opened["invited_count"] == 2
    # Once it has opened, a later completion offers a new round.
    await _send(stack, event)
    offered = await _offered(stack, f)
    assert [o["status"] for o in offered].count("draft") == 1
    draft = next(o for o in offered if o["status"] == "draft")
    assert draft["organisation_ids"] == [f.partners[0]["id"]]
