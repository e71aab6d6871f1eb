"""Failed attempts at /oauth/token are limited per client and per source, across replicas.

Each test calls from its own source address (ASGI ``client``) so its counters are
its own; the defaults are 10/minute then a lock at 30/hour per client, and
30/minute then 300/hour per source.
"""

import random
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from tests.common.windows import seconds_to_edge, start_inside_a_window
from tests.support import Stack, app_factory, redis_up


def random_source() -> tuple[str, int]:
    return (f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}", 4000)


def client_from(app: FastAPI, source: tuple[str, int]) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=source), base_url="http://partners.test"
    )


@asynccontextmanager
async def second_replica(stack: Stack, **overrides: object) -> AsyncIterator[FastAPI]:
    """Another partners app on the same database (what a second pod is)."""
    settings = stack.apps["partners"].state.settings.model_copy(update=overrides)
    app = app_factory("partners")(settings)
    async with LifespanManager(app):
        yield app


async def new_client(stack: Stack) -> dict:
    funder = await stack.new_funder()
    partner = await stack.new_partner(funder["id"])
    made = await stack.partners.post(
        f"/api/v1/partners/{partner['id']}/clients",
        headers=stack.tokens.partner(partner["id"]),
        json={"name": "Hillside CRM"},
    )
    assert made.status_code == 201, made.text
    return made.json()


def token_request(http: httpx.AsyncClient, client_id: str, secret: str):  # type: ignore[no-untyped-def]
    return http.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret)
    )


async def test_300_wrong_secrets_get_429s_then_a_lock_that_holds_on_another_replica(
    stack: Stack,
) -> None:
    client = await new_client(stack)
    source = random_source()
    statuses: Counter[int] = Counter()
    await start_inside_a_window(25)
    async with client_from(stack.apps["partners"], source) as http:
        for i in range(300):
            response = await token_request(http, client["client_id"], f"guess-{i}")
            statuses[response.status_code] += 1
            if i < 10:
                assert response.status_code == 401, response.text
            else:
                assert response.status_code == 429, response.text
                assert int(response.headers["Retry-After"]) >= 1
                assert response.headers["content-type"] == "application/problem+json"
        assert statuses == {401: 10, 429: 290}
        locked = response.json()
        assert locked["type"].endswith("/locked")
        assert "is locked for" in locked["message"]
        assert "revoke this client and create a new one" in locked["message"]
        # A lock is a lock: the right secret is refused too until it lifts.
        right = await token_request(http, client["client_id"], client["client_secret"])
        assert right.status_code == 429

    # Another replica on the same database sees the same counters: still locked,
    # from another address as well (the lock is the client's).
    async with second_replica(stack) as replica:
        async with client_from(replica, random_source()) as other:
            right = await token_request(other, client["client_id"], client["client_secret"])
            assert right.status_code == 429
            assert right.json()["type"].endswith("/locked")
            # Locked for the rest of the hour's window: longer than the minute's, unless
            # the hour ends sooner (a run in its last minute).
            left_in_hour = int(seconds_to_edge(3600))
            assert int(right.headers["Retry-After"]) >= min(61, left_in_hour)


async def test_one_source_trying_many_clients_is_slowed_down(stack: Stack) -> None:
    source = random_source()
    await start_inside_a_window(10)
    async with client_from(stack.apps["partners"], source) as http:
        statuses = [
            (await token_request(http, f"tpc_{uuid.uuid4().hex[:24]}", "guess")).status_code
            for _ in range(35)
        ]
        assert statuses[:30] == [401] * 30
        assert set(statuses[30:]) == {429}
        refused = await token_request(http, "tpc_another", "guess")
        assert "your network address" in refused.json()["message"]
    # Other addresses are not slowed by it.
    good = await new_client(stack)
    async with client_from(stack.apps["partners"], random_source()) as http:
        ok = await token_request(http, good["client_id"], good["client_secret"])
        assert ok.status_code == 200


@pytest.mark.skipif(not redis_up(), reason="no Redis at 127.0.0.1:6379")
async def test_with_redis_the_counters_live_in_redis_and_hold_across_replicas(
    stack: Stack,
) -> None:
    client = await new_client(stack)
    redis = {"redis_url": "redis://127.0.0.1:6379/0"}
    await start_inside_a_window(10)
    async with second_replica(stack, **redis) as one, second_replica(stack, **redis) as two:
        async with client_from(one, random_source()) as a, client_from(two, random_source()) as b:
            statuses = []
            for i in range(12):
                http = a if i % 2 else b
                statuses.append((await token_request(http, client["client_id"], "x")).status_code)
            assert statuses[:10] == [401] * 10
            assert statuses[10:] == [429, 429]
    # The database replica never saw those failures: they were counted in Redis.
    async with client_from(stack.apps["partners"], random_source()) as http:
        ok = await token_request(http, client["client_id"], client["client_secret"])
        assert ok.status_code == 200
