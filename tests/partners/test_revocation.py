"""Revocation reaches every service within the documented bound (poll interval + one answer).

The stack's services run their real revocation pollers (default interval, 2 s):
partners reads its own table, funding and feedback ask partners over HTTP.
"""

import asyncio
import time
import uuid

import httpx

from services.common.revocation import sub_key
from services.partners.revocations.service import revoke
from tests.support import Stack

POLL_INTERVAL = 2.0
BOUND = POLL_INTERVAL + 1.5  # one poll, plus the answer and a loaded machine's slack


async def client_token(stack: Stack) -> tuple[dict, dict, str]:
    funder = await stack.new_funder()
    partner = await stack.new_partner(funder["id"])
    made = await stack.partners.post(
        f"/api/v1/partners/{partner['id']}/clients",
        headers=stack.tokens.partner(partner["id"]),
        json={"name": "Hillside CRM"},
    )
    assert made.status_code == 201, made.text
    client = made.json()
    issued = await stack.partners.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(client["client_id"], client["client_secret"]),
    )
    assert issued.status_code == 200, issued.text
    return partner, client, issued.json()["access_token"]


def reads(stack: Stack, partner_id: str) -> list[tuple[httpx.AsyncClient, str]]:
    """One read a partner's token may make at each service."""
    return [
        (stack.partners, f"/api/v1/partners/{partner_id}"),
        (stack.funding, "/api/v1/grants"),
        (stack.feedback, "/api/v1/threads"),
    ]


async def refused_everywhere_within(
    calls: list[tuple[httpx.AsyncClient, str]], headers: dict[str, str], bound: float
) -> float:
    """Seconds until every call answers 401; fails if that takes longer than ``bound``."""
    start = time.monotonic()
    pending = list(calls)
    while pending:
        statuses = await asyncio.gather(*(c.get(path, headers=headers) for c, path in pending))
        pending = [call for call, r in zip(pending, statuses, strict=True) if r.status_code != 401]
        elapsed = time.monotonic() - start
        assert elapsed <= bound, f"still accepted after {elapsed:.1f}s: {pending}"
        if pending:
            await asyncio.sleep(0.1)
    return time.monotonic() - start


async def test_a_revoked_clients_tokens_are_refused_at_every_service(stack: Stack) -> None:
    partner, client, token = await client_token(stack)
    _, _, other_token = await client_token(stack)
    headers = {"Authorization": f"Bearer {token}"}
    calls = reads(stack, partner["id"])
    for http, path in calls:  # good before, and now in every verifier's cache
        response = await http.get(path, headers=headers)
        assert response.status_code == 200, (path, response.text)

    revoked = await stack.partners.delete(
        f"/api/v1/partners/{partner['id']}/clients/{client['id']}",
        headers=stack.tokens.partner(partner["id"]),
    )
    assert revoked.status_code == 200
    elapsed = await refused_everywhere_within(calls, headers, BOUND)
    assert elapsed <= BOUND

    refused = await stack.funding.get("/api/v1/grants", headers=headers)
    assert refused.json()["message"].startswith("This access token was revoked.")
    assert refused.headers["content-type"] == "application/problem+json"
    # Another client's token is untouched.
    still = await stack.funding.get(
        "/api/v1/grants", headers={"Authorization": f"Bearer {other_token}"}
    )
    assert still.status_code == 200


async def test_revoking_a_subject_refuses_older_tokens_not_newer_ones(stack: Stack) -> None:
    """What people's sign-out and membership changes call: ``revoke`` in their transaction."""
    funder = await stack.new_funder()
    sub = f"person-{uuid.uuid4().hex[:8]}@funder.test"
    before = stack.tokens.staff(funder["id"], sub=sub)
    assert (await stack.funding.get("/api/v1/grants", headers=before)).status_code == 200

    app = stack.apps["partners"]
    async with app.state.db.sessionmaker() as session:
        await revoke(session=session, key=sub_key(sub), reason="signed out everywhere")
        await session.commit()
    await asyncio.sleep(1.05)  # iat has whole seconds: a token of the next second is newer
    after = stack.tokens.staff(funder["id"], sub=sub)

    calls = [(stack.partners, f"/api/v1/funders/{funder['id']}"), (stack.funding, "/api/v1/grants")]
    await refused_everywhere_within(calls, before, BOUND)
    for http, path in calls:
        assert (await http.get(path, headers=after)).status_code == 200


async def test_the_revocation_list_is_for_services_only(stack: Stack) -> None:
    funder = await stack.new_funder()
    for headers in ({}, stack.tokens.staff(funder["id"]), stack.tokens.admin()):
        response = await stack.partners.get(
            "/internal/revocations", params={"since": "2020-01-01T00:00:00+00:00"}, headers=headers
        )
        assert response.status_code in (401, 403)
    listed = await stack.partners.get(
        "/internal/revocations",
        params={"since": "2020-01-01T00:00:00+00:00"},
        headers=stack.tokens.service(),
    )
    assert listed.status_code == 200
    assert set(listed.json()) == {"revocations", "as_of"}
    naive = await stack.partners.get(
        "/internal/revocations",
        params={"since": "2020-01-01T00:00:00"},
        headers=stack.tokens.service(),
    )
    assert naive.status_code == 400
