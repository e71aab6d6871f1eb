"""How ``trellis serve`` and ``trellis migrate`` run (``services/cli.py`` parses the command
line and loads this module only for them, so each process ``trellis up`` starts imports
just this and the app it serves).

Blocking code: call it outside an event loop.
"""

import fcntl
from collections.abc import Sequence

import uvicorn

from services.cli import APP_FACTORIES, CliError, _host, _port, _settings
from services.common.auth import KeyStore
from services.common.collector import pace_for_serving
from services.common.migrate import upgrade
from services.common.server import ProblemHttpToolsProtocol
from services.common.settings import CommonSettings, ServiceSettings


def migrate(names: Sequence[str]) -> None:
    """Bring each named service's database up to date, one after another."""
    for name in names:
        settings: ServiceSettings = _settings(name)
        upgrade(name, settings.effective_database_url)


def ensure_keys(settings: CommonSettings) -> KeyStore:
    """The embedded issuer's keys, made first if there are none (under a lock: the four
    processes of ``trellis up`` each make sure of them as they start, at the same time)."""
    keys = KeyStore(settings.signing_keys_file)
    keys.path.parent.mkdir(parents=True, exist_ok=True)
    with open(keys.path.with_suffix(".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        keys.ensure()
    return keys


#: Seconds a ``--workers`` process has to answer its supervisor's ping (see ``serve``).
WORKER_HEALTHCHECK_SECONDS = 60


def serve(
    name: str, host: str | None, port: int | None, workers: int = 1, *, make_keys: bool = False
) -> None:
    """Run one service; ``workers`` > 1 runs that many processes on the one port (the
    gateway: its rate limits are shared through their store, takeouts through the data
    directory)."""
    if workers > 1 and name != "gateway":
        raise CliError(
            "--workers is for the gateway; run more replicas of a service behind it instead"
        )
    if workers > 1 and getattr(_settings(name), "metrics_port", None) is not None:
        raise CliError(
            "--workers cannot share TRELLIS_GATEWAY_METRICS_PORT between processes: unset it "
            "and read each worker's /metrics with TRELLIS_GATEWAY_METRICS_TOKEN, or run one "
            "worker per container"
        )
    settings = _settings(name)
    if make_keys:
        ensure_keys(CommonSettings())
    sqlite_gateway = name == "gateway" and settings.effective_database_url.startswith("sqlite")
    if settings.migrate_on_start and not sqlite_gateway:
        # A gateway on SQLite brings its one table up to date as it starts.
        upgrade(name, settings.effective_database_url)
    if workers > 1 and sqlite_gateway and not settings.redis_url:
        # Each worker brings the rate limits' SQLite table up to date as it starts;
        # done once here first, so they never migrate the one file at the same time.
        upgrade(name, settings.effective_database_url)
    pace_for_serving()
    uvicorn.run(
        APP_FACTORIES[name],
        factory=True,
        host=host or _host(name),
        port=port or _port(name),
        workers=workers if workers > 1 else None,
        log_config=None,
        access_log=False,
        loop="uvloop",
        # httptools, whose own refusals (an over-long URL, unreadable headers) are problem+json.
        http=ProblemHttpToolsProtocol,
        lifespan="on",
        timeout_graceful_shutdown=10,
        # With --workers, uvicorn pings each worker and replaces one that has not answered
        # in this many seconds; a worker answers only once it has imported this module, which
        # on a busy machine takes longer than uvicorn's 5 s: the workers were replaced for ever.
        timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS,
    )
