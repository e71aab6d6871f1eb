"""Shared set-up of the funding benchmarks: the real apps on a real database, many grants.

Grants are bulk-inserted straight into the funding database (the API path is what
the benchmarks measure, not how the rows got there); the funder and its partners
are made through the partners API.
"""

import argparse
import random
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert

from services.common.db import utcnow
from services.funding.grants.models import Grant, GrantFundingOrganisation
from services.funding.grants.schedule import add_months
from tests.support import Stack, running_stack


def arguments(description: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--grants", type=int, default=100_000)
    parser.add_argument("--partners", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=15, help="timed requests per figure")
    parser.add_argument(
        "--port-base", type=int, default=18400, help="first loopback port (keep to your range)"
    )
    return parser.parse_args()


@dataclass
class Seeded:
    stack: Stack
    funder: dict[str, str]
    staff: dict[str, str]
    partner_ids: list[str]


@asynccontextmanager
async def seeded_stack(backend: str, grants: int, partners: int) -> AsyncIterator[Seeded]:
    """The three services on ``backend`` with one funder, its partners and ``grants`` grants."""
    with tempfile.TemporaryDirectory() as tmp:
        async with running_stack(
            backend, Path(tmp), overdue_check_autostart=False, max_page_size=100
        ) as stack:
            funder = await stack.new_funder()
            started = time.perf_counter()
            partner_ids = [
                uuid.UUID((await stack.new_partner(funder["id"]))["id"]) for _ in range(partners)
            ]
            print(
                f"made {partners} partners through the API in {time.perf_counter() - started:.1f}s"
            )
            started = time.perf_counter()
            seed = bulk_grants_sql if stack.apps["funding"].state.db.is_postgres else bulk_grants
            await seed(
                stack, uuid.UUID(funder["id"]), funder["prefix_360giving"], partner_ids, grants
            )
            print(f"bulk-inserted {grants:,} grants in {time.perf_counter() - started:.1f}s")
            yield Seeded(
                stack, funder, stack.tokens.staff(funder["id"]), [str(p) for p in partner_ids]
            )


# PostgreSQL: the grants made by generate_series in the database (1M in about a minute),
# with triggers off while loading (the list version is bumped once afterwards).
GRANTS_SQL = """
INSERT INTO grants (id, funder_id, pool_id, partner_id, title, description, amount_awarded,
    currency, planned_start_date, planned_end_date, payment_frequency, reference, status,
    grant_360_id, approved_on, approved_by, decision_reference, original_amount,
    original_start_date, original_end_date, list_date, created_at, updated_at, version)
SELECT gen_random_uuid(), $1, NULL, ($2::uuid[])[1 + abs(hashint4(n * 3)) % cardinality($2)],
    'Core funding ' || n, 'Unrestricted multi-year funding for the organisation''s work.',
    amount, 'GBP', awarded + 30, (awarded + 30 + make_interval(years => 3 + n % 3))::date - 1,
    'annual', 'B' || lpad(n::text, 7, '0'), 'active', $3 || '-B' || lpad(n::text, 7, '0'),
    awarded, 'Board', 'TM-' || n, amount, awarded + 30,
    (awarded + 30 + make_interval(years => 3 + n % 3))::date - 1, awarded, now(), now(), 1
FROM (
    SELECT n, date '2015-01-01' + abs(hashint4(n)) % 5475 AS awarded,
        500000 + abs(hashint4(n * 7)) % 49500000 AS amount
    FROM generate_series(0, $4 - 1) AS n
) AS s
"""


async def bulk_grants_sql(
    stack: Stack, funder_id: uuid.UUID, prefix: str, partner_ids: list[uuid.UUID], count: int
) -> None:
    """``count`` awarded grants of ``funder_id`` made in PostgreSQL by generate_series."""
    db = stack.apps["funding"].state.db
    async with db.engine.connect() as conn:
        raw = (await conn.get_raw_connection()).driver_connection
        async with raw.transaction():
            await raw.execute("SET LOCAL session_replication_role = replica")
            await raw.execute(GRANTS_SQL, funder_id, partner_ids, prefix, count)
            await raw.execute(
                "INSERT INTO grant_funding_organisations (grant_id, funder_id, position) "
                "SELECT id, funder_id, 0 FROM grants WHERE funder_id = $1",
                funder_id,
            )
            if await raw.fetchval("SELECT to_regclass('list_versions') IS NOT NULL"):
                await raw.execute("UPDATE list_versions SET version = version + 1")
        await raw.execute("VACUUM ANALYZE grants")
        await raw.execute("VACUUM ANALYZE grant_funding_organisations")


def grant_rows(
    rng: random.Random,
    funder_id: uuid.UUID,
    prefix: str,
    partner_ids: list[uuid.UUID],
    numbers: range,
    now: datetime,
) -> tuple[list[dict], list[dict]]:
    """Awarded grants numbered ``numbers`` of one funder, and their funding organisations."""
    grants, orgs = [], []
    for n in numbers:
        grant_id = uuid.UUID(int=rng.getrandbits(128), version=4)
        awarded = date(2015, 1, 1) + timedelta(days=rng.randrange(15 * 365))
        start = awarded + timedelta(days=30)
        end = add_months(start, 12 * rng.choice((3, 4, 5))) - timedelta(days=1)
        amount = rng.randrange(500_000, 50_000_000)
        reference = f"B{n:07d}"
        grants.append(
            {
                "id": grant_id,
                "funder_id": funder_id,
                "pool_id": None,
                "partner_id": rng.choice(partner_ids),
                "title": f"Core funding {n}",
                "description": "Unrestricted multi-year funding for the organisation's work.",
                "amount_awarded": amount,
                "currency": "GBP",
                "planned_start_date": start,
                "planned_end_date": end,
                "payment_frequency": "annual",
                "reference": reference,
                "status": "active",
                "grant_360_id": f"{prefix}-{reference}",
                "approved_on": awarded,
                "approved_by": "Board",
                "decision_reference": f"TM-{n}",
                "original_amount": amount,
                "original_start_date": start,
                "original_end_date": end,
                "list_date": awarded,
                "created_at": now,
                "updated_at": now,
                "version": 1,
            }
        )
        orgs.append({"grant_id": grant_id, "funder_id": funder_id, "position": 0})
    return grants, orgs


async def bulk_grants(
    stack: Stack, funder_id: uuid.UUID, prefix: str, partner_ids: list[uuid.UUID], count: int
) -> None:
    rng = random.Random(42)
    db = stack.apps["funding"].state.db
    now = utcnow()
    chunk = 5000
    for offset in range(0, count, chunk):
        numbers = range(offset, min(count, offset + chunk))
        grants, orgs = grant_rows(rng, funder_id, prefix, partner_ids, numbers, now)
        async with db.sessionmaker() as session, session.begin():
            await session.execute(insert(Grant), grants)
            await session.execute(insert(GrantFundingOrganisation), orgs)
    if db.is_postgres:
        async with db.engine.connect() as conn:
            await conn.exec_driver_sql("ANALYZE grants")
            await conn.exec_driver_sql("ANALYZE grant_funding_organisations")
            await conn.commit()
    else:
        async with db.engine.connect() as conn:
            await conn.exec_driver_sql("ANALYZE")
            await conn.commit()
            # Outside the engine's transactions (it begins one for every statement).
            raw = await conn.get_raw_connection()
            await raw.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
