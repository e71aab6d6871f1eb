"""Benchmark: the forecast over 100,000 grants on PostgreSQL, beside raw SQL.

    TRELLIS_TEST_POSTGRES_URL=postgresql://postgres@127.0.0.1:5432/postgres \
        uv run python -m benchmarks.forecast [--grants 100000] [--partners 200]

Runs the real apps on freshly migrated databases. One funder and its partners are
made through the API; ``--grants`` grants are bulk-inserted (one in ten proposed,
with its planned schedule; the rest awarded, with annual instalments, those due
before today paid). It times, each the median of several runs:

- ``GET /api/v1/forecast`` over 20 financial years, by year and by month, through
  the API (three GROUP BY queries, merged), and
- the same three sums as one hand-written SQL statement, run on the same database,

and prints them side by side. ``--backend sqlite`` runs the same on SQLite.
"""

import asyncio
import random
import statistics
import time
import uuid
from datetime import date, timedelta

from sqlalchemy import insert, select, text, update

from benchmarks.funding_common import arguments, seeded_stack
from services.common.db import utcnow
from services.funding.finance.models import PlannedInstalment
from services.funding.grants.models import Grant, Instalment, Payment
from services.funding.grants.schedule import default_schedule

RUNS = 7
CHUNK = 5000

RAW = """
WITH fy AS (
  SELECT CAST(EXTRACT(YEAR FROM d) AS INTEGER)
         - CASE WHEN EXTRACT(MONTH FROM d) < 4 THEN 1 ELSE 0 END AS y, currency, amount, kind
  FROM (
    SELECT i.due_date AS d, i.currency, i.amount, 'committed' AS kind
      FROM instalments i JOIN grants g ON g.id = i.grant_id
     WHERE i.funder_id = :f AND i.status = 'scheduled' AND g.status IN ('approved', 'active')
       AND i.due_date >= :b AND i.due_date < :e
    UNION ALL
    SELECT p.paid_on, p.currency, p.amount, 'paid' FROM payments p
     WHERE p.funder_id = :f AND p.paid_on >= :b AND p.paid_on < :e
    UNION ALL
    SELECT l.due_date, l.currency, l.amount, 'pipeline' FROM planned_instalments l
     WHERE l.funder_id = :f AND l.due_date >= :b AND l.due_date < :e
  ) AS money
)
SELECT y, currency, kind, SUM(amount) FROM fy GROUP BY y, currency, kind
"""


async def seed_money(stack, funder_id: uuid.UUID) -> tuple[int, int, int]:
    """Instalments and payments of the awarded grants, plans of the proposed ones."""
    db = stack.apps["funding"].state.db
    today = date.today()
    async with db.sessionmaker() as session:
        grants = (
            await session.execute(
                select(
                    Grant.id,
                    Grant.partner_id,
                    Grant.amount_awarded,
                    Grant.planned_start_date,
                    Grant.planned_end_date,
                ).where(Grant.funder_id == funder_id)
            )
        ).all()
    proposed = {g.id for n, g in enumerate(grants) if n % 10 == 0}
    now = utcnow()
    counts = [0, 0, 0]
    for offset in range(0, len(grants), CHUNK):
        instalments, payments, plans = [], [], []
        for g in grants[offset : offset + CHUNK]:
            lines = default_schedule(
                g.amount_awarded, g.planned_start_date, g.planned_end_date, "annual"
            )
            for sequence, (due, amount) in enumerate(lines, start=1):
                if g.id in proposed:
                    plans.append(
                        {
                            "grant_id": g.id,
                            "sequence": sequence,
                            "funder_id": funder_id,
                            "partner_id": g.partner_id,
                            "pool_id": None,
                            "due_date": due,
                            "amount": amount,
                            "currency": "GBP",
                        }
                    )
                    continue
                instalment_id = uuid.uuid4()
                paid = due < today
                instalments.append(
                    {
                        "id": instalment_id,
                        "grant_id": g.id,
                        "funder_id": funder_id,
                        "partner_id": g.partner_id,
                        "sequence": sequence,
                        "due_date": due,
                        "amount": amount,
                        "currency": "GBP",
                        "status": "paid" if paid else "scheduled",
                        "paid_on": due + timedelta(days=3) if paid else None,
                        "created_at": now,
                        "updated_at": now,
                        "version": 1,
                    }
                )
                if paid:
                    payments.append(
                        {
                            "id": uuid.uuid4(),
                            "instalment_id": instalment_id,
                            "grant_id": g.id,
                            "funder_id": funder_id,
                            "partner_id": g.partner_id,
                            "amount": amount,
                            "currency": "GBP",
                            "due_date": due,
                            "paid_on": due + timedelta(days=3),
                            "recorded_by": "benchmark",
                            "created_at": now,
                            "updated_at": now,
                        }
                    )
        async with db.sessionmaker() as session, session.begin():
            if instalments:
                await session.execute(insert(Instalment), instalments)
            if payments:
                await session.execute(insert(Payment), payments)
            if plans:
                await session.execute(insert(PlannedInstalment), plans)
        counts[0] += len(instalments)
        counts[1] += len(payments)
        counts[2] += len(plans)
    async with db.sessionmaker() as session, session.begin():
        for chunk in range(0, len(proposed), CHUNK):
            ids = list(proposed)[chunk : chunk + CHUNK]
            await session.execute(update(Grant).where(Grant.id.in_(ids)).values(status="proposed"))
    async with db.engine.connect() as conn:
        await conn.exec_driver_sql("ANALYZE")
        await conn.commit()
    return counts[0], counts[1], counts[2]


async def median(fn) -> float:
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        await fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


async def main() -> None:
    args = arguments(__doc__ or "")
    async with seeded_stack(args.backend, args.grants, args.partners) as seeded:
        stack = seeded.stack
        funder_id = uuid.UUID(seeded.funder["id"])
        started = time.perf_counter()
        counts = await seed_money(stack, funder_id)
        print(
            f"seeded {counts[0]:,} instalments, {counts[1]:,} payments and {counts[2]:,} planned "
            f"lines in {time.perf_counter() - started:.1f}s"
        )
        finance = stack.tokens.headers(
            stack.tokens.issuer.mint(
                sub="bench@funder.test",
                roles=["funder_staff", "finance"],
                client_id="trellis-cli",
                funder_id=funder_id,
            )
        )
        params = {"from_year": 2015, "to_year": 2034}

        async def api(group_by: str | None = None) -> dict:
            query = {**params, **({"group_by": group_by} if group_by else {})}
            response = await stack.funding.get("/api/v1/forecast", headers=finance, params=query)
            response.raise_for_status()
            return response.json()

        db = stack.apps["funding"].state.db
        bounds = {"f": funder_id, "b": date(2015, 4, 1), "e": date(2035, 4, 1)}
        raw_sql = (
            RAW
            if db.is_postgres
            else RAW.replace("EXTRACT(YEAR FROM d)", "strftime('%Y', d)").replace(
                "EXTRACT(MONTH FROM d)", "CAST(strftime('%m', d) AS INTEGER)"
            )
        )
        if not db.is_postgres:
            bounds = {**bounds, "f": funder_id.hex}

        async def raw() -> list:
            async with db.sessionmaker() as session:
                return list((await session.execute(text(raw_sql), bounds)).all())

        # Same sums both ways.
        years = (await api())["years"]
        reference: dict[tuple[int, str], int] = {}
        for y, _currency, kind, total in await raw():
            if kind == "committed":
                reference[(int(y), kind)] = int(total)
        assert all(
            reference.get((y["financial_year"], "committed"), 0) == y["committed"] for y in years
        ), "the forecast and the raw SQL disagree"
        by_year = await median(api)
        by_month = await median(lambda: api("month"))
        by_partner = await median(lambda: api("partner"))
        by_region = await median(lambda: api("region"))
        reference_ms = await median(raw)
        print(f"backend: {args.backend}; grants: {args.grants:,}; runs: median of {RUNS}")
        print(f"forecast API, by year:         {by_year:8.1f} ms")
        print(f"forecast API, by month:        {by_month:8.1f} ms")
        print(f"forecast API, by partner:      {by_partner:8.1f} ms")
        print(f"forecast API, by region:       {by_region:8.1f} ms (partners directory call)")
        print(f"raw SQL (the same sums):       {reference_ms:8.1f} ms")
        print(f"API by year / raw SQL:         {by_year / reference_ms:8.2f}x")


if __name__ == "__main__":
    random.seed(1)
    asyncio.run(main())
