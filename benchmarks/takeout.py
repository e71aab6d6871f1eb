"""Benchmark: a funder's takeout (every list, JSON Lines and CSV in one zip) over many grants.

    uv run python -m benchmarks.takeout [--backend sqlite|postgres] [--grants 100000]

Seeds a funder, its partners and bulk-inserted grants (``funding_common``), serves the
three apps on loopback with a gateway in front (as the gateway tests do), runs a takeout
as the funder's staff and downloads the zip. It does this at a fifth of the grants and at
all of them and reports rows per second, the zip's size, and how much the process's
resident memory grew above what it held before the takeout started (sampled every 20 ms
from ``/proc/self/status``; tracemalloc slowed everything threefold): flat memory means
the two growths are about the same. The smaller run is a fifth of the grants (20,000
against 100,000 by default). The reference in the same run is the streaming 360Giving
export of the same grants, through the same gateway.
PostgreSQL: ``TRELLIS_TEST_POSTGRES_URL=postgresql://postgres@127.0.0.1:5432/postgres``.
On a loaded machine give the calls room: ``TRELLIS_UPSTREAM_TIMEOUT=600
TRELLIS_GATEWAY_REQUEST_DEADLINE=600`` (the export streams through the gateway, whose
deadline covers the whole body).
"""

import asyncio
import re
import threading
import time
from pathlib import Path

from benchmarks.funding_common import arguments, seeded_stack
from tests.gateway.served import served_views


def rss() -> int:
    """This process's resident memory in bytes (Linux)."""
    status = Path("/proc/self/status").read_text()
    found = re.search(r"VmRSS:\s+(\d+) kB", status)
    assert found, "no VmRSS in /proc/self/status"
    return int(found.group(1)) * 1024


class PeakMemory:
    """The most resident memory seen while it runs, sampled in a thread."""

    def __init__(self) -> None:
        self.baseline = rss()
        self.peak = self.baseline
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, rss())

    def growth(self) -> int:
        self._stop.set()
        self._thread.join()
        return max(self.peak, rss()) - self.baseline


async def one_run(backend: str, grants: int, partners: int) -> dict[str, float]:
    async with seeded_stack(backend, grants, partners) as seeded:
        async for views in served_views(seeded.stack):
            client = views.gateway
            memory = PeakMemory()
            started = time.perf_counter()
            response = await client.post("/api/v1/exports/takeout", headers=seeded.staff)
            assert response.status_code == 202, response.text
            location = response.headers["location"]
            while True:
                job = (await client.get(location, headers=seeded.staff)).json()
                if job["status"] != "running":
                    break
                await asyncio.sleep(0.2)
            seconds = time.perf_counter() - started
            peak = memory.growth()
            assert job["status"] == "done", job
            rows = sum(job["files"].values())

            started = time.perf_counter()
            size = 0
            async with client.stream(
                "GET", "/api/v1/exports/360giving", headers=seeded.staff
            ) as export:
                async for chunk in export.aiter_bytes():
                    size += len(chunk)
            reference = time.perf_counter() - started
            return {
                "grants": grants,
                "rows": rows,
                "seconds": seconds,
                "rows_per_second": rows / seconds,
                "zip_mib": job["size"] / 2**20,
                "growth_mib": peak / 2**20,
                "export_grants_per_second": grants / reference,
            }
    raise AssertionError("no gateway was served")


async def main() -> None:
    args = arguments(__doc__ or "")
    results = []
    for grants in (args.grants // 5, args.grants):
        result = await one_run(args.backend, grants, args.partners)
        results.append(result)
        print(
            f"{args.backend}: {result['grants']:>9,} grants -> {result['rows']:,} rows in "
            f"{result['seconds']:.1f}s ({result['rows_per_second']:,.0f} rows/s), zip "
            f"{result['zip_mib']:.1f} MiB, memory grew {result['growth_mib']:.1f} MiB; "
            f"360Giving export of the same grants: {result['export_grants_per_second']:,.0f} "
            "grants/s",
            flush=True,
        )
    small, large = results
    print(
        f"memory growth at {large['grants']:,} / at {small['grants']:,}: "
        f"{large['growth_mib'] / max(small['growth_mib'], 0.1):.2f}x; rows/s at "
        f"{large['grants']:,} / at {small['grants']:,}: "
        f"{large['rows_per_second'] / small['rows_per_second']:.2f}x; takeout rows/s / "
        f"export grants/s at {large['grants']:,}: "
        f"{large['rows_per_second'] / large['export_grants_per_second']:.2f}x"
    )


if __name__ == "__main__":
    asyncio.run(main())
