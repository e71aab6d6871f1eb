"""What keeps `trellis up` quick (issue 14): checked by structure, not by the clock."""

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from services.common.collector import SERVING_THRESHOLDS
from services.common.migrate import upgrade

ROOT = Path(__file__).resolve().parents[1]


def python(code: str, env: dict[str, str] | None = None) -> str:
    """What ``code`` prints, run by a fresh interpreter in the repository."""
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    ).stdout.strip()


def test_the_up_command_starts_without_loading_the_apps() -> None:
    # `trellis up` starts the four processes; each imports what it serves. The command
    # itself importing the apps too once cost longer than starting all four.
    code = (
        "import sys, services.cli\n"
        "heavy = {'fastapi', 'sqlalchemy', 'alembic', 'uvicorn', 'joserfc', 'httpx'}\n"
        "print(sorted(heavy & set(sys.modules)))\n"
    )
    assert python(code) == "[]"


def test_the_fork_server_shares_only_what_every_service_imports() -> None:
    # `trellis up` imports services/cli_fork.py and forks the four services from itself: a
    # service's own module loaded there would be one copy for all four (the takeout jobs
    # name their process at import), and a thread would be copied stopped, its locks held.
    code = (
        "import sys, threading, services.cli, services.cli_fork\n"
        "own = sorted(m for m in sys.modules if m.split('.')[0] == 'services'\n"
        "    and m.split('.')[1:2] in (['gateway'], ['partners'], ['funding'], ['feedback'])\n"
        "    and m.split('.')[2:] not in ([], ['config']))\n"
        "print(own, threading.active_count(), services.cli_fork.can_fork('partners'))\n"
    )
    assert python(code) == "[] 1 True"


def test_the_fork_server_does_not_fork_beside_a_thread() -> None:
    code = (
        "import threading, services.cli_fork\n"
        "stop = threading.Event()\n"
        "thread = threading.Thread(target=stop.wait)\n"
        "thread.start()\n"
        "print(services.cli_fork.can_fork('partners'))\n"
        "stop.set()\n"
    )
    assert python(code) == "False"


def test_a_forked_service_leaves_the_shared_objects_out_of_its_collections() -> None:
    # Collecting them again in each child cost CPU, and copied the pages they live on.
    code = (
        "import gc, os, services.cli_fork\n"
        "def look():\n"
        "    print(gc.get_freeze_count() > 0, gc.isenabled(), flush=True)\n"
        "    os._exit(7)\n"
        "child = services.cli_fork.fork_serve('funding', look)\n"
        "print(child.wait(30))\n"
    )
    assert python(code).split() == ["True", "True", "7"]


def test_a_served_process_collects_at_the_serving_pace(tmp_path: Path) -> None:
    # At the default pace the full collections under load stalled one request in a
    # hundred by tens of milliseconds (the gateway's p99); `trellis serve` sets the pace
    # before uvicorn starts, forked services included (they serve through the same call).
    code = (
        "import gc, services.cli_serve as served\n"
        "served.uvicorn.run = lambda *args, **kwargs: print(gc.get_threshold())\n"
        "served.serve('funding', None, None)\n"
    )
    env = {**os.environ, "TRELLIS_DATA_DIR": str(tmp_path), "TRELLIS_MIGRATE_ON_START": "false"}
    assert python(code, env) == str(SERVING_THRESHOLDS)
    assert SERVING_THRESHOLDS[0] > 700  # CPython's default pace


def test_tracing_loads_its_exporter_only_when_an_endpoint_is_set(tmp_path: Path) -> None:
    # The OTLP exporter (protobuf) and the SDK cost every process 0.2-0.4 s at start.
    code = (
        "import sys, services.funding.app, services.gateway.app\n"
        "services.funding.app.create_app(), services.gateway.app.create_app()\n"
        "print(sorted({m for m in sys.modules if m.startswith(('opentelemetry.sdk.trace',\n"
        "    'opentelemetry.exporter.otlp.proto.http.trace_exporter', 'google.protobuf'))}))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRELLIS_", "OTEL_"))}
    env["TRELLIS_DATA_DIR"] = str(tmp_path)
    assert python(code, env) == "[]"
    env["TRELLIS_OTLP_ENDPOINT"] = "http://127.0.0.1:9/"
    loaded = python(code, env)
    assert "opentelemetry.sdk.trace" in loaded and "google.protobuf" in loaded


def test_sqlite_migrations_run_in_wal_mode(tmp_path: Path) -> None:
    # In the default rollback journal every DDL statement (each committed on its own by
    # the sqlite3 driver) waited for its own fsyncs: most of a fresh database's migration.
    url = f"sqlite+aiosqlite:///{tmp_path / 'partners.db'}"
    upgrade("partners", url)
    with sqlite3.connect(tmp_path / "partners.db") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert conn.execute("SELECT count(*) FROM alembic_version_partners").fetchone()[0] >= 1
