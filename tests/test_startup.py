"""What keeps `trellis up` quick (issue 14): checked by structure, not by the clock."""

import sqlite3
import subprocess
import sys
from pathlib import Path

from services.common.migrate import upgrade

ROOT = Path(__file__).resolve().parents[1]


def test_the_up_command_starts_without_loading_the_apps() -> None:
    # `trellis up` starts the four processes; each imports what it serves. The command
    # itself importing the apps too once cost longer than starting all four.
    code = (
        "import sys, services.cli\n"
        "heavy = {'fastapi', 'sqlalchemy', 'alembic', 'uvicorn', 'joserfc', 'httpx'}\n"
        "print(sorted(heavy & set(sys.modules)))\n"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert loaded == "[]"


def test_sqlite_migrations_run_in_wal_mode(tmp_path: Path) -> None:
    # In the default rollback journal every DDL statement (each committed on its own by
    # the sqlite3 driver) waited for its own fsyncs: most of a fresh database's migration.
    url = f"sqlite+aiosqlite:///{tmp_path / 'partners.db'}"
    upgrade("partners", url)
    with sqlite3.connect(tmp_path / "partners.db") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert conn.execute("SELECT count(*) FROM alembic_version_partners").fetchone()[0] >= 1
