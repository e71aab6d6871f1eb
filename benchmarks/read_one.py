"""Benchmark: what one request costs beyond its query (issue 14, item 1).

    uv run python -m benchmarks.read_one [--backend sqlite|postgres] [--grants 2000]
        [--duration 5] [--rounds 3] [--connections 32] [--port-base 18400]

Starts, on loopback ports from ``--port-base``: the funding service (uvicorn with
uvloop and httptools, as ``trellis serve`` runs it; log level INFO, so every request
is logged) on a fresh database migrated to head with ``--grants`` grants of one
funder, and the reference beside it, ``benchmarks/raw_grant.py`` (Starlette +
asyncpg or aiosqlite reading the same row with the same token check). wrk then
measures, in alternating rounds:

- ``GET /api/v1/grants/{id}`` on both, at 1 and at ``--connections`` connections;
- the first page of ``GET /api/v1/grants`` (react-admin's ``range=[0,24]``) on the
  service, and the reference's first page (the same 25 grants and their funding
  organisations in one query, no total), at the same concurrencies.

It prints requests/second (median and range over rounds), p50/p99, the CPU time the
serving process spent per request, and the ratios the issue sets targets for: the
read-one ≥ 0.5x the raw endpoint, a first list page ≤ 2x a read-one (time per
request, i.e. the inverse of the throughput ratio). PostgreSQL needs
``TRELLIS_TEST_POSTGRES_URL``; the benchmark makes and drops its own database.
"""

import argparse
import os
import random
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
from sqlalchemy import create_engine, insert
from sqlalchemy.engine import make_url

from benchmarks.funding_common import grant_rows
from benchmarks.harness import (
    UVICORN,
    Processes,
    add_common_arguments,
    measure,
    ports,
    summary,
    wait_ready,
)
from services.common.auth import KeyStore, TokenIssuer
from services.common.db import sync_url, utcnow
from services.common.migrate import upgrade
from services.funding.grants.models import Grant, GrantFundingOrganisation

ISSUER = "http://127.0.0.1:8000"
AUDIENCE = "trellis"


def seed(url: str, funder_id: uuid.UUID, count: int) -> uuid.UUID:
    """Migrate to head and insert the grants; the id of one of them."""
    upgrade("funding", url)
    rng = random.Random(14)
    partners = [uuid.UUID(int=rng.getrandbits(128), version=4) for _ in range(50)]
    grants, orgs = grant_rows(rng, funder_id, "360G-bench", partners, range(count), utcnow())
    engine = create_engine(sync_url(url))
    with engine.begin() as conn:
        conn.execute(insert(Grant), grants)
        conn.execute(insert(GrantFundingOrganisation), orgs)
        conn.exec_driver_sql("ANALYZE")
    engine.dispose()
    return grants[len(grants) // 2]["id"]


def postgres_database(base: str, name: str, *, drop: bool = False) -> str:
    """Make (or drop) a database ``name`` on the server of ``base``; its URL."""
    server = make_url(base).set(drivername="postgresql")
    with psycopg.connect(server.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if not drop:
            conn.execute(f'CREATE DATABASE "{name}"')
    return server.set(database=name).render_as_string(hide_password=False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--grants", type=int, default=2000)
    add_common_arguments(parser)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("error: wrk not found on PATH: apt-get install -y wrk", file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="trellis-read-one-"))
    procs = Processes()
    pg_name = None
    try:
        if args.backend == "postgres":
            base = os.environ.get("TRELLIS_TEST_POSTGRES_URL")
            if not base:
                print("error: set TRELLIS_TEST_POSTGRES_URL", file=sys.stderr)
                return 2
            pg_name = f"bench_read_one_{os.getpid()}"
            url = postgres_database(base, pg_name)
        else:
            url = f"sqlite+aiosqlite:///{tmp / 'data' / 'funding.db'}"
        return _run(args, tmp, procs, url)
    finally:
        procs.stop()
        if pg_name is not None:
            postgres_database(os.environ["TRELLIS_TEST_POSTGRES_URL"], pg_name, drop=True)
        shutil.rmtree(tmp, ignore_errors=True)


def _run(args: argparse.Namespace, tmp: Path, procs: Processes, url: str) -> int:
    data_dir = tmp / "data"
    keys = KeyStore(data_dir / "keys" / "signing-keys.json")
    keys.ensure()
    funder_id = uuid.uuid4()
    grant_id = seed(url, funder_id, args.grants)
    token = TokenIssuer(keys, issuer=ISSUER, audience=AUDIENCE).mint(
        sub="bench-staff", roles=["funder_staff"], client_id="bench", funder_id=str(funder_id)
    )
    port = ports(args.port_base)
    service_port, raw_port, unused = next(port), next(port), next(port)
    env = {
        **os.environ,
        "TRELLIS_DATA_DIR": str(data_dir),
        "TRELLIS_AUTH_ISSUER": ISSUER,
        "TRELLIS_AUTH_AUDIENCE": AUDIENCE,
        "TRELLIS_FUNDING_DATABASE_URL": url,
        "TRELLIS_FUNDING_OUTBOX_AUTOSTART": "false",
        "TRELLIS_FUNDING_OVERDUE_CHECK_AUTOSTART": "false",
        "TRELLIS_PARTNERS_URL": f"http://127.0.0.1:{unused}",
        "TRELLIS_FEEDBACK_URL": f"http://127.0.0.1:{unused}",
        "BENCH_DATABASE_URL": url,
        "BENCH_KEYS_FILE": str(keys.path),
    }
    service = procs.start(
        "funding",
        [*UVICORN, "--port", str(service_port), "services.funding.app:create_app"],
        env,
        tmp / "funding.log",
    )
    raw = procs.start(
        "raw",
        [*UVICORN, "--port", str(raw_port), "benchmarks.raw_grant:create_app"],
        env,
        tmp / "raw.log",
    )
    wait_ready(f"http://127.0.0.1:{service_port}/readyz", "the funding service", service)
    headers = {"Authorization": f"Bearer {token}"}
    targets = {
        "raw read-one": (f"http://127.0.0.1:{raw_port}/api/v1/grants/{grant_id}", raw.pid),
        "read-one": (f"http://127.0.0.1:{service_port}/api/v1/grants/{grant_id}", service.pid),
        "first page": (
            f"http://127.0.0.1:{service_port}/api/v1/grants?range=%5B0%2C24%5D",
            service.pid,
        ),
        "raw first page": (f"http://127.0.0.1:{raw_port}/api/v1/grants", raw.pid),
    }
    for _ in range(60):  # the raw app has no readiness route: its own answer is the check
        try:
            measure(
                targets["raw read-one"][0], connections=1, duration=1, headers=headers, pid=None
            )
            break
        except Exception:
            time.sleep(0.2)
    for target_url, _pid in targets.values():  # warm up
        measure(target_url, connections=args.connections, duration=2, headers=headers, pid=None)
    results: dict[tuple[str, int], dict] = {}
    for connections in (1, args.connections):
        runs: dict[str, list[dict]] = {name: [] for name in targets}
        for round_no in range(args.rounds):
            for name, (target_url, pid) in targets.items():
                got = measure(
                    target_url,
                    connections=connections,
                    duration=args.duration,
                    headers=headers,
                    pid=pid,
                )
                runs[name].append(got)
                print(
                    f"  round {round_no + 1}: {name:<13} c={connections:<3} {got['rps']:>8.0f} "
                    f"req/s  {got['cpu_us']:>6.0f} us CPU/req",
                    file=sys.stderr,
                )
        for name, measured in runs.items():
            results[(name, connections)] = summary(measured)
    return report(results, args)


def _range(figure: dict, key: str, fmt: str = ".0f") -> str:
    low, high = figure[key + "_range"]
    return f"{figure[key]:{fmt}} ({low:{fmt}}-{high:{fmt}})"


def report(results: dict[tuple[str, int], dict], args: argparse.Namespace) -> int:
    print()
    print(
        f"Read-one on {args.backend} ({args.grants} grants; {os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.1f}; median (range) of {args.rounds} rounds of {args.duration} s)"
    )
    header = (
        f"{'target':<14}{'conns':>6}{'req/s':>22}{'p50 ms':>8}{'p99 ms':>8}"
        f"{'CPU us/req':>22}{'errors':>8}"
    )
    print(header)
    print("-" * len(header))
    for (name, connections), r in results.items():
        print(
            f"{name:<14}{connections:>6}{_range(r, 'rps'):>22}{r['p50']:>8.2f}{r['p99']:>8.2f}"
            f"{_range(r, 'cpu_us'):>22}{r['errors']:>8}"
        )
    print()
    ok = True
    for connections in (1, args.connections):
        raw = results[("raw read-one", connections)]
        one = results[("read-one", connections)]
        page = results[("first page", connections)]
        ratio = one["rps"] / raw["rps"]
        cpu_ratio = raw["cpu_us"] / one["cpu_us"]
        page_cost = one["rps"] / page["rps"]
        raw_page = results[("raw first page", connections)]
        passed = ratio >= 0.5 and page_cost <= 2.0
        ok = ok and passed and one["errors"] == 0 and page["errors"] == 0
        print(
            f"c={connections}: read-one/raw {ratio:.2f}x throughput, {cpu_ratio:.2f}x by CPU per "
            f"request (target >= 0.50x); first page costs {page_cost:.2f}x a read-one "
            f"(target <= 2x): {'PASS' if passed else 'FAIL'}; first page/raw first page "
            f"{page['rps'] / raw_page['rps']:.2f}x, "
            f"{raw_page['cpu_us'] / page['cpu_us']:.2f}x by CPU (no target)"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
