"""Finance, trustee and staff-admin capabilities come from people's memberships, set by the
funder's staff admins, and reach funding through the access token a person gets when they
sign in with OpenID Connect: a person with ``finance`` prepares or approves a run, one
without cannot, and two different people are needed; a personal decision limit holds."""

import asyncio
import uuid
from typing import Any

from joserfc import jwt

from tests.funding.helpers import Funder, new_funder
from tests.funding.test_runs import TODAY, _due_book
from tests.partners.people_helpers import bearer, sign_in, staff_person
from tests.support import Stack


def _claims(stack: Stack, tokens: dict[str, Any]) -> Any:
    return jwt.decode(tokens["access_token"], stack.tokens.issuer.keys.keys).claims


async def _set(stack: Stack, headers: dict[str, str], tokens: dict[str, Any], **body: Any) -> Any:
    mid = _claims(stack, tokens)["mid"]
    return await stack.partners.put(f"/api/v1/memberships/{mid}", headers=headers, json=body)


async def _again(stack: Stack, address: str) -> dict[str, Any]:
    """Sign in again after a change: tokens issued in the second of a revocation are refused."""
    await asyncio.sleep(1.1)
    return await sign_in(stack, address)


async def _prepare(f: Funder, headers: dict[str, str]) -> Any:
    return await f.stack.funding.post(
        "/api/v1/payment-runs",
        headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
        json={"due_by": TODAY},
    )


async def test_finance_comes_from_the_membership_and_a_run_needs_two_people(
    stack: Stack,
) -> None:
    f = await new_funder(stack)
    await _due_book(f)
    alice, alice_tokens = await staff_person(stack, f.id)
    bob, bob_tokens = await staff_person(stack, f.id)
    carol, carol_tokens = await staff_person(stack, f.id)
    assert _claims(stack, bob_tokens)["roles"] == ["funder_staff"]

    # Without the finance capability, a signed-in staff member cannot prepare a run.
    refused = await _prepare(f, bearer(bob_tokens))
    assert refused.status_code == 403, refused.text
    assert "finance" in refused.json()["detail"]

    # Staff without staff_admin cannot hand out capabilities; a platform admin can.
    response = await _set(stack, bearer(bob_tokens), bob_tokens, capabilities=["finance"])
    assert response.status_code == 403
    response = await _set(stack, stack.tokens.admin(), alice_tokens, capabilities=["staff_admin"])
    assert response.status_code == 200, response.text
    assert response.json()["capabilities"] == ["staff_admin"]
    alice_tokens = await _again(stack, alice)
    assert _claims(stack, alice_tokens)["roles"] == ["funder_staff", "staff_admin"]
    admin = bearer(alice_tokens)
    # Nobody grants themselves the power to pay.
    response = await _set(stack, admin, alice_tokens, capabilities=["staff_admin", "finance"])
    assert response.status_code == 403
    assert "your own" in response.json()["detail"]
    for tokens in (bob_tokens, carol_tokens):
        response = await _set(stack, admin, tokens, capabilities=["finance"])
        assert response.status_code == 200, response.text

    # The old token (issued before the grant) is refused; signing in again carries finance.
    assert (
        await stack.partners.get("/api/v1/memberships", headers=bearer(bob_tokens))
    ).status_code == 401
    bob_tokens = await _again(stack, bob)
    carol_tokens = await _again(stack, carol)
    assert _claims(stack, bob_tokens)["roles"] == ["funder_staff", "finance"]

    run = await _prepare(f, bearer(bob_tokens))
    assert run.status_code == 201, run.text
    url = f"/api/v1/payment-runs/{run.json()['id']}/approve"
    same = await stack.funding.post(url, headers=bearer(bob_tokens))
    assert same.status_code == 403 and "four-eyes" in same.json()["type"]
    no_finance = await stack.funding.post(url, headers=admin)
    assert no_finance.status_code == 403
    approved = await stack.funding.post(url, headers=bearer(carol_tokens))
    assert approved.status_code == 200, approved.text
    assert approved.json()["approved_by"] != approved.json()["prepared_by"]

    # Taking finance away works at once, and is visible on the membership.
    response = await _set(stack, admin, carol_tokens, capabilities=[])
    assert response.status_code == 200 and response.json()["capabilities"] == []
    carol_tokens = await _again(stack, carol)
    assert (await _prepare(f, bearer(carol_tokens))).status_code == 403


async def test_a_personal_decision_limit_and_the_trustee_capability(stack: Stack) -> None:
    f = await new_funder(stack)
    dana, dana_tokens = await staff_person(stack, f.id)
    response = await _set(
        stack,
        stack.tokens.admin(),
        dana_tokens,
        decision_limit=100000,
        decision_limit_currency="GBP",
    )
    assert response.status_code == 200, response.text
    dana_tokens = await _again(stack, dana)
    assert _claims(stack, dana_tokens)["decision_limit"] == {"amount": 100000, "currency": "GBP"}
    small = await f.propose(amount_awarded=100000)
    large = await f.propose(amount_awarded=100001)
    body = {"decided_on": "2030-03-01", "decided_by": "Dana", "reference": "TM-2"}
    ok = await stack.funding.post(
        f"/api/v1/grants/{small['id']}/approve", headers=bearer(dana_tokens), json=body
    )
    assert ok.status_code == 200, ok.text
    above = await stack.funding.post(
        f"/api/v1/grants/{large['id']}/approve", headers=bearer(dana_tokens), json=body
    )
    assert above.status_code == 403 and "your decision limit" in above.json()["detail"]
    # Capabilities are only for a funder's staff; a limit needs its currency.
    response = await _set(stack, stack.tokens.admin(), dana_tokens, decision_limit=5)
    assert response.status_code == 422
    response = await _set(stack, stack.tokens.admin(), dana_tokens, capabilities=["trustee"])
    assert response.status_code == 200
    dana_tokens = await _again(stack, dana)
    decided = await stack.funding.post(
        f"/api/v1/grants/{large['id']}/approve", headers=bearer(dana_tokens), json=body
    )
    assert decided.status_code == 200, decided.text
