"""Rate limits at the door, held across two gateway replicas sharing one store.

Two real gateways (uvicorn) in front of echo upstreams share their counters in
a SQLite file, in PostgreSQL, or in Redis; a caller that alternates between
them gets exactly its limit, then 429 with ``Retry-After`` and the IETF draft's
``RateLimit`` / ``RateLimit-Policy`` headers.
"""

import random
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.common.migrate import upgrade
from services.common.settings import SERVICES
from services.gateway.app import create_app
from services.gateway.ratelimit import route_class
from tests.common.windows import start_inside_a_window_sync
from tests.gateway.conftest import Echo, Keys, Served, gateway_settings
from tests.support import POSTGRES_URL, create_database, drop_database, redis_up

STORES = ["sqlite"]
if POSTGRES_URL:
    STORES.append("postgres")
if redis_up():
    STORES.append("redis")


@pytest.fixture(scope="module")
def upstreams() -> Iterator[dict[str, str]]:
    served = {name: Served(Echo(name), lifespan="off").start() for name in SERVICES}
    yield {name: s.url for name, s in served.items()}
    for s in served.values():
        s.stop()


def store_settings(store: str, tmp: Path) -> tuple[dict[str, Any], str | None]:
    """Gateway settings that put the counters in ``store``; a database to drop after."""
    if store == "redis":
        return {"redis_url": "redis://127.0.0.1:6379/0"}, None
    url = create_database(store, "gateway", tmp)
    upgrade("gateway", url)
    return {"database_url": url}, url


#: Per-source keys are the same address each run: a limit of its own keeps Redis's
#: counters from an earlier run (they outlive it) out of this one.
PUBLIC_LIMIT = random.randrange(5, 40)


@pytest.fixture(params=STORES)
def replicas(
    request: pytest.FixtureRequest, keys: Keys, upstreams: dict[str, str], tmp_path: Path
) -> Iterator[list[str]]:
    """Two gateways sharing one store, with small limits."""
    overrides, database = store_settings(request.param, tmp_path)
    overrides.update(
        rate_limits={"reads": "10/minute", "writes": "4/minute", "auth": "6/minute"},
        source_rate_limits={
            "reads": "1000/minute",
            "writes": "1000/minute",
            "public": f"{PUBLIC_LIMIT}/minute",
        },
    )
    gateways = [
        Served(create_app(gateway_settings(keys, upstreams, **overrides))).start() for _ in range(2)
    ]
    yield [g.url for g in gateways]
    for g in gateways:
        g.stop()
    if database:
        drop_database(database)


def test_route_classes() -> None:
    assert route_class("/oauth/token", "POST") == "auth"
    assert route_class("/.well-known/jwks.json", "GET") == "auth"
    assert route_class("/api/v1/public/funding/x/grants", "GET") == "public"
    assert route_class("/api/v1/grants", "GET") == "reads"
    assert route_class("/api/v1/grants", "POST") == "writes"


def test_a_clients_limit_holds_across_two_replicas(keys: Keys, replicas: list[str]) -> None:
    sub = f"staff-{uuid.uuid4().hex[:8]}@funder.test"
    headers = keys.tokens.staff(uuid.uuid4(), sub=sub)
    start_inside_a_window_sync(10)
    answers = []
    for i in range(14):
        answers.append(httpx.get(f"{replicas[i % 2]}/api/v1/grants", headers=headers))
    statuses = [a.status_code for a in answers]
    assert statuses == [200] * 10 + [429] * 4, statuses

    ok, refused = answers[0], answers[-1]
    assert '"reads-client";q=10;w=60' in ok.headers["ratelimit-policy"]
    assert ok.headers["ratelimit"].startswith('"reads-client";r=')
    assert 1 <= int(refused.headers["retry-after"]) <= 120
    assert refused.headers["content-type"] == "application/problem+json"
    problem = refused.json()
    assert problem["status"] == 429
    assert "this client" in problem["message"] and "Retry-After" in problem["message"]
    assert refused.headers["ratelimit"].startswith('"reads-client";r=0;')

    # Writes are their own class; another client is not held back by this one.
    write = httpx.post(f"{replicas[1]}/api/v1/grants", headers=headers, json={})
    assert write.status_code == 200
    other = keys.tokens.staff(uuid.uuid4(), sub=f"other-{uuid.uuid4().hex[:8]}")
    assert httpx.get(f"{replicas[0]}/api/v1/grants", headers=other).status_code == 200


def test_a_source_without_a_token_is_limited_on_public_routes(
    keys: Keys, replicas: list[str]
) -> None:
    start_inside_a_window_sync(10)
    statuses = [
        httpx.get(f"{replicas[i % 2]}/api/v1/public/funding/x/grants").status_code
        for i in range(PUBLIC_LIMIT + 2)
    ]
    assert statuses == [200] * PUBLIC_LIMIT + [429] * 2, (PUBLIC_LIMIT, statuses)
    refused = httpx.get(f"{replicas[0]}/api/v1/public/funding/x/grants")
    assert "your network address" in refused.json()["message"]
    assert int(refused.headers["retry-after"]) >= 1


@pytest.mark.parametrize("store", STORES)
def test_local_shares_never_let_more_through_than_the_limit(
    keys: Keys, upstreams: dict[str, str], tmp_path: Path, store: str
) -> None:
    """With shares of 10 % taken per round trip, two replicas together stay within 100."""
    overrides, database = store_settings(store, tmp_path)
    # Per hour: the shares (6 minutes each) outlive the test however slow the machine.
    overrides.update(rate_limits={"reads": "100/hour"}, rate_limit_batch=0.1)
    gateways = [
        Served(create_app(gateway_settings(keys, upstreams, **overrides))).start() for _ in range(2)
    ]
    try:
        headers = keys.tokens.staff(uuid.uuid4(), sub=f"batch-{uuid.uuid4().hex[:8]}")
        start_inside_a_window_sync(30, window=3600)
        with httpx.Client() as http:
            statuses = [
                http.get(f"{gateways[i % 2].url}/api/v1/grants", headers=headers).status_code
                for i in range(130)
            ]
        allowed = statuses.count(200)
        assert 80 <= allowed <= 100, allowed
        assert statuses.count(429) == 130 - allowed
    finally:
        for g in gateways:
            g.stop()
        if database:
            drop_database(database)


def test_the_gateways_own_operations_count_against_the_same_limits(
    keys: Keys, replicas: list[str]
) -> None:
    """Composite views, audit and takeout are served by the gateway itself: limited alike,
    and a browser reads the 429 (it carries the CORS headers)."""
    headers = {
        **keys.tokens.staff(uuid.uuid4(), sub=f"views-{uuid.uuid4().hex[:8]}@funder.test"),
        "Origin": "https://admin.example.org",
    }
    start_inside_a_window_sync(10)
    answers = [
        httpx.get(f"{replicas[i % 2]}/api/v1/exports/takeout", headers=headers) for i in range(6)
    ]
    answers += [httpx.get(f"{replicas[i % 2]}/api/v1/grants", headers=headers) for i in range(6)]
    statuses = [a.status_code for a in answers]
    assert statuses == [200] * 10 + [429] * 2, statuses
    assert answers[0].headers["ratelimit"].startswith('"reads-client";r=')
    refused = httpx.get(f"{replicas[0]}/api/v1/exports/takeout", headers=headers)
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.headers["access-control-allow-origin"] == "https://admin.example.org"
