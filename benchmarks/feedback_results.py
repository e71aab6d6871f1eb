"""Benchmark: feedback results over 1,000,000 ratings on PostgreSQL.

    TRELLIS_TEST_POSTGRES_URL=postgresql://postgres@127.0.0.1:5432/postgres \
        uv run python -m benchmarks.feedback_results [--ratings 1000000] [--commitments 10]

Runs the real apps on freshly migrated databases (tests.support.running_stack).
A funder, its commitments and a round are made through the API; then
``ratings / commitments`` responses (half of them anonymous) and their ratings
are loaded into the feedback database with PostgreSQL COPY. It times:

- the round while open through the API (``GET /api/v1/rounds/{id}``: its response counts;
  an open round has no results anyone may read) and the close itself,
- the results of that round, closed, through the API (``GET /api/v1/rounds/{id}/results``:
  the release stored when it closed, one row),
- the live aggregate query alone (one GROUP BY over the round's ratings: what results
  read before summaries, and what closing writes), and
- the summary read alone (the reference),

each the median of several runs, and prints them with their ratios. ``--backend sqlite`` runs the
same on SQLite (multi-row inserts instead of COPY).
"""

import argparse
import asyncio
import hashlib
import random
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import event, insert, text

from services.feedback.models import AnonymousRating, AnonymousResponse, Rating, Response
from services.feedback.results import repository as results_repo
from tests.feedback.support import API, new_funder
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
) -> dict[str, list[tuple]]:
    """Rows of each table: named responses and ratings, anonymous ones in their own tables."""
    rng = random.Random(7)
    rows: dict[str, list[tuple]] = {name: [] for name in COLUMNS}
    for n in range(responses):
        response_id = uuid.uuid4()
        anonymous = n % 2 == 0
        if anonymous:
            rows["anonymous_responses"].append(
                (response_id, round_id, hashlib.sha256(response_id.bytes).hexdigest())
            )
        else:
            rows["responses"].append((response_id, round_id, uuid.uuid4()))
        for commitment_id, version_id in asked:
            score = rng.choice([1, 2, 3, 4, 4, 5, 5, None])
            rows["anonymous_ratings" if anonymous else "ratings"].append(
                (uuid.uuid4(), response_id, round_id, commitment_id, version_id, score)
            )
    return rows


RATING_COLUMNS = [
    "id",
    "response_id",
    "round_id",
    "commitment_id",
    "commitment_version_id",
    "score",
]
COLUMNS = {
    "responses": ["id", "round_id", "partner_id"],
    "anonymous_responses": ["id", "round_id", "ballot_hash"],
    "ratings": RATING_COLUMNS,
    "anonymous_ratings": RATING_COLUMNS,
}
MODELS = {
    "responses": Response,
    "anonymous_responses": AnonymousResponse,
    "ratings": Rating,
    "anonymous_ratings": AnonymousRating,
}


async def _load(engine, rows: dict[str, list[tuple]]) -> float:
    started = time.perf_counter()
    if engine.dialect.name == "postgresql":
        async with engine.connect() as conn:
            raw = (await conn.get_raw_connection()).driver_connection
            for table, columns in COLUMNS.items():
                await raw.copy_records_to_table(table, records=rows[table], columns=columns)
                await conn.execute(text(f"ANALYZE {table}"))
            await conn.commit()
    else:
        async with engine.begin() as conn:
            batch = 5000
            for table, columns in COLUMNS.items():
                for i in range(0, len(rows[table]), batch):
                    await conn.execute(
                        insert(MODELS[table]),
                        [dict(zip(columns, r, strict=True)) for r in rows[table][i : i + batch]],
                    )
            await conn.execute(text("ANALYZE"))
    return time.perf_counter() - started


async def main() -> None:
    args = arguments()
    responses = args.ratings // args.commitments
    with tempfile.TemporaryDirectory() as tmp:
        async with running_stack(args.backend, Path(tmp)) as stack:
            # One organisation that claimed its record: only those are invited.
            funder = await new_funder(stack, partners=1)
            for i in range(args.commitments):
                await funder.commitment(f"Commitment {i + 1}", position=i)
            round_ = await funder.round("Benchmark round")
            asked = [
                (uuid.UUID(c["commitment_id"]), uuid.UUID(c["commitment_version_id"]))
                for c in round_["commitments"]
            ]
            round_id = uuid.UUID(round_["id"])
            rows = _rows(round_id, asked, responses)
            rating_count = len(rows["ratings"]) + len(rows["anonymous_ratings"])
            response_count = len(rows["responses"]) + len(rows["anonymous_responses"])
            engine = stack.apps["feedback"].state.db.engine
            # Statements the feedback service sends per request: independent of the load.
            executed: list[str] = []
            event.listen(
                engine.sync_engine,
                "before_cursor_execute",
                lambda *a, **k: executed.append(a[2]),
            )
            loaded = await _load(engine, rows)
            print(
                f"loaded {response_count:,} responses and {rating_count:,} ratings "
                f"into {engine.dialect.name} in {loaded:.1f} s"
            )
            open_times = []
            for _ in range(args.runs):
                started = time.perf_counter()
                r = await stack.feedback.get(f"{API}/rounds/{round_id}", headers=funder.staff)
                open_times.append(time.perf_counter() - started)
                assert r.status_code == 200, r.text
            started = time.perf_counter()
            await funder.close(round_)
            close_ms = (time.perf_counter() - started) * 1000

            api_times, api_cpu, statements = [], [], []
            for _ in range(args.runs):
                counted = len(executed)
                cpu = time.process_time()
                started = time.perf_counter()
                r = await stack.feedback.get(
                    f"{API}/rounds/{round_id}/results", headers=funder.staff
                )
                api_times.append(time.perf_counter() - started)
                api_cpu.append(time.process_time() - cpu)
                statements.append(len(executed) - counted)
                assert r.status_code == 200, r.text
            first = r.json()[0]
            query_times = []
            db = stack.apps["feedback"].state.db
            for _ in range(args.runs):
                async with db.sessionmaker() as session:
                    started = time.perf_counter()
                    found = await results_repo.aggregates(session, [round_id])
                    query_times.append(time.perf_counter() - started)
            assert sum(p["n"] for a in found.values() for p in a.values()) == rating_count
            summary_times = []
            for _ in range(args.runs):
                async with db.sessionmaker() as session:
                    started = time.perf_counter()
                    summarised = await results_repo.summaries(session, [round_id])
                    summary_times.append(time.perf_counter() - started)
            # The summary written at close is the aggregate, figure for figure.
            assert summarised == found
            if args.explain and engine.dialect.name == "postgresql":
                async with db.sessionmaker() as session:
                    stmt = results_repo.aggregates_statement([round_id])
                    compiled = stmt.compile(engine, compile_kwargs={"literal_binds": True})
                    plan = await session.execute(text(f"EXPLAIN ANALYZE {compiled}"))
                    print("\n".join(row[0] for row in plan))
            print(
                f"results of one round over {rating_count:,} ratings "
                f"({args.commitments} commitments x {responses:,} responses):"
            )
            print(
                f"  API  GET /rounds/{{id}}/results  median {statistics.median(api_times) * 1000:.1f} ms"
                f" (min {min(api_times) * 1000:.1f} ms, {args.runs} runs); CPU of this process "
                f"{statistics.median(api_cpu) * 1000:.2f} ms, "
                f"{statistics.median(statements):.0f} SQL statements per request"
            )
            print(
                f"  API  GET /rounds/{{id}} while open median "
                f"{statistics.median(open_times) * 1000:.1f} ms (its response counts; "
                f"open rounds have no results to read); closing it took {close_ms:.0f} ms"
            )
            print(
                f"  aggregate query alone          median {statistics.median(query_times) * 1000:.0f} ms"
                f" (min {min(query_times) * 1000:.0f} ms)"
            )
            summary_ms = statistics.median(summary_times) * 1000
            api_ms = statistics.median(api_times) * 1000
            aggregate_ms = statistics.median(query_times) * 1000
            print(
                f"  summary read alone             median {summary_ms:.1f} ms"
                f" (min {min(summary_times) * 1000:.1f} ms)"
            )
            print(
                f"  ratios: API / summary read {api_ms / summary_ms:.1f}x, "
                f"API / live aggregate {api_ms / aggregate_ms:.2f}x, "
                f"live aggregate / summary read {aggregate_ms / summary_ms:.0f}x"
            )
            print(
                f"  e.g. {first['title']}: n={first['responses']} mean={first['mean']} "
                f"dont_know={first['dont_know']} distribution={first['distribution']}"
            )


if __name__ == "__main__":
    asyncio.run(main())
