"""Wait until a service's database schema is at the head of its migrations.

Run by each Kubernetes Deployment as an init container, so new pods start only
once the migration Job of the same release has finished (and old pods keep
serving meanwhile):

    python /app/deploy/wait_for_migrations.py partners [--timeout 600]

The database URL comes from the service's own settings
(``TRELLIS_<SERVICE>_DATABASE_URL``). Exit 0 when the schema is current,
1 on timeout. It never changes the database.
"""

import argparse
import sys
import time

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine

from services.common.db import sync_url
from services.common.migrate import alembic_config, version_table
from services.common.settings import SERVICES


def database_url(service: str) -> str:
    module = __import__(f"services.{service}.config", fromlist=["Settings"])
    return module.Settings().effective_database_url


def pending(service: str, url: str) -> tuple[set[str], set[str]]:
    """``(heads, current)`` revisions of ``service``'s lineage and database."""
    script = ScriptDirectory.from_config(alembic_config(service, url))
    heads = set(script.get_heads())
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"version_table": version_table(service)}
            )
            current = set(context.get_current_heads())
    finally:
        engine.dispose()
    return heads, current


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("service", choices=SERVICES)
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds to wait")
    parser.add_argument("--interval", type=float, default=3.0, help="seconds between checks")
    args = parser.parse_args(argv)
    url = database_url(args.service)
    deadline = time.monotonic() + args.timeout
    while True:
        try:
            heads, current = pending(args.service, url)
            if current == heads:
                print(f"{args.service}: schema at {', '.join(sorted(heads))}", flush=True)
                return 0
            state = f"at {', '.join(sorted(current)) or 'nothing'}, want {', '.join(sorted(heads))}"
        except Exception as exc:  # the database may not be up yet
            state = f"database not reachable ({type(exc).__name__})"
        if time.monotonic() >= deadline:
            print(f"{args.service}: gave up waiting for migrations: {state}", file=sys.stderr)
            return 1
        print(f"{args.service}: waiting for migrations: {state}", flush=True)
        time.sleep(args.interval)


if __name__ == "__main__":
    sys.exit(main())
