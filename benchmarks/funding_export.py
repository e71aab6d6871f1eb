"""Benchmark: the streaming 360Giving export of 100,000 grants.

    uv run python -m benchmarks.funding_export [--backend sqlite|postgres] [--grants 100000]

Makes a funder and its partners through the partners API, bulk-inserts the grants
into the funding database, serves the funding app with uvicorn on a loopback port
(a real socket, so the response really streams; httpx's in-process transport
would buffer it) and downloads ``GET /api/v1/exports/360giving`` (JSON, then CSV)
chunk by chunk, keeping nothing. It reports grants per second, and the peak
Python memory (tracemalloc) of a run over a tenth of the grants and over all of
them: flat memory means the two peaks are about the same. PostgreSQL:
``TRELLIS_TEST_POSTGRES_URL=postgresql://postgres@127.0.0.1:5432/postgres``.
"""

import asyncio
import socket
import time
import tracemalloc
from typing import Any

import httpx
import orjson
import uvicorn

from benchmarks.funding_common import Seeded, arguments, seeded_stack


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def download(base: str, headers: dict[str, str], params: dict[str, str]) -> tuple[int, float]:
    """Stream the export, keeping only its size; (bytes, seconds)."""
    size = 0
    started = time.perf_counter()
    async with (
        httpx.AsyncClient(base_url=base, timeout=600) as client,
        client.stream("GET", "/api/v1/exports/360giving", headers=headers, params=params) as resp,
    ):
        assert resp.status_code == 200, await resp.aread()
        async for chunk in resp.aiter_bytes():
            size += len(chunk)
    return size, time.perf_counter() - started


async def measure(seeded: Seeded, base: str, fmt: str, grants: int) -> dict[str, Any]:
    params = {"format": fmt}
    size, seconds = await download(base, seeded.staff, params)
    tracemalloc.start()
    await download(base, seeded.staff, params)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "format": fmt,
        "grants": grants,
        "bytes": size,
        "seconds": round(seconds, 2),
        "grants_per_second": round(grants / seconds),
        "peak_python_memory_mib": round(peak / 2**20, 2),
    }


async def main() -> None:
    args = arguments(__doc__ or "")
    small = max(1, args.grants // 10)
    results = []
    for count in (small, args.grants):
        async with seeded_stack(args.backend, count, args.partners) as seeded:
            port = free_port()
            config = uvicorn.Config(
                seeded.stack.apps["funding"],
                host="127.0.0.1",
                port=port,
                lifespan="off",
                log_level="warning",
            )
            server = uvicorn.Server(config)
            task = asyncio.create_task(server.serve())
            while not server.started:  # noqa: ASYNC110 - uvicorn exposes a flag, not an event
                await asyncio.sleep(0.05)
            try:
                for fmt in ("json", "csv"):
                    result = await measure(seeded, f"http://127.0.0.1:{port}", fmt, count)
                    result["backend"] = args.backend
                    print(orjson.dumps(result).decode())
                    results.append(result)
            finally:
                server.should_exit = True
                await task
    for fmt in ("json", "csv"):
        a, b = (r for r in results if r["format"] == fmt)
        print(
            f"{args.backend} {fmt}: {b['grants']:,} grants at {b['grants_per_second']:,}/s; "
            f"peak memory {a['peak_python_memory_mib']} MiB at {a['grants']:,} grants, "
            f"{b['peak_python_memory_mib']} MiB at {b['grants']:,}"
        )


if __name__ == "__main__":
    asyncio.run(main())
