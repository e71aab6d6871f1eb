"""Benchmark: what the gateway's rate limits add to each request, against limits off.

    nice uv run python benchmarks/ratelimit.py [--duration 8] [--rounds 3] [--port 18110]

Starts, on loopback ports from ``--port`` on and in a temporary directory: a stub
upstream (answers ``200 {}`` at once, so the gateway's own work shows) and one
gateway (uvicorn, one process each) per configuration, all in front of it:

- ``off``: rate limits disabled (the reference);
- ``sqlite``: limits on, counters in the embedded default (a SQLite file), local
  shares of 5 % (the default ``rate_limit_batch``);
- ``sqlite-every``: the same, asking the store on every request (batch 0);
- ``redis`` and ``redis-every``: the same in Redis, when Redis answers on 6379.

wrk sends ``GET /api/v1/grants`` with a staff token (limits per client and per
source both apply) at ``--connections`` connections. Rounds alternate the
configurations, so load from elsewhere falls on all alike; the median round is
reported. The figure that matters is the gateway's CPU time per request (least
disturbed by other load) and its difference to ``off`` in microseconds: the
limiter's own cost. Limits are set high enough that no request is refused.
Needs ``wrk`` (``apt-get install -y wrk``).
"""

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gateway import (
    AUDIENCE,
    BENCH_CLASSES,
    ISSUER,
    ROOT,
    Processes,
    cpu_seconds,
    run_wrk,
    wait_ready,
)

from services.common.auth import KeyStore, TokenIssuer
from tests.support import redis_up

HIGH = json.dumps({c: "100000000/minute" for c in BENCH_CLASSES})


async def stub(scope: dict, receive: object, send: object) -> None:
    """The upstream: ``200 {}`` for every request (and ``/readyz``)."""
    if scope["type"] != "http":
        return
    headers = [(b"content-type", b"application/json"), (b"content-length", b"2")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})  # type: ignore[operator]
    await send({"type": "http.response.body", "body": b"{}"})  # type: ignore[operator]


def configurations(tmp: Path) -> dict[str, dict[str, str]]:
    """Each gateway's own settings (its own data directory, so its own SQLite file)."""
    configs: dict[str, dict[str, str]] = {
        "off": {"TRELLIS_GATEWAY_RATE_LIMITS_ENABLED": "false"},
        "sqlite": {},
        "sqlite-every": {"TRELLIS_GATEWAY_RATE_LIMIT_BATCH": "0"},
    }
    if redis_up():
        configs["redis"] = {"TRELLIS_REDIS_URL": "redis://127.0.0.1:6379/15"}
        configs["redis-every"] = {**configs["redis"], "TRELLIS_GATEWAY_RATE_LIMIT_BATCH": "0"}
    for name, env in configs.items():
        env["TRELLIS_DATA_DIR"] = str(tmp / name)
    return configs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=8, help="seconds per run")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds (median)")
    parser.add_argument("--port", type=int, default=18110, help="first of the ports used")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("error: wrk not found on PATH (apt-get install -y wrk)", file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="trellis-ratelimit-bench-"))
    procs = Processes()
    try:
        return _run(args, tmp, procs)
    finally:
        procs.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def _run(args: argparse.Namespace, tmp: Path, procs: Processes) -> int:
    keys_dir = tmp / "keys"
    store = KeyStore(keys_dir / "signing-keys.json")
    store.ensure()
    issuer = TokenIssuer(store, issuer=ISSUER, audience=AUDIENCE)
    token = issuer.mint(
        sub="bench-staff", roles=["funder_staff"], client_id="bench", funder_id=uuid.uuid4()
    )
    headers = {"Authorization": f"Bearer {token}"}

    upstream = f"http://127.0.0.1:{args.port}"
    uvicorn = [sys.executable, "-m", "uvicorn", "--host", "127.0.0.1"]
    uvicorn += ["--no-access-log", "--log-level", "warning"]
    base_env = {
        **os.environ,
        "TRELLIS_AUTH_ISSUER": ISSUER,
        "TRELLIS_AUTH_AUDIENCE": AUDIENCE,
        "TRELLIS_AUTH_SIGNING_KEYS_FILE": str(keys_dir / "signing-keys.json"),
        "TRELLIS_LOG_LEVEL": "WARNING",
        "TRELLIS_PARTNERS_URL": upstream,
        "TRELLIS_FUNDING_URL": upstream,
        "TRELLIS_FEEDBACK_URL": upstream,
        "TRELLIS_GATEWAY_RATE_LIMITS": HIGH,
        "TRELLIS_GATEWAY_SOURCE_RATE_LIMITS": HIGH,
    }
    proc = procs.start(
        "stub",
        [
            *uvicorn,
            "--port",
            str(args.port),
            "--app-dir",
            str(ROOT / "benchmarks"),
            "ratelimit:stub",
        ],
        base_env,
        tmp / "stub.log",
    )
    wait_ready(f"{upstream}/readyz", "the stub upstream", proc, timeout=90)

    gateways: dict[str, tuple[str, int]] = {}
    for offset, (name, env) in enumerate(configurations(tmp).items(), start=1):
        port = args.port + offset
        url = f"http://127.0.0.1:{port}"
        proc = procs.start(
            name,
            [*uvicorn, "--factory", "--port", str(port), "services.gateway.app:create_app"],
            {**base_env, **env},
            tmp / f"gateway-{name}.log",
        )
        wait_ready(f"{url}/healthz", f"the gateway ({name})", proc, timeout=90)
        gateways[name] = (url, proc.pid)

    path = "/api/v1/grants"
    for url, _ in gateways.values():  # warm up: connections, the token cache, first leases
        run_wrk(url + path, connections=args.connections, duration=2, headers=headers)
    runs: dict[str, list[dict]] = {name: [] for name in gateways}
    for round_no in range(args.rounds):
        for name, (url, pid) in gateways.items():
            before = cpu_seconds(pid)
            measured = run_wrk(
                url + path, connections=args.connections, duration=args.duration, headers=headers
            )
            measured["cpu_us"] = (cpu_seconds(pid) - before) * 1e6 / max(measured["requests"], 1)
            runs[name].append(measured)
            print(
                f"  round {round_no + 1}: {name:<12} {measured['rps']:>8.0f} req/s  "
                f"p50 {measured['p50']:.2f} ms  {measured['cpu_us']:.0f} µs CPU/request  "
                f"errors {measured['errors']}",
                file=sys.stderr,
            )
    return report(runs, args)


def report(runs: dict[str, list[dict]], args: argparse.Namespace) -> int:
    def median(name: str, field: str) -> float:
        return statistics.median(m[field] for m in runs[name])

    reference_cpu = median("off", "cpu_us")
    reference_p50 = median("off", "p50")
    print(
        f"\nGET /api/v1/grants through the gateway, c={args.connections}, "
        f"median of {args.rounds} rounds of {args.duration} s (load {os.getloadavg()[0]:.1f})"
    )
    print(
        f"{'limits':<13}{'req/s':>9}{'p50 ms':>9}{'CPU µs/req':>12}{'added µs':>10}{'p50 +ms':>9}"
        f"{'errors':>8}"
    )
    failed = False
    for name in runs:
        cpu = median(name, "cpu_us")
        p50 = median(name, "p50")
        errors = sum(m["errors"] for m in runs[name])
        failed |= errors > 0
        print(
            f"{name:<13}{median(name, 'rps'):>9.0f}{p50:>9.2f}{cpu:>12.0f}"
            f"{cpu - reference_cpu:>10.0f}{p50 - reference_p50:>9.2f}{errors:>8}"
        )
    if failed:
        print("error: some requests were refused or failed (non-2xx)", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
