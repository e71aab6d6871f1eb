"""Benchmark: how long ``trellis up`` takes to be ready (issue 14, item 7).

    uv run python -m benchmarks.startup [--runs 3] [--port-base 18480] [--before DIR]

Starts ``trellis up`` on a fresh data directory (every database migrated from
nothing), on loopback ports from ``--port-base``, and times it until the
gateway's ``/readyz`` answers 200 (every service ready behind it), then stops it
with SIGINT; ``--warm`` times a second start on the same data directory too. With
``--before DIR`` (another copy of the repository, e.g. ``git archive <commit> | tar
-x -C DIR``, sharing this virtual environment) it alternates runs of both, so load from elsewhere on the
machine falls on both alike, and prints the ratio. Target: ready in 5 s or less.
It prints the CPU seconds each run's processes used too (from start to stop, SIGINT
right after ready): unlike the wall time, that hardly depends on the machine's load.
"""

import argparse
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.e2e.test_trellis_up import environment

ROOT = Path(__file__).resolve().parents[1]
NAMES = ("gateway", "partners", "funding", "feedback")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def time_up(
    checkout: Path, data_dir: Path, base: int, timeout: float = 120.0
) -> tuple[float, float]:
    """Seconds from starting ``trellis up`` to the gateway's ``/readyz`` answering 200, and
    the CPU seconds ``trellis up`` and its processes used from start to stop."""
    cpu_before = _children_cpu()
    env = environment(data_dir, {name: base + n for n, name in enumerate(NAMES)})
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "up"],
        env=env,
        cwd=checkout,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        url = f"http://127.0.0.1:{base}/readyz"
        while time.perf_counter() - started < timeout:
            if proc.poll() is not None:
                raise SystemExit(f"trellis up in {checkout} stopped (code {proc.returncode})")
            try:
                with urllib.request.urlopen(url, timeout=1) as response:
                    if response.status == 200:
                        took = time.perf_counter() - started
                        break
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.02)
        else:
            raise SystemExit(f"trellis up in {checkout} was not ready in {timeout:.0f} s")
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return took, _children_cpu() - cpu_before


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--port-base", type=int, default=18480)
    parser.add_argument("--before", type=Path, help="a checkout to compare with")
    parser.add_argument("--warm", action="store_true", help="time a second start as well")
    args = parser.parse_args()
    checkouts = {"this": ROOT}
    if args.before:
        checkouts = {"before": args.before.resolve(), **checkouts}
    times: dict[str, list[float]] = {f"{n} {k}": [] for n in checkouts for k in ("fresh", "warm")}
    cpu: dict[str, list[float]] = {key: [] for key in times}
    for run in range(args.runs):
        for name, checkout in checkouts.items():
            tmp = Path(tempfile.mkdtemp(prefix="trellis-startup-"))
            try:
                kinds = ("fresh", "warm") if args.warm else ("fresh",)
                for kind in kinds:
                    took, used = time_up(checkout, tmp / "data", args.port_base)
                    times[f"{name} {kind}"].append(took)
                    cpu[f"{name} {kind}"].append(used)
                    print(
                        f"  run {run + 1}: {name:<6} {kind:<5} ready in {took:.2f} s, "
                        f"{used:.1f} CPU s",
                        flush=True,
                    )
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
    print(
        f"\ntrellis up until /readyz ({os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.1f}; median (range) of {args.runs} runs)"
    )
    for key, values in times.items():
        if values:
            print(
                f"{key:<14} {statistics.median(values):6.2f} s "
                f"({min(values):.2f}-{max(values):.2f}), "
                f"CPU {statistics.median(cpu[key]):.1f} s"
            )
    this = statistics.median(times["this fresh"])
    if args.before:
        before = statistics.median(times["before fresh"])
        print(f"this / before (fresh): {this / before:.2f}x")
        cpu_ratio = statistics.median(cpu["this fresh"]) / statistics.median(cpu["before fresh"])
        print(f"this / before (fresh), CPU: {cpu_ratio:.2f}x")
    print(f"target <= 5 s: {'PASS' if this <= 5.0 else 'FAIL'}")
    return 0 if this <= 5.0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
