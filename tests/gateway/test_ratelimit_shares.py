"""Local shares of a limit: one trip to the store per caller at a time, sized to use.

A gateway takes a share of a caller's limit from the shared store and spends it
locally. A burst that finds no share takes one share in all (the requests wait
for the one trip under way), not one each; and a share that expired unused is
followed by a share sized to what the caller used, so a caller that sends little
does not spend its whole limit in shares it never uses. Counted in the store
itself, on SQLite and PostgreSQL.
"""

import asyncio
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, func, select

from services.common.db import sync_url
from services.common.migrate import upgrade
from services.common.ratelimit import RateLimitCounter
from services.gateway.app import create_app
from tests.gateway.conftest import Keys, Served, gateway_settings
from tests.gateway.test_ratelimit import upstreams  # noqa: F401 (a fixture)
from tests.support import create_database, drop_database

BURST = 32


@pytest.fixture
def store(backend: str, tmp_path: Path) -> Iterator[str]:
    url = create_database(backend, "gateway", tmp_path)
    upgrade("gateway", url)
    yield url
    drop_database(url)


def taken(store: str, sub: str) -> int:
    """How much of ``sub``'s limit the gateway has taken from the store, all windows."""
    engine = create_engine(sync_url(store))
    try:
        with engine.connect() as conn:
            total = conn.execute(
                select(func.coalesce(func.sum(RateLimitCounter.count), 0)).where(
                    RateLimitCounter.key.contains(sub)
                )
            ).scalar_one()
    finally:
        engine.dispose()
    return int(total)


def gateway(keys: Keys, urls: dict[str, str], store: str, limit: str) -> Served:
    settings = gateway_settings(
        keys,
        urls,
        database_url=store,
        rate_limits={"reads": limit},
        source_rate_limits={"reads": "100000/minute"},
        rate_limit_batch=0.05,
    )
    return Served(create_app(settings)).start()


def test_a_burst_takes_one_share_not_one_each(
    keys: Keys,
    upstreams: dict[str, str],  # noqa: F811
    store: str,
) -> None:
    served = gateway(keys, upstreams, store, "1000/minute")  # shares of 50
    sub = f"burst-{uuid.uuid4().hex[:8]}"
    headers = keys.tokens.staff(uuid.uuid4(), sub=sub)

    async def burst() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=BURST)
        async with httpx.AsyncClient(base_url=served.url, limits=limits, timeout=30) as http:
            return await asyncio.gather(
                *(http.get("/api/v1/grants", headers=headers) for _ in range(BURST))
            )

    try:
        answers = asyncio.run(burst())
    finally:
        served.stop()
    assert [a.status_code for a in answers] == [200] * BURST
    # One share of 50 for the 32 requests; a trip each would have taken 32 x 50 (more
    # than the limit: most of the burst would have been refused).
    assert taken(store, sub) == 50


def test_a_share_that_went_unused_is_not_taken_again_in_full(
    keys: Keys,
    upstreams: dict[str, str],  # noqa: F811
    store: str,
) -> None:
    # Shares of 5 % of 1000 (50), each good for a second (5 % of the 10-second window).
    served = gateway(keys, upstreams, store, "1000/10 seconds")
    sub = f"slow-{uuid.uuid4().hex[:8]}"
    headers = keys.tokens.staff(uuid.uuid4(), sub=sub)
    try:
        statuses = []
        for _ in range(3):
            statuses.append(httpx.get(f"{served.url}/api/v1/grants", headers=headers).status_code)
            time.sleep(1.1)  # the share has expired, one request of it used
    finally:
        served.stop()
    assert statuses == [200, 200, 200]
    # The first share is 50; the ones after it are sized to one request a second (2 each),
    # not 50 again each time: 3 requests no longer cost 150 of the limit.
    assert taken(store, sub) <= 50 + 2 * 2
