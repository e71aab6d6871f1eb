"""The ``trellis`` command: run, migrate, and mint tokens for the embedded default.

trellis up [--demo]       migrate, start the gateway and the three services (a crashed one
                          is restarted), Ctrl-C stops all
trellis serve SERVICE     run one service (what containers run); the gateway takes
                          --workers N to use N cores
trellis migrate [SERVICE] apply migrations
trellis token --role R    mint an access token for a person in a role (a developer tool)
trellis invite --email E  invite a person (--funder slug, --partner id or --admin); prints the link
trellis keys rotate       put a new signing key first, keeping the previous one published
trellis events list       event deliveries not made yet (waiting, or refused: dead)
trellis events redeliver  make deliveries due now, dead ones included
"""

import argparse
import base64
import ctypes
import gc
import hashlib
import importlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol
from urllib.parse import urlencode

# Only the settings: the commands that need the databases and the apps are in
# services/cli_serve.py and services/cli_tools.py, loaded when one runs (see _serving).
from services.common.settings import DEFAULT_PORTS, SERVICES, CommonSettings
from services.partners.config import CONSOLE_CLIENT_ID
from services.partners.config import Settings as PartnersSettings

ALL = ("gateway", *SERVICES)
#: The console's built bundle, committed (``console/`` builds it): ``trellis up`` serves it at ``/``.
CONSOLE_BUNDLE = Path(__file__).resolve().parent / "gateway" / "console"
APP_FACTORIES = {name: f"services.{name}.app:create_app" for name in ALL}


#: The roles ``trellis token`` mints (services.common.auth.ROLES but "service"; a test keeps
#: them equal: importing that module here would cost every start of ``trellis up``).
TOKEN_ROLES = ("platform_admin", "funder_staff", "partner", "finance", "trustee", "staff_admin")


class CliError(Exception):
    """A problem the user can fix; printed as one line."""


def _serving() -> ModuleType:
    """services/cli_serve.py: ``trellis serve`` and ``trellis migrate``.

    This and _tools() load their module by name when a command runs, not at the top:
    ``trellis up`` itself needs neither, and importing them (FastAPI, SQLAlchemy, every
    service's models) took longer than starting the four processes, each of which loads
    only what it serves.
    """
    return importlib.import_module("services.cli_serve")


def _forking() -> ModuleType:
    """services/cli_fork.py: ``trellis up``'s fork server, which imports what the four
    processes share once and forks them from itself."""
    # Importing makes next to no garbage, and the collections it would set off took 15% of
    # the imports, which every service waits for.
    gc.disable()
    try:
        return importlib.import_module("services.cli_fork")
    finally:
        gc.enable()


def _tools() -> ModuleType:
    """services/cli_tools.py: tokens, invitations, events, keys and the demo."""
    return importlib.import_module("services.cli_tools")


def serve(name: str, host: str | None, port: int | None, workers: int = 1) -> None:
    """Run one service (``services.cli_serve.serve``)."""
    _serving().serve(name, host, port, workers)


def _settings(name: str) -> Any:
    module = __import__(f"services.{name}.config", fromlist=["Settings"])
    return module.Settings()


def _port(name: str) -> int:
    settings = _settings(name)
    return int(getattr(settings, "port", 0) or DEFAULT_PORTS[name])


def _host(name: str) -> str:
    return str(getattr(_settings(name), "host", "127.0.0.1"))


def _check_port_free(name: str, host: str, port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # As uvicorn binds: connections of an earlier run in TIME_WAIT don't count as "in use".
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            env = f"TRELLIS_{name.upper()}_PORT"
            raise CliError(
                f"port {port} ({name}) on {host} is in use; stop what uses it or set {env}"
            ) from exc


class Child(Protocol):
    """A service's process: a ``subprocess.Popen``, or one forked (``cli_fork.Forked``)."""

    pid: int

    def poll(self) -> int | None: ...
    def wait(self, timeout: float | None = None) -> int: ...
    def terminate(self) -> None: ...
    def kill(self) -> None: ...


class Supervisor:
    """Runs the four processes and restarts one that crashes; stops them all on Ctrl-C.

    With ``forks`` (services/cli_fork.py) a first start forks the service from this
    process; a restart always starts it afresh. A crashed process is restarted after a
    backoff (1 s, doubling to 30 s while it keeps crashing; back to 1 s once it has run for
    a minute), and each crash is logged.
    """

    FIRST_DELAY = 1.0
    MAX_DELAY = 30.0
    STABLE_AFTER = 60.0

    def __init__(self, forks: ModuleType | None = None) -> None:
        self.forks = forks
        self.procs: dict[str, Child] = {}
        self.stopping = False
        self.started: dict[str, float] = {}
        self.delays: dict[str, float] = {}
        self.restart_at: dict[str, float] = {}
        self.crashes = 0

    def start(self, name: str) -> None:
        if self.forks is not None and name not in self.procs and self.forks.can_fork(name):
            self.procs[name] = self.forks.fork_serve(name, _die_with_parent)
            self.started[name] = time.monotonic()
            return
        self.procs[name] = subprocess.Popen(
            # Each makes sure of the signing keys (under a lock) before serving.
            [sys.executable, "-m", "services.cli", "--make-keys", "serve", name],
            env=os.environ.copy(),
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        self.started[name] = time.monotonic()

    def stop(self, *_: object) -> None:
        if self.stopping:
            return
        self.stopping = True
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        deadline = time.monotonic() + 15
        for proc in self.procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def crashed(self) -> str | None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                return name
        return None

    def watch(self) -> None:
        """One look at every process: schedule a restart for a crashed one, make those due."""
        now = time.monotonic()
        for name, proc in self.procs.items():
            code = proc.poll()
            if code is None:
                continue
            if name not in self.restart_at:
                self.crashes += 1
                if now - self.started[name] >= self.STABLE_AFTER:
                    self.delays.pop(name, None)
                delay = self.delays.get(name, self.FIRST_DELAY)
                self.delays[name] = min(self.MAX_DELAY, delay * 2)
                self.restart_at[name] = now + delay
                print(
                    f"trellis: the {name} service stopped unexpectedly ({_exit(code)}) after "
                    f"{now - self.started[name]:.0f} s; restarting it in {delay:g} s",
                    file=sys.stderr,
                    flush=True,
                )
            elif now >= self.restart_at[name]:
                del self.restart_at[name]
                self.start(name)
                print(f"trellis: restarted the {name} service", file=sys.stderr, flush=True)


def _exit(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/readyz", timeout=2.0) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _wait_ready(sup: Supervisor, urls: dict[str, str], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    pending = dict(urls)
    while pending:
        if (name := sup.crashed()) is not None:
            raise CliError(f"the {name} service stopped while starting; see its log above")
        for name, url in list(pending.items()):
            if _ready(url):
                pending.pop(name)
        if pending and time.monotonic() > deadline:
            raise CliError(f"{', '.join(pending)} did not become ready in {timeout:.0f}s")
        if pending:
            time.sleep(0.05)


def _interrupt(_signum: int, _frame: object) -> None:
    # One stop is enough: further Ctrl-C or SIGTERM must not cut the orderly shutdown short.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise KeyboardInterrupt


def _die_with_parent() -> None:
    """In the child: get SIGTERM if `trellis up` itself dies, so nothing is orphaned."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def up(args: argparse.Namespace) -> int:
    settings = CommonSettings()
    data_dir = settings.data_dir
    hosts = {name: _host(name) for name in ALL}
    ports = {name: _port(name) for name in ALL}
    for name in ALL:
        _check_port_free(name, hosts[name], ports[name])
    data_dir.mkdir(parents=True, exist_ok=True)
    # Each process migrates its own database as it starts: the four start together and
    # their migrations run at once, overlapping the others' imports.
    os.environ["TRELLIS_MIGRATE_ON_START"] = "true"
    urls = {name: f"http://{hosts[name]}:{ports[name]}" for name in ALL}
    if (CONSOLE_BUNDLE / "index.html").is_file():
        os.environ.setdefault("TRELLIS_GATEWAY_CONSOLE_DIR", str(CONSOLE_BUNDLE))
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    sup = Supervisor()
    try:
        sup.forks = _forking()
        for name in (*SERVICES, "gateway"):
            sup.start(name)
        _wait_ready(sup, urls)
        seeded = ""
        if args.demo:
            seeded = _tools().seed_demo(urls["gateway"])
        _banner(urls, data_dir, seeded)
        while True:
            sup.watch()
            time.sleep(0.25)
    except KeyboardInterrupt:
        print("\ntrellis: stopping", file=sys.stderr)
        return 0
    finally:
        sup.stop()


def _signin_hint() -> list[str]:
    """How a person signs in from a terminal and a browser: a ready PKCE pair."""
    partners = PartnersSettings()
    base = partners.base_url
    redirect = f"{base}/console/callback"
    verifier = secrets.token_urlsafe(48)
    challenge = (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )
    query = urlencode(
        {
            "response_type": "code",
            "client_id": CONSOLE_CLIENT_ID,
            "redirect_uri": redirect,
            "scope": "openid profile email",
            "state": "from-the-terminal",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
    )
    return [
        "Sign in as a person (OpenID Connect, authorization code + PKCE):",
        f"  1. open {partners.auth_issuer.rstrip('/')}/oauth/authorize?{query}",
        f"  2. sign in; the browser lands on {redirect}?code=...: copy the code",
        "  3. exchange it for tokens:",
        f"     curl -s -d grant_type=authorization_code -d client_id={CONSOLE_CLIENT_ID} \\",
        f"       -d redirect_uri={redirect} -d code_verifier={verifier} \\",
        f"       -d code=THE_CODE {partners.auth_issuer.rstrip('/')}/oauth/token",
    ]


def _banner(urls: dict[str, str], data_dir: Path, seeded: str) -> None:
    gw = urls["gateway"]
    partners = PartnersSettings()
    mail = (
        f"Mail (invitations, password resets) goes by SMTP ({partners.smtp_url.split('@')[-1]})."
        if partners.smtp_url
        else f"Mail (invitations, password resets) is written to {partners.mail_dir.resolve()}/ "
        "as .eml files; set TRELLIS_SMTP_URL to send it."
    )
    lines = [
        "",
        "Trellis is running on the embedded default (SQLite in " + str(data_dir.resolve()) + ").",
        f"  gateway   {gw}   (API docs: {gw}/docs)",
        *(f"  {name:<9} {urls[name]}" for name in SERVICES),
        "",
    ]
    if seeded:
        lines += [seeded, ""]
    lines += [mail, "", *_signin_hint(), ""]
    lines += [
        "Invite a person: uv run trellis invite --email someone@example.org --funder <slug>",
        "",
        "Developer tokens without signing in (in another terminal):",
        "  uv run trellis token --role platform_admin",
        "  uv run trellis token --role funder_staff --funder <funder slug>",
        "Then:",
        f'  curl -g -H "Authorization: Bearer $TOKEN" "{gw}/api/v1/partners?range=[0,9]"',
        "",
        "Ctrl-C stops everything.",
    ]
    print("\n".join(lines), flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="trellis", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    # `trellis up` has its processes make the signing keys if there are none yet.
    parser.add_argument("--make-keys", action="store_true", help=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", required=True)
    p_up = sub.add_parser("up", help="migrate and run everything on the embedded default")
    p_up.add_argument("--demo", action="store_true", help="fill a believable demo funder")
    p_serve = sub.add_parser("serve", help="run one service")
    p_serve.add_argument("service", choices=ALL)
    p_serve.add_argument("--host")
    p_serve.add_argument("--port", type=int)
    p_serve.add_argument(
        "--workers",
        type=int,
        default=1,
        help="processes serving the gateway's port (more cores); the gateway only",
    )
    p_migrate = sub.add_parser("migrate", help="apply database migrations")
    p_migrate.add_argument(
        "service", nargs="*", help=f"one or more of {', '.join(ALL)} (default: the services)"
    )
    p_token = sub.add_parser("token", help="mint an access token for a person")
    p_token.add_argument("--role", required=True, choices=TOKEN_ROLES)
    p_token.add_argument("--funder", help="the funder's slug (funder_staff, finance, trustee)")
    p_token.add_argument("--partner", help="the partner's id (partner)")
    p_token.add_argument("--sub", help="who the person is (default: made from the role)")
    p_token.add_argument("--name", help="the person's name")
    p_token.add_argument("--ttl", type=int, default=8 * 3600, help="seconds it is valid")
    p_invite = sub.add_parser("invite", help="invite a person by email; prints the link")
    p_invite.add_argument("--email", required=True, help="where the invitation goes")
    p_invite.add_argument("--funder", help="as staff of this funder (its slug)")
    p_invite.add_argument("--partner", help="as the first person of this organisation (its id)")
    p_invite.add_argument("--admin", action="store_true", help="as a platform admin")
    p_keys = sub.add_parser(
        "keys",
        help="rotate the embedded issuer's signing keys (rotate) or the bank details' key "
        "(rotate-bank, then retire-bank)",
    )
    p_keys.add_argument("action", choices=["rotate", "rotate-bank", "retire-bank"])
    p_keys.add_argument(
        "--no-new-key",
        action="store_true",
        help="rotate-bank: only re-encrypt under the current key (keys from settings)",
    )
    p_events = sub.add_parser("events", help="list and redeliver events not delivered yet")
    events = p_events.add_subparsers(dest="action", required=True)
    p_list = events.add_parser("list", help="deliveries waiting or dead, oldest first")
    p_list.add_argument("service", nargs="*", help=f"one or more of {', '.join(SERVICES)}")
    p_list.add_argument("--state", choices=["waiting", "dead", "all"], default="all")
    p_list.add_argument("--limit", type=int, default=100, help="lines per service at most")
    p_again = events.add_parser("redeliver", help="make deliveries due now (dead ones too)")
    p_again.add_argument("service", choices=SERVICES)
    p_again.add_argument("event_id", nargs="*", help="events to redeliver (all their deliveries)")
    p_again.add_argument("--all-dead", action="store_true", help="every dead delivery")
    args = parser.parse_args(argv)
    try:
        if args.command == "up":
            return up(args)
        if args.command == "serve":
            _serving().serve(
                args.service, args.host, args.port, args.workers, make_keys=args.make_keys
            )
            return 0
        if args.command == "migrate":
            names = args.service or list(SERVICES)
            unknown = [n for n in names if n not in ALL]
            if unknown:
                raise CliError(f"no such service: {', '.join(unknown)} (one of {', '.join(ALL)})")
            _serving().migrate(names)
            print(f"trellis: migrated {', '.join(names)}")
            return 0
        if args.command == "token":
            print(_tools().mint(args))
            return 0
        if args.command == "invite":
            print(_tools().invite(args))
            return 0
        if args.command == "events" and args.action == "list":
            names = args.service or list(SERVICES)
            unknown = [n for n in names if n not in SERVICES]
            if unknown:
                raise CliError(
                    f"no such service: {', '.join(unknown)} (one of {', '.join(SERVICES)})"
                )
            lines = _tools().events_list(names, args.state, args.limit)
            print("\n".join(lines) if lines else "trellis: every event has been delivered")
            return 0
        if args.command == "events":
            count = _tools().events_redeliver(args.service, args.event_id, args.all_dead)
            print(f"trellis: {count} deliveries of {args.service} are due now")
            return 0
        if args.command == "keys" and args.action != "rotate":
            print(_tools().bank_keys(args.action, new_key=not args.no_new_key))
            return 0
        if args.command == "keys":
            kid = _tools().rotate_keys()
            print(f"trellis: new signing key {kid}; the previous key stays published")
            return 0
    except CliError as exc:
        print(f"trellis: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    # Run as `python -m services.cli`: through the module services.cli_tools imports, so
    # there is one CliError (not one in __main__ and another in services.cli).
    sys.exit(importlib.import_module("services.cli").main())
