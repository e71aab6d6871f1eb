"""Benchmark: feedback results over 1,000,000 ratings on PostgreSQL.

    TRELLIS_TEST_POSTGRES_URL=postgresql://postgres@127.0.0.1:5432/postgres \
        uv run python -m benchmarks.feedback_results [--ratings 1000000] [--commitments 10]

Runs the real apps on freshly migrated databases (tests.support.running_stack).
A funder, its commitments and a round are made through the API; then
``ratings / commitments`` responses (half of them anonymous) and their ratings
are loaded into the feedback database with PostgreSQL COPY. It times:

- the results of that round through the API (``GET /api/v1/rounds/{id}/results``:
  one GROUP BY over the round's ratings, computed by the database), and
- the same aggregate query alone,

each the median of several runs, and prints them. ``--backend sqlite`` runs the
same on SQLite (multi-row inserts instead of COPY).
"""

import argparse
import asyncio
import random
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import insert, text

from services.feedback.models import Rating, Response
from services.feedback.results import repository as results_repo
from tests.feedback.support import API, Funder
from tests.support import running_stack


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="postgres")
    parser.add_argument("--ratings", type=int, default=1_000_000)
    parser.add_argument("--commitments", type=int, default=10)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--explain", action="store_true", help="print the query plan")
    return parser.parse_args()


def _rows(
    round_id: uuid.UUID, asked: list[tuple[uuid.UUID, uuid.UUID]], responses: int
) -> tuple[list[tuple], list[tuple]]:
    rng = random.Random(7)
    response_rows, rating_rows = [], []
    for n in range(responses):
        response_id = uuid.uuid4()
        anonymous = n % 2 == 0
        response_rows.append(
            (response_id, round_id, anonymous, None if anonymous else uuid.uuid4())
        )
        for commitment_id, version_id in asked:
            score = rng.choice([1, 2, 3, 4, 4, 5, 5, None])
            rating_rows.append(
                (uuid.uuid4(), response_id, round_id, commitment_id, version_id, anonymous, score)
            )
    return response_rows, rating_rows


RESPONSE_COLUMNS = ["id", "round_id", "anonymous", "partner_id"]
RATING_COLUMNS = [
    "id",
    "response_id",
    "round_id",
    "commitment_id",
    "commitment_version_id",
    "anonymous",
    "score",
]


async def _load(engine, response_rows: list[tuple], rating_rows: list[tuple]) -> float:
    started = time.perf_counter()
    if engine.dialect.name == "postgresql":
        async with engine.connect() as conn:
            raw = (await conn.get_raw_connection()).driver_connection
            await raw.copy_records_to_table(
                "responses", records=response_rows, columns=RESPONSE_COLUMNS
            )
            await raw.copy_records_to_table("ratings", records=rating_rows, columns=RATING_COLUMNS)
            await conn.execute(text("ANALYZE responses"))
            await conn.execute(text("ANALYZE ratings"))
            await conn.commit()
    else:
        async with engine.begin() as conn:
            batch = 5000
            for i in range(0, len(response_rows), batch):
                await conn.execute(
                    insert(Response),
                    [
                        dict(zip(RESPONSE_COLUMNS, r, strict=True))
                        for r in response_rows[i : i + batch]
                    ],
                )
            for i in range(0, len(rating_rows), batch):
                await conn.execute(
                    insert(Rating),
                    [dict(zip(RATING_COLUMNS, r, strict=True)) for r in rating_rows[i : i + batch]],
                )
            await conn.execute(text("ANALYZE"))
    return time.perf_counter() - started


async def main() -> None:
    args = arguments()
    responses = args.ratings // args.commitments
    with tempfile.TemporaryDirectory() as tmp:
        async with running_stack(args.backend, Path(tmp)) as stack:
            record = await stack.new_funder()
            partner = await stack.new_partner(record["id"])
            funder = Funder(stack, record, [partner])
            for i in range(args.commitments):
                await funder.commitment(f"Commitment {i + 1}", position=i)
            round_ = await funder.round("Benchmark round")
            asked = [
                (uuid.UUID(c["commitment_id"]), uuid.UUID(c["commitment_version_id"]))
                for c in round_["commitments"]
            ]
            round_id = uuid.UUID(round_["id"])
            response_rows, rating_rows = _rows(round_id, asked, responses)
            engine = stack.apps["feedback"].state.db.engine
            loaded = await _load(engine, response_rows, rating_rows)
            print(
                f"loaded {len(response_rows):,} responses and {len(rating_rows):,} ratings "
                f"into {engine.dialect.name} in {loaded:.1f} s"
            )
            await funder.close(round_)

            api_times = []
            for _ in range(args.runs):
                started = time.perf_counter()
                r = await stack.feedback.get(
                    f"{API}/rounds/{round_id}/results", headers=funder.staff
                )
                api_times.append(time.perf_counter() - started)
                assert r.status_code == 200, r.text
            first = r.json()[0]
            query_times = []
            db = stack.apps["feedback"].state.db
            for _ in range(args.runs):
                async with db.sessionmaker() as session:
                    started = time.perf_counter()
                    found = await results_repo.aggregates(session, [round_id])
                    query_times.append(time.perf_counter() - started)
            assert sum(a["n"] for a in found.values()) == len(rating_rows)
            if args.explain and engine.dialect.name == "postgresql":
                async with db.sessionmaker() as session:
                    stmt = results_repo.aggregates_statement([round_id])
                    compiled = stmt.compile(engine, compile_kwargs={"literal_binds": True})
                    plan = await session.execute(text(f"EXPLAIN ANALYZE {compiled}"))
                    print("\n".join(row[0] for row in plan))
            print(
                f"results of one round over {len(rating_rows):,} ratings "
                f"({args.commitments} commitments x {responses:,} responses):"
            )
            print(
                f"  API  GET /rounds/{{id}}/results  median {statistics.median(api_times) * 1000:.0f} ms"
                f" (min {min(api_times) * 1000:.0f} ms, {args.runs} runs)"
            )
            print(
                f"  aggregate query alone          median {statistics.median(query_times) * 1000:.0f} ms"
                f" (min {min(query_times) * 1000:.0f} ms)"
            )
            print(
                f"  e.g. {first['title']}: n={first['responses']} mean={first['mean']} "
                f"dont_know={first['dont_know']} distribution={first['distribution']}"
            )


if __name__ == "__main__":
    asyncio.run(main())
