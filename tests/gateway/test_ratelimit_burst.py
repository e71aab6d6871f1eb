"""A burst at the door on the embedded default: limits held, never an error.

Two real gateways (uvicorn) keep their counters in one SQLite file and ask it on
every request (no local shares). Hundreds of requests at once get 200 or 429,
never a 503, and exactly the limit gets through. With the store locked by
another writer past the wait the gateway allows it, requests are let through
unchecked, and ``trellis_rate_limit_unchecked_requests_total`` counts them.
"""

import asyncio
import re
import sqlite3
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url

from services.common.migrate import upgrade
from services.gateway.app import create_app
from tests.common.windows import start_inside_a_window_sync
from tests.gateway.conftest import Keys, Served, gateway_settings
from tests.gateway.test_ratelimit import upstreams  # noqa: F401 (a fixture)
from tests.support import create_database

LIMIT = 100
BURST = 240
METRICS_TOKEN = "burst-metrics-token"


@pytest.fixture
def store(tmp_path: Path) -> str:
    url = create_database("sqlite", "gateway", tmp_path)
    upgrade("gateway", url)
    return url


@pytest.fixture
def store_timeout(request: pytest.FixtureRequest) -> float:
    """How long a request waits for the store (``rate_limit_store_timeout``).

    On a loaded machine (CI runs two test workers on two cores) a burst can keep one
    replica's writer waiting on the other's lock past half a second, which is the
    fail-open path: the test that locks the store out asks for 0.5 s on purpose, the
    burst waits as long as a loaded operator's store might.
    """
    return getattr(request, "param", 5.0)


@pytest.fixture
def replicas(
    keys: Keys,
    upstreams: dict[str, str],  # noqa: F811
    store: str,
    store_timeout: float,
) -> Iterator[list[str]]:
    settings = gateway_settings(
        keys,
        upstreams,
        database_url=store,
        rate_limits={"reads": f"{LIMIT}/minute"},
        source_rate_limits={"reads": "100000/minute"},
        rate_limit_batch=0,
        rate_limit_store_timeout=store_timeout,
        metrics_token=METRICS_TOKEN,
    )
    gateways = [Served(create_app(settings)).start() for _ in range(2)]
    yield [g.url for g in gateways]
    for g in gateways:
        g.stop()


async def burst(replicas: list[str], headers: dict[str, str]) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=BURST)
    async with httpx.AsyncClient(limits=limits, timeout=60) as http:
        return await asyncio.gather(
            *(http.get(f"{replicas[i % 2]}/api/v1/grants", headers=headers) for i in range(BURST))
        )


def unchecked(url: str) -> float:
    text = httpx.get(f"{url}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}).text
    found = re.search(r"^trellis_rate_limit_unchecked_requests_total\{[^}]*\} (\S+)$", text, re.M)
    return float(found.group(1)) if found else 0.0


def test_a_burst_on_sqlite_gets_only_200_and_429_and_the_limit_holds(
    keys: Keys, replicas: list[str]
) -> None:
    headers = keys.tokens.staff(uuid.uuid4(), sub=f"burst-{uuid.uuid4().hex[:8]}")
    start_inside_a_window_sync(20)
    statuses = Counter(r.status_code for r in asyncio.run(burst(replicas, headers)))
    assert statuses == {200: LIMIT, 429: BURST - LIMIT}, statuses
    assert [unchecked(url) for url in replicas] == [0.0, 0.0]


@pytest.mark.parametrize("store_timeout", [0.5], indirect=True)
def test_with_the_store_unavailable_requests_pass_and_are_counted(
    keys: Keys, replicas: list[str], store: str
) -> None:
    headers = keys.tokens.staff(uuid.uuid4(), sub=f"locked-out-{uuid.uuid4().hex[:8]}")
    # Another writer holds SQLite's write lock for the whole burst.
    holder = sqlite3.connect(make_url(store).database, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        started = time.monotonic()
        answers = asyncio.run(burst(replicas, headers))
        took = time.monotonic() - started
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    statuses = Counter(r.status_code for r in answers)
    assert statuses == {200: BURST}, statuses
    assert not any("ratelimit" in r.headers for r in answers)
    assert sum(unchecked(url) for url in replicas) == BURST
    assert took < 15, took  # each request waited half a second at most, most not at all

    # Once the store answers again (after its rest), the limits are checked again.
    time.sleep(1.2)
    again = httpx.get(f"{replicas[0]}/api/v1/grants", headers=headers)
    assert again.status_code == 200 and again.headers["ratelimit"].startswith('"reads-client"')
