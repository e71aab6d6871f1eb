"""Benchmark: the Trellis gateway against nginx, in front of the same partners service.

    uv run python benchmarks/gateway.py [--duration 10] [--connections 32]

Starts, on loopback ports only and in a temporary directory: the partners service
(uvicorn, SQLite migrated to head, a funder with 25 partners), nginx with
``benchmarks/nginx-gateway.conf`` in front of it, and the gateway in front of it.
Then wrk measures each path at 32 connections (throughput) and at one connection
(latency), for two scenarios:

- ``partners list``: ``GET /api/v1/partners`` with a staff token (the gateway
  verifies it, the service verifies it again and reads the database);
- ``discovery``: ``GET /.well-known/openid-configuration`` (a cheap upstream answer,
  so the proxy's own cost shows most).

It prints requests/second, median and 99th percentile latency, the gateway's
ratio to nginx, and the CPU time each proxy spent per request (nginx: master and
workers; the gateway: its one process), which is the figure least disturbed by
other load on the machine. It checks the targets of DESIGN.md: at least half of nginx's
requests/second at 32 connections, at most 1 ms added at the median for one
client. Every process it starts is stopped when it ends. Needs ``nginx`` and
``wrk`` (``apt-get install -y nginx wrk``).
"""

import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from services.common.auth import KeyStore, TokenIssuer  # noqa: E402
from services.common.migrate import upgrade  # noqa: E402

ISSUER = "http://127.0.0.1:8000"
AUDIENCE = "trellis"
TEMPLATE = Path(__file__).with_name("nginx-gateway.conf")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_ready(url: str, what: str, proc: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited early (code {proc.returncode}); see its log")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    raise SystemExit(f"{what} did not become ready at {url}")


def call(method: str, url: str, token: str, body: dict) -> dict:
    request = urllib.request.Request(
        url,
        method=method,
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its children (nginx's workers)."""
    total = 0.0
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    for each in pids:
        try:
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


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


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", text.strip())
    if not match:
        raise ValueError(f"cannot read a latency from {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def run_wrk(url: str, *, connections: int, duration: int, headers: dict[str, str]) -> dict:
    threads = min(2, connections)
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency"]
    for name, value in headers.items():
        cmd += ["-H", f"{name}: {value}"]
    out = subprocess.run(
        [*cmd, url], capture_output=True, text=True, timeout=duration + 30, check=True
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))
    errors = 0
    for pattern in (r"Non-2xx or 3xx responses:\s+(\d+)", r"Socket errors:.*?timeout (\d+)"):
        match = re.search(pattern, out)
        if match:
            errors += int(match.group(1))
    return {"rps": rps, "requests": requests, "p50": p50, "p99": p99, "errors": errors}


class Processes:
    """The processes this benchmark started; all stopped at the end."""

    def __init__(self) -> None:
        self.procs: list[tuple[str, subprocess.Popen]] = []

    def start(self, name: str, cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
        with log.open("wb") as fh:
            proc = subprocess.Popen(
                cmd, env=env, stdout=fh, stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True
            )
        self.procs.append((name, proc))
        return proc

    def stop(self) -> None:
        for _, proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for _, proc in reversed(self.procs):
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per throughput run")
    parser.add_argument("--latency-duration", type=int, default=5, help="seconds per 1-client run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument(
        "--rounds", type=int, default=2, help="alternating rounds per measurement (median)"
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


def _run(args: argparse.Namespace, tmp: Path, procs: Processes) -> int:
    data_dir = tmp / "data"
    keys = KeyStore(data_dir / "keys" / "signing-keys.json")
    keys.ensure()
    issuer = TokenIssuer(keys, issuer=ISSUER, audience=AUDIENCE)
    database_url = f"sqlite+aiosqlite:///{data_dir / 'partners.db'}"
    upgrade("partners", database_url)

    upstream_port, nginx_port, gateway_port = free_port(), free_port(), free_port()
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
        "TRELLIS_FUNDING_URL": f"http://127.0.0.1:{free_port()}",
        "TRELLIS_FEEDBACK_URL": f"http://127.0.0.1:{free_port()}",
        "TRELLIS_PARTNERS_DATABASE_URL": database_url,
        "TRELLIS_PARTNERS_OUTBOX_AUTOSTART": "false",
        # Rate limits stay on (their cost is part of the gateway's), set high enough
        # that the load itself is never refused.
        "TRELLIS_GATEWAY_RATE_LIMITS": json.dumps({c: "600000/minute" for c in BENCH_CLASSES}),
        "TRELLIS_GATEWAY_SOURCE_RATE_LIMITS": json.dumps(
            {c: "600000/minute" for c in BENCH_CLASSES}
        ),
    }
    uvicorn = [sys.executable, "-m", "uvicorn", "--factory", "--host", "127.0.0.1"]
    uvicorn += ["--no-access-log", "--log-level", "warning"]
    proc = procs.start(
        "partners",
        [*uvicorn, "--port", str(upstream_port), "services.partners.app:create_app"],
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

    gateway_proc = proc = procs.start(
        "gateway",
        [*uvicorn, "--port", str(gateway_port), "services.gateway.app:create_app"],
        env,
        tmp / "gateway.log",
    )
    wait_ready(f"{gateway}/healthz", "the gateway", proc)

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

    scenarios = [
        ("partners list", "/api/v1/partners", {"Authorization": f"Bearer {staff}"}),
        ("discovery", "/.well-known/openid-configuration", {}),
    ]
    targets = [("direct", upstream), ("nginx", nginx), ("gateway", gateway)]
    proxy_pids = {"nginx": nginx_proc.pid, "gateway": gateway_proc.pid}
    results: list[Result] = []
    for scenario, path, headers in scenarios:
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
                        f"{measured['rps']:>9.0f} req/s  p50 {measured['p50']:.2f} ms",
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
                    )
                )
    return report(results, args)


def report(results: list[Result], args: argparse.Namespace) -> int:
    by = {(r.scenario, r.target, r.connections): r for r in results}
    print()
    print(
        f"Gateway vs nginx in front of the partners service "
        f"({os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end, "
        f"log level {args.log_level}, nginx workers {args.nginx_workers}, "
        f"median of {args.rounds} rounds)"
    )
    header = (
        f"{'scenario':<15}{'target':<9}{'conns':>6}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'errors':>8}{'vs nginx':>10}{'proxy CPU us/req':>18}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        ref = by[(r.scenario, "nginx", r.connections)]
        ratio = f"{r.rps / ref.rps:.2f}x" if r.target != "nginx" else ""
        print(
            f"{r.scenario:<15}{r.target:<9}{r.connections:>6}{r.rps:>10.0f}"
            f"{r.p50_ms:>9.2f}{r.p99_ms:>9.2f}{r.errors:>8}{ratio:>10}"
            f"{'' if r.cpu_us is None else f'{r.cpu_us:.0f}':>18}"
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
        ok = ok and passed and gw.errors == 0
        print(
            f"{scenario}: gateway/nginx throughput {ratio:.2f}x at {args.connections} connections "
            f"(target >= 0.50x); at 1 client the gateway adds {added * 1000:+.0f} us to the "
            f"median over a direct call ({over_nginx * 1000:+.0f} us over nginx; target <= "
            f"1000 us): {'PASS' if passed else 'FAIL'}"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
