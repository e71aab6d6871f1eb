"""Benchmark: the Trellis gateway against nginx, in front of the same partners service.

    uv run python -m benchmarks.gateway [--duration 10] [--connections 32] [--port-base 18400]
        [--scenario static --scenario discovery ...] [--gateway-workers 1] [--no-rate-limits]
        [--baseline /work/main]

Starts, on loopback ports from ``--port-base`` and in a temporary directory: the
partners service (uvicorn, SQLite migrated to head, a funder with 25 partners), a
static upstream (nginx answering a fixed JSON body), nginx with
``benchmarks/nginx-gateway.conf`` in front of each, and a gateway in front of each
(``trellis serve gateway``, ``--gateway-workers`` processes). Then wrk measures
each path at 32 connections (throughput) and at one connection (latency), for
three scenarios:

- ``partners list``: ``GET /api/v1/partners`` with a staff token (the gateway
  verifies it, the service verifies it again and reads the database);
- ``discovery``: ``GET /.well-known/openid-configuration`` (a cheap upstream answer);
- ``static``: ``GET /api/v1/partners`` with a staff token in front of the static
  upstream (the fast upstream: the proxy's own cost is nearly all of it).

With ``--baseline DIR`` (a checkout of another revision, e.g. main's worktree), a
gateway of that revision's code runs beside this one in front of the static
upstream (target ``baseline``), so before and after are measured in the same run;
it gets ``TRELLIS_GATEWAY_RATE_LIMIT_BATCH=0.0005``, which gateways before the
limiter sized its shares to use had to be given to not refuse the load itself.

It prints requests/second, median and 99th percentile latency, the gateway's
ratio to nginx, and the CPU time each proxy spent per request (nginx: master and
workers; the gateway: its one process), which is the figure least disturbed by
other load on the machine. It checks the targets of DESIGN.md (at least half of
nginx's requests/second at 32 connections, at most 1 ms added at the median for one
client) and of issue 14 with the static upstream (p99 at most 10 ms at 32
connections). Every process it starts is stopped when it ends. Needs ``nginx`` and
``wrk`` (``apt-get install -y nginx wrk``).
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.harness import (  # noqa: E402
    UVICORN,
    Processes,
    add_common_arguments,
    cpu_seconds,
    ports,
    run_wrk,
    wait_ready,
)
from services.common.auth import KeyStore, TokenIssuer  # noqa: E402
from services.common.migrate import upgrade  # noqa: E402

ISSUER = "http://127.0.0.1:8000"
AUDIENCE = "trellis"
TEMPLATE = Path(__file__).with_name("nginx-gateway.conf")


def call(method: str, url: str, token: str, body: dict) -> dict:
    request = urllib.request.Request(
        url,
        method=method,
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


@dataclass
class Result:
    scenario: str
    target: str
    connections: int
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    cpu_us: float | None
    cpu_range: tuple[float, float] | None = None
    rps_range: tuple[float, float] | None = None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_arguments(parser)
    parser.add_argument("--latency-duration", type=int, default=5, help="seconds per 1-client run")
    parser.add_argument(
        "--scenario",
        action="append",
        choices=["partners list", "discovery", "static"],
        help="scenarios to run (default: all three)",
    )
    parser.add_argument(
        "--gateway-workers", type=int, default=1, help="trellis serve gateway --workers N"
    )
    parser.add_argument(
        "--no-rate-limits",
        action="store_true",
        help="run the gateways without rate limits (the proxy's own cost)",
    )
    parser.add_argument(
        "--log-level",
        default="INFO",
        help="TRELLIS_LOG_LEVEL for the gateway and the service (INFO logs every request)",
    )
    parser.add_argument(
        "--nginx-workers", default="auto", help="nginx worker_processes (default: auto)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument(
        "--baseline",
        type=Path,
        help="a checkout of another revision: its gateway runs beside this one (static upstream)",
    )
    args = parser.parse_args()

    missing = [tool for tool in ("nginx", "wrk") if shutil.which(tool) is None]
    if missing:
        print(
            f"error: {' and '.join(missing)} not found on PATH. Install with: "
            f"apt-get install -y {' '.join(missing)}",
            file=sys.stderr,
        )
        return 2

    load = os.getloadavg()[0]
    if load > 1.0:
        print(
            f"warning: the machine is busy (load average {load:.1f} on {os.cpu_count()} CPUs); "
            "latency figures will be noisy",
            file=sys.stderr,
        )
    tmp = Path(tempfile.mkdtemp(prefix="trellis-gateway-bench-"))
    procs = Processes()
    try:
        return _run(args, tmp, procs)
    finally:
        procs.stop()
        if args.keep:
            print(f"(kept {tmp})")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


BENCH_CLASSES = ("reads", "writes", "auth", "public")


def check(what: str, url: str, headers: dict[str, str]) -> None:
    """Stop unless ``url`` answers 200: a benchmark of errors measures nothing."""
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10):
            return
    except urllib.error.HTTPError as exc:
        raise SystemExit(f"{what}: {exc.code} {exc.read()[:300]!r}") from exc


def _gateway(
    name: str,
    port: int,
    env: dict[str, str],
    args: argparse.Namespace,
    procs: Processes,
    tmp: Path,
    code: Path | None = None,
) -> subprocess.Popen:
    """A gateway as it is deployed: ``trellis serve gateway`` (uvloop, httptools), with
    its own rate-limit store (two gateways sharing one would share the limits); ``code``:
    the checkout whose ``services`` package it runs (default: this one)."""
    env = {**env, "TRELLIS_GATEWAY_DATABASE_URL": f"sqlite+aiosqlite:///{tmp / name}.db"}
    serve = ["serve", "gateway", "--port", str(port)]
    if code is None:
        cmd = [sys.executable, "-m", "services.cli", *serve]
    else:
        run = (
            f"import sys; sys.path.insert(0, {str(code)!r}); from services.cli import main; main()"
        )
        cmd = [sys.executable, "-c", run, *serve]
    if args.gateway_workers > 1:
        cmd += ["--workers", str(args.gateway_workers)]
    proc = procs.start(name, cmd, env, tmp / f"{name}.log")
    wait_ready(f"http://127.0.0.1:{port}/healthz", name, proc)
    return proc


def _run(args: argparse.Namespace, tmp: Path, procs: Processes) -> int:
    data_dir = tmp / "data"
    keys = KeyStore(data_dir / "keys" / "signing-keys.json")
    keys.ensure()
    issuer = TokenIssuer(keys, issuer=ISSUER, audience=AUDIENCE)
    database_url = f"sqlite+aiosqlite:///{data_dir / 'partners.db'}"
    upgrade("partners", database_url)

    port = ports(args.port_base)
    upstream_port, nginx_port, gateway_port = next(port), next(port), next(port)
    static_port, static_proxy_port, static_gateway_port = next(port), next(port), next(port)
    unused = next(port)
    upstream = f"http://127.0.0.1:{upstream_port}"
    nginx = f"http://127.0.0.1:{nginx_port}"
    gateway = f"http://127.0.0.1:{gateway_port}"
    env = {
        **os.environ,
        "TRELLIS_DATA_DIR": str(data_dir),
        "TRELLIS_AUTH_ISSUER": ISSUER,
        "TRELLIS_AUTH_AUDIENCE": AUDIENCE,
        "TRELLIS_LOG_LEVEL": args.log_level,
        "TRELLIS_PARTNERS_URL": upstream,
        "TRELLIS_FUNDING_URL": f"http://127.0.0.1:{unused}",
        "TRELLIS_FEEDBACK_URL": f"http://127.0.0.1:{unused}",
        "TRELLIS_PARTNERS_DATABASE_URL": database_url,
        "TRELLIS_PARTNERS_OUTBOX_AUTOSTART": "false",
        # Rate limits stay on (their cost is part of the gateway's), set high enough
        # that the load itself is never refused.
        "TRELLIS_GATEWAY_RATE_LIMITS": json.dumps({c: "600000/minute" for c in BENCH_CLASSES}),
        "TRELLIS_GATEWAY_SOURCE_RATE_LIMITS": json.dumps(
            {c: "600000/minute" for c in BENCH_CLASSES}
        ),
        "TRELLIS_GATEWAY_RATE_LIMITS_ENABLED": "false" if args.no_rate_limits else "true",
    }
    proc = procs.start(
        "partners",
        [*UVICORN, "--port", str(upstream_port), "services.partners.app:create_app"],
        env,
        tmp / "partners.log",
    )
    wait_ready(f"{upstream}/readyz", "the partners service", proc)

    config = TEMPLATE.read_text()
    for key, value in {
        "workers": args.nginx_workers,
        "tmp": str(tmp),
        "access_log": f"{tmp}/nginx-access.log" if args.log_level.upper() == "INFO" else "off",
        "upstream": f"127.0.0.1:{upstream_port}",
        "port": str(nginx_port),
        "static_port": str(static_port),
        "static_proxy_port": str(static_proxy_port),
    }.items():
        config = config.replace("{{" + key + "}}", value)
    (tmp / "nginx.conf").write_text(config)
    nginx_proc = proc = procs.start(
        "nginx",
        ["nginx", "-c", str(tmp / "nginx.conf"), "-p", str(tmp), "-g", "daemon off;"],
        env,
        tmp / "nginx.log",
    )
    wait_ready(f"{nginx}/healthz", "nginx", proc)

    gateway_proc = _gateway("gateway", gateway_port, env, args, procs, tmp)
    static_env = {**env, "TRELLIS_PARTNERS_URL": f"http://127.0.0.1:{static_port}"}
    static_gateway_proc = _gateway(
        "static-gateway", static_gateway_port, static_env, args, procs, tmp
    )
    baseline_port = next(port)
    baseline_proc = None
    if args.baseline:
        # Gateways before shares were sized to their use spent a minute's limit in 3 s
        # shares whether used or not, and refused the load itself without small shares.
        baseline_env = {**static_env, "TRELLIS_GATEWAY_RATE_LIMIT_BATCH": "0.0005"}
        baseline_proc = _gateway(
            "baseline-gateway", baseline_port, baseline_env, args, procs, tmp, args.baseline
        )

    admin = issuer.mint(sub="bench-admin", roles=["platform_admin"], client_id="bench")
    funder = call(
        "POST",
        f"{upstream}/api/v1/funders",
        admin,
        {
            "name": "The Benchmark Trust",
            "slug": "benchmark-trust",
            "prefix_360giving": "360G-bench",
            "org_id": "GB-CHC-1000001",
        },
    )
    staff = issuer.mint(
        sub="bench-staff", roles=["funder_staff"], client_id="bench", funder_id=funder["id"]
    )
    for i in range(25):
        call(
            "POST",
            f"{upstream}/api/v1/partners",
            staff,
            {"name": f"Partner {i:02d}", "status": "active", "region": "North West"},
        )

    bearer = {"Authorization": f"Bearer {staff}"}
    local = "http://127.0.0.1:"
    scenarios = {
        "partners list": (
            "/api/v1/partners",
            bearer,
            [("direct", upstream), ("nginx", nginx), ("gateway", gateway)],
            {"nginx": nginx_proc.pid, "gateway": gateway_proc.pid},
        ),
        "discovery": (
            "/.well-known/openid-configuration",
            {},
            [("direct", upstream), ("nginx", nginx), ("gateway", gateway)],
            {"nginx": nginx_proc.pid, "gateway": gateway_proc.pid},
        ),
        "static": (
            "/api/v1/partners",
            bearer,
            [
                ("direct", f"{local}{static_port}"),
                ("nginx", f"{local}{static_proxy_port}"),
                ("gateway", f"{local}{static_gateway_port}"),
                *([("baseline", f"{local}{baseline_port}")] if baseline_proc else []),
            ],
            # nginx's CPU is the whole server's (the static upstream too): the proxy's own
            # share is less, so the gateway's ratio to it is conservative.
            {
                "nginx": nginx_proc.pid,
                "gateway": static_gateway_proc.pid,
                **({"baseline": baseline_proc.pid} if baseline_proc else {}),
            },
        ),
    }
    results: list[Result] = []
    for scenario in args.scenario or list(scenarios):
        path, headers, targets, proxy_pids = scenarios[scenario]
        for target, base in targets:
            check(f"{scenario} via {target}", base + path, headers)
        for _target, base in targets:
            # warm up: connections, token cache, the service's own caches
            run_wrk(base + path, connections=args.connections, duration=2, headers=headers)
        for connections, duration in (
            (args.connections, args.duration),
            (1, args.latency_duration),
        ):
            runs: dict[str, list[dict]] = {target: [] for target, _ in targets}
            # Rounds alternate the targets, so load from elsewhere on the machine
            # falls on all of them alike; the median round is reported.
            for round_no in range(args.rounds):
                for target, base in targets:
                    pid = proxy_pids.get(target)
                    cpu_before = cpu_seconds(pid) if pid else 0.0
                    measured = run_wrk(
                        base + path, connections=connections, duration=duration, headers=headers
                    )
                    if pid:
                        used = cpu_seconds(pid) - cpu_before
                        measured["cpu_us"] = used * 1e6 / max(measured["requests"], 1)
                    runs[target].append(measured)
                    print(
                        f"  round {round_no + 1}: {scenario:<14} {target:<8} c={connections:<3} "
                        f"{measured['rps']:>9.0f} req/s  p50 {measured['p50']:.2f} ms  "
                        f"p99 {measured['p99']:.2f} ms  "
                        f"{measured.get('cpu_us', 0):.0f} us CPU/req",
                        file=sys.stderr,
                    )
            for target, measured in runs.items():
                results.append(
                    Result(
                        scenario,
                        target,
                        connections,
                        statistics.median(m["rps"] for m in measured),
                        statistics.median(m["p50"] for m in measured),
                        statistics.median(m["p99"] for m in measured),
                        sum(m["errors"] for m in measured),
                        statistics.median(m["cpu_us"] for m in measured)
                        if "cpu_us" in measured[0]
                        else None,
                        (
                            min(m["cpu_us"] for m in measured),
                            max(m["cpu_us"] for m in measured),
                        )
                        if "cpu_us" in measured[0]
                        else None,
                        (min(m["rps"] for m in measured), max(m["rps"] for m in measured)),
                    )
                )
    return report(results, args)


def report(results: list[Result], args: argparse.Namespace) -> int:
    by = {(r.scenario, r.target, r.connections): r for r in results}
    print()
    print(
        f"Gateway vs nginx ({args.gateway_workers} gateway worker(s), rate limits "
        f"{'off' if args.no_rate_limits else 'on'}; "
        f"({os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end, "
        f"log level {args.log_level}, nginx workers {args.nginx_workers}, "
        f"median of {args.rounds} rounds)"
    )
    header = (
        f"{'scenario':<15}{'target':<9}{'conns':>6}{'req/s (range)':>22}{'p50 ms':>9}"
        f"{'p99 ms':>9}{'errors':>8}{'vs nginx':>10}{'proxy CPU us/req (range)':>26}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        ref = by[(r.scenario, "nginx", r.connections)]
        ratio = f"{r.rps / ref.rps:.2f}x" if r.target != "nginx" else ""
        rps = f"{r.rps:.0f} ({r.rps_range[0]:.0f}-{r.rps_range[1]:.0f})" if r.rps_range else ""
        cpu = (
            f"{r.cpu_us:.0f} ({r.cpu_range[0]:.0f}-{r.cpu_range[1]:.0f})"
            if r.cpu_us is not None and r.cpu_range
            else ""
        )
        print(
            f"{r.scenario:<15}{r.target:<9}{r.connections:>6}{rps:>22}"
            f"{r.p50_ms:>9.2f}{r.p99_ms:>9.2f}{r.errors:>8}{ratio:>10}{cpu:>26}"
        )
    print()
    ok = True
    for scenario in dict.fromkeys(r.scenario for r in results):
        gw, ng = (
            by[(scenario, "gateway", args.connections)],
            by[(scenario, "nginx", args.connections)],
        )
        ratio = gw.rps / ng.rps
        single = by[(scenario, "gateway", 1)].p50_ms
        added = single - by[(scenario, "direct", 1)].p50_ms
        over_nginx = single - by[(scenario, "nginx", 1)].p50_ms
        passed = ratio >= 0.5 and added <= 1.0
        p99_note = ""
        if scenario == "static":
            passed = passed and gw.p99_ms <= 10.0
            p99_note = f"; p99 {gw.p99_ms:.1f} ms at {args.connections} connections (target <= 10)"
        cpu_note = ""
        if gw.cpu_us is not None and ng.cpu_us:
            cpu_note = f"; CPU per request {gw.cpu_us:.0f} us vs nginx {ng.cpu_us:.0f} us"
        ok = ok and passed and gw.errors == 0
        base = by.get((scenario, "baseline", args.connections))
        if base is not None and base.cpu_us and gw.cpu_us is not None:
            single_base = by[(scenario, "baseline", 1)]
            print(
                f"{scenario}: against the baseline ({args.baseline}): CPU per request "
                f"{gw.cpu_us / base.cpu_us:.2f}x ({gw.cpu_us:.0f} vs {base.cpu_us:.0f} us; "
                f"target <= 0.50x), throughput {gw.rps / base.rps:.2f}x at {args.connections} "
                f"connections; p99 {gw.p99_ms:.1f} vs {base.p99_ms:.1f} ms; at 1 client p50 "
                f"{single:.2f} vs {single_base.p50_ms:.2f} ms, CPU "
                f"{by[(scenario, 'gateway', 1)].cpu_us:.0f} vs {single_base.cpu_us:.0f} us"
            )
        print(
            f"{scenario}: gateway/nginx throughput {ratio:.2f}x at {args.connections} connections "
            f"(target >= 0.50x); at 1 client the gateway adds {added * 1000:+.0f} us to the "
            f"median over a direct call ({over_nginx * 1000:+.0f} us over nginx; target <= "
            f"1000 us){p99_note}{cpu_note}: {'PASS' if passed else 'FAIL'}"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
