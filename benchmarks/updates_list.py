"""Benchmark: partners' updates list at row 0, row 100,000 and the last row (PostgreSQL).

    uv run python -m benchmarks.updates_list [--updates 1000000] [--repeats 15]

The sibling of ``benchmarks.funding_list`` for a second list that grows to millions of
rows: one funder's copies of its partners' reflective updates. The funder and its
partners are made through the API; the updates are made in PostgreSQL by
generate_series (triggers off while loading, the list version bumped once after). It
times ``GET /api/v1/updates`` (median of ``--repeats``, variants interleaved
round-robin) for the first page of 25, for ``range`` pages starting at row 100,000 and
ending at the last row (react-admin's way: a seek from the list's anchors), and for the
last page by ``cursor=``; and checks the deep page holds the rows the cursor page does.
It prints each figure and the ratios deep/first. Target (issue 14): deep pages <= 1.2x
the first page at 1M rows.
"""

import argparse
import asyncio
import uuid
from typing import Any

import orjson

from benchmarks.funding_common import seeded_stack
from benchmarks.funding_list import timed

PAGE = 25
ORDERS = ('["sent_at","DESC"]', '["last_activity_at","DESC"]', '["id","ASC"]')

UPDATES_SQL = """
INSERT INTO updates (id, submission_id, partner_id, funder_id, sent_at, sent_by,
    what_changed, what_we_learned, what_was_hard, want_you_to_know, document_ids, links,
    first_reply_at, reply_seconds, reply_count, last_activity_at)
SELECT gen_random_uuid(), gen_random_uuid(),
    ($2::uuid[])[1 + abs(hashint4(n * 3)) % cardinality($2)], $1, sent, 'Benchmark',
    'We moved the evening club to Thursdays (' || n || ').', 'Listening first helps.',
    NULL, NULL, '[]', '[]', NULL, NULL, 0, sent + make_interval(mins => n % 97)
FROM (
    SELECT n, timestamptz '2020-01-01' + make_interval(mins => abs(hashint4(n)) % 3153600)
        AS sent
    FROM generate_series(0, $3 - 1) AS n
) AS s
"""


async def bulk_updates(stack: Any, funder_id: uuid.UUID, partner_ids: list[str], count: int):
    db = stack.apps["partners"].state.db
    async with db.engine.connect() as conn:
        raw = (await conn.get_raw_connection()).driver_connection
        async with raw.transaction():
            await raw.execute("SET LOCAL session_replication_role = replica")
            await raw.execute(UPDATES_SQL, funder_id, [uuid.UUID(p) for p in partner_ids], count)
            if await raw.fetchval("SELECT to_regclass('list_versions') IS NOT NULL"):
                await raw.execute("UPDATE list_versions SET version = version + 1")
        await raw.execute("VACUUM ANALYZE updates")


async def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--updates", type=int, default=1_000_000)
    parser.add_argument("--partners", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    async with seeded_stack("postgres", 0, args.partners) as seeded:
        funder_id = uuid.UUID(seeded.funder["id"])
        await bulk_updates(seeded.stack, funder_id, seeded.partner_ids, args.updates)
        client = seeded.stack.partners
        mid = min(100_000, args.updates // 10)
        last = args.updates - PAGE
        for sort in ORDERS:

            def api(start: int, extra: dict[str, str] | None = None, sort: str = sort) -> Any:
                params = {"sort": sort, "range": f"[{start},{start + PAGE - 1}]", **(extra or {})}

                async def run() -> Any:
                    response = await client.get(
                        "/api/v1/updates", headers=seeded.staff, params=params
                    )
                    assert response.status_code == 200, response.text
                    return response

                return run

            # The cursor a client holds at the last page: walk there by range once.
            before_last = (await api(last - PAGE)()).headers["x-next-cursor"]
            measured = await timed(
                {
                    "first": api(0),
                    "range_mid": api(mid),
                    "range_last": api(last),
                    "cursor_last": api(last, {"cursor": before_last}),
                },
                args.repeats,
            )
            ms = {name: value[0] for name, value in measured.items()}
            deep, keyset = measured["range_last"][1], measured["cursor_last"][1]
            assert [u["id"] for u in deep.json()] == [u["id"] for u in keyset.json()]
            assert len(deep.json()) == PAGE
            first = measured["first"][1]
            result = {
                "backend": "postgres",
                "updates": args.updates,
                "sort": sort,
                **{f"{name}_ms": round(value, 2) for name, value in ms.items()},
                f"row_{mid}_over_first": round(ms["range_mid"] / ms["first"], 2),
                "last_over_first": round(ms["range_last"] / ms["first"], 2),
                "cursor_over_first": round(ms["cursor_last"] / ms["first"], 2),
                "content_range": first.headers["content-range"],
                "estimated": first.headers.get("x-total-count-estimated") == "true",
            }
            print(orjson.dumps(result).decode(), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
