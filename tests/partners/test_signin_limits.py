"""Failed sign-ins are limited per account: 429 with Retry-After, then a lock.

The counters are shared (the partners database here), so the lock holds on
another replica too; the lock's message says to reset the password.
"""

import html

import httpx

from tests.common.windows import start_inside_a_window
from tests.partners.helpers import pair
from tests.partners.people_helpers import (
    CALLBACK,
    CONSOLE,
    PASSWORD,
    hidden_fields,
    pkce,
    staff_person,
)
from tests.partners.test_token_limits import random_source, second_replica
from tests.support import Stack


async def sign_in_form(client: httpx.AsyncClient, address: str, password: str) -> httpx.Response:
    _, challenge = pkce()
    page = await client.get(
        "/oauth/authorize",
        params={
            "response_type": "code",
            "client_id": CONSOLE,
            "redirect_uri": CALLBACK,
            "scope": "openid",
            "state": "s",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        },
    )
    assert page.status_code == 200, page.text
    form = {**hidden_fields(page.text), "email": address, "password": password}
    return await client.post("/oauth/authorize", data=form)


def from_source(app, source: tuple[str, int]) -> httpx.AsyncClient:  # type: ignore[no-untyped-def]
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=source), base_url="http://partners.test"
    )


async def test_wrong_passwords_get_429_then_a_lock_that_holds_on_another_replica(
    stack: Stack,
) -> None:
    p = await pair(stack)
    address, _ = await staff_person(stack, p.funder_id)
    await start_inside_a_window(20)
    statuses = []
    async with from_source(stack.apps["partners"], random_source()) as client:
        for i in range(25):
            answer = await sign_in_form(client, address, f"wrong-{i}")
            statuses.append(answer.status_code)
            if answer.status_code == 429:
                assert int(answer.headers["retry-after"]) >= 1
        assert statuses == [400] * 5 + [429] * 20, statuses
        text = html.unescape(answer.text)
        assert "is locked for" in text and "Forgot your password?" in text
    # The right password, from elsewhere and on another replica: still locked.
    async with second_replica(stack) as replica, from_source(replica, random_source()) as other:
        right = await sign_in_form(other, address, PASSWORD)
        assert right.status_code == 429
        assert "is locked for" in html.unescape(right.text)
