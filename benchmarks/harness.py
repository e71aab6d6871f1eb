"""What the wrk-driven benchmarks share: ports, processes, wrk runs, CPU time per request.

Every process a benchmark starts goes through ``Processes`` and is stopped when it
ends. Ports come from ``--port-base`` upwards (the machine is shared: each person
benchmarking keeps to a range of their own).
"""

import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# uvicorn as ``trellis serve`` runs it (the collector's serving pace): benchmarks/uvicorn_served.py
UVICORN = [sys.executable, "-m", "benchmarks.uvicorn_served", "--factory", "--host", "127.0.0.1"]
UVICORN += ["--no-access-log", "--log-level", "warning", "--loop", "uvloop", "--http", "httptools"]


def ports(base: int) -> Iterator[int]:
    """Consecutive ports from ``base``: pass ``--port-base`` from your own range."""
    port = base
    while True:
        yield port
        port += 1


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds (median)")
    parser.add_argument("--port-base", type=int, default=18400, help="first port to use")


def wait_ready(url: str, what: str, proc: subprocess.Popen, timeout: float = 60) -> None:
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


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", text.strip())
    if not match:
        raise ValueError(f"cannot read a latency from {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def run_wrk(url: str, *, connections: int, duration: int, headers: dict[str, str]) -> dict:
    """One wrk run: requests/second, request count, p50 and p99 (ms), errors."""
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


def measure(url: str, *, connections: int, duration: int, headers: dict, pid: int | None) -> dict:
    """``run_wrk`` plus the CPU microseconds per request ``pid`` (and its children) spent."""
    before = cpu_seconds(pid) if pid else 0.0
    result = run_wrk(url, connections=connections, duration=duration, headers=headers)
    if pid:
        used = cpu_seconds(pid) - before
        result["cpu_us"] = used * 1e6 / max(result["requests"], 1)
    return result


def summary(runs: list[dict]) -> dict:
    """Median and range over rounds of each figure."""
    out: dict = {}
    for key in ("rps", "p50", "p99", "cpu_us"):
        values = [r[key] for r in runs if key in r]
        if values:
            out[key] = statistics.median(values)
            out[key + "_range"] = (min(values), max(values))
    out["errors"] = sum(r["errors"] for r in runs)
    return out


class Processes:
    """The processes a benchmark started; all stopped at the end."""

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
