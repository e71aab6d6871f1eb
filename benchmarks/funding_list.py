"""Benchmark: the grants list at row 0 and at row 100,000, by offset and by cursor.

    uv run python -m benchmarks.funding_list [--backend sqlite|postgres] [--grants 100000]

With the grants bulk-inserted (see ``funding_common``), it times
``GET /api/v1/grants`` for the first page of 25 and for the page that ends at the
last row, two ways: ``range=[start,end]`` (OFFSET, which the database must walk)
and ``cursor=`` (keyset: the previous page's ``X-Next-Cursor``, found by walking
the list 100 rows at a time). Each is the median of repeated requests, for the
award-date, the amount and the id orders (``id`` is react-admin's default sort). The target (DESIGN.md) is a deep/first ratio
near 1 for the cursor.
"""

import asyncio
import statistics
import time
from typing import Any

import orjson

from benchmarks.funding_common import Seeded, arguments, seeded_stack

REPEATS = 25
PAGE = 25


async def timed(seeded: Seeded, variants: dict[str, dict[str, str]]) -> dict[str, Any]:
    """Median milliseconds of each variant, requests interleaved round-robin (so load on the
    machine or a WAL checkpoint weighs on every variant alike); and each last response."""
    client = seeded.stack.funding
    samples: dict[str, list[float]] = {name: [] for name in variants}
    responses: dict[str, Any] = {}
    for params in variants.values():  # warm up
        await client.get("/api/v1/grants", headers=seeded.staff, params=params)
    for _ in range(REPEATS):
        for name, params in variants.items():
            started = time.perf_counter()
            response = await client.get("/api/v1/grants", headers=seeded.staff, params=params)
            samples[name].append(time.perf_counter() - started)
            assert response.status_code == 200, response.text
            responses[name] = response
    return {
        name: (statistics.median(values) * 1000, responses[name])
        for name, values in samples.items()
    }


async def deep_cursor(seeded: Seeded, sort: str, target: int) -> str:
    """The cursor that continues at row ``target`` (walked 100 rows at a time)."""
    client = seeded.stack.funding
    params = {"sort": sort, "range": "[0,99]"}
    position = 0
    cursor = ""
    while position < target:
        size = min(100, target - position)
        params["range"] = f"[{position},{position + size - 1}]"
        response = await client.get("/api/v1/grants", headers=seeded.staff, params=params)
        assert response.status_code == 200, response.text
        cursor = response.headers["x-next-cursor"]
        params["cursor"] = cursor
        position += size
    return cursor


async def main() -> None:
    args = arguments(__doc__ or "")
    async with seeded_stack(args.backend, args.grants, args.partners) as seeded:
        last = args.grants - PAGE
        for sort in ('["awarded_on","DESC"]', '["amount_awarded","ASC"]', '["id","ASC"]'):
            deep_range = f"[{last},{args.grants - 1}]"
            cursor = await deep_cursor(seeded, sort, last)
            measured = await timed(
                seeded,
                {
                    "first": {"sort": sort, "range": f"[0,{PAGE - 1}]"},
                    "offset": {"sort": sort, "range": deep_range},
                    "cursor": {"sort": sort, "range": deep_range, "cursor": cursor},
                },
            )
            first_ms, _ = measured["first"]
            offset_ms, deep = measured["offset"]
            cursor_ms, keyset = measured["cursor"]
            assert [g["id"] for g in keyset.json()] == [g["id"] for g in deep.json()]
            # A cursor page says where it sits, as the offset page does.
            assert keyset.headers["content-range"] == deep.headers["content-range"]
            result = {
                "backend": args.backend,
                "grants": args.grants,
                "sort": sort,
                "first_page_ms": round(first_ms, 2),
                "deep_offset_ms": round(offset_ms, 2),
                "deep_cursor_ms": round(cursor_ms, 2),
                "offset_ratio": round(offset_ms / first_ms, 2),
                "cursor_ratio": round(cursor_ms / first_ms, 2),
                "content_range": deep.headers["content-range"],
            }
            print(orjson.dumps(result).decode())


if __name__ == "__main__":
    asyncio.run(main())
