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
import asyncio
import base64
import ctypes
import hashlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import uvicorn
from sqlalchemy import create_engine, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from services import demo
from services.common import outbox
from services.common.auth import ROLES, KeyStore, TokenIssuer
from services.common.db import sync_url, utcnow
from services.common.migrate import upgrade
from services.common.server import ProblemHttpToolsProtocol
from services.common.settings import DEFAULT_PORTS, SERVICES, CommonSettings, ServiceSettings
from services.partners.bank import keys as bank_key_rotation
from services.partners.config import CONSOLE_CLIENT_ID
from services.partners.config import Settings as PartnersSettings
from services.partners.people import operator

ALL = ("gateway", *SERVICES)
#: The console's built bundle, committed (``console/`` builds it): ``trellis up`` serves it at ``/``.
CONSOLE_BUNDLE = Path(__file__).resolve().parent / "gateway" / "console"
APP_FACTORIES = {name: f"services.{name}.app:create_app" for name in ALL}


class CliError(Exception):
    """A problem the user can fix; printed as one line."""


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


def migrate(names: Sequence[str]) -> None:
    for name in names:
        settings: ServiceSettings = _settings(name)
        upgrade(name, settings.effective_database_url)


def ensure_keys(settings: CommonSettings) -> KeyStore:
    keys = KeyStore(settings.signing_keys_file)
    keys.ensure()
    return keys


#: Seconds a ``--workers`` process has to answer its supervisor's ping (see ``serve``).
WORKER_HEALTHCHECK_SECONDS = 60


def serve(name: str, host: str | None, port: int | None, workers: int = 1) -> None:
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
    sqlite_gateway = name == "gateway" and settings.effective_database_url.startswith("sqlite")
    if settings.migrate_on_start and not sqlite_gateway:
        # A gateway on SQLite brings its one table up to date as it starts.
        upgrade(name, settings.effective_database_url)
    if workers > 1 and sqlite_gateway and not settings.redis_url:
        # Each worker brings the rate limits' SQLite table up to date as it starts;
        # done once here first, so they never migrate the one file at the same time.
        upgrade(name, settings.effective_database_url)
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


def _partners_row(sql: str, params: dict[str, Any]) -> Any:
    """One row of the partners service's database (a token names only what exists there)."""
    settings: ServiceSettings = _settings("partners")
    engine = create_engine(sync_url(settings.effective_database_url))
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql), params).first()
    except SQLAlchemyError as exc:
        raise CliError(
            "the partners database cannot be read (run `trellis migrate` or `trellis up` first)"
        ) from exc
    finally:
        engine.dispose()


def _engine(name: str) -> Any:
    settings: ServiceSettings = _settings(name)
    return create_engine(sync_url(settings.effective_database_url))


def events_list(names: Sequence[str], state: outbox.State, limit: int) -> list[str]:
    """One line per undelivered event delivery of each service, oldest first."""
    lines = []
    for name in names:
        engine = _engine(name)
        try:
            with Session(engine) as session:
                rows = session.scalars(outbox.deliveries_query(state, limit=limit)).all()
        finally:
            engine.dispose()
        for row in rows:
            item = outbox.describe(row)
            when = item["dead_at"] and f"dead since {item['dead_at']}"
            when = when or f"next try {item['next_attempt_at']}"
            lines.append(
                f"{name}\t{item['event_id']}\t{item['event_type']}\t{item['state']}\t"
                f"{item['destination']}\tattempts {item['attempts']}\t{when}\t"
                f"{(item['last_error'] or '').splitlines()[0][:120] if item['last_error'] else ''}"
            )
    return lines


def events_redeliver(name: str, event_ids: Sequence[str], all_dead: bool) -> int:
    """Make deliveries due now (dead ones revived); the running service sends them."""
    try:
        ids = [uuid.UUID(value) for value in event_ids]
    except ValueError as exc:
        raise CliError("event ids are UUIDs, as `trellis events list` shows them") from exc
    if bool(ids) == all_dead:
        raise CliError("give event ids, or --all-dead")
    engine = _engine(name)
    try:
        with Session(engine) as session, session.begin():
            result = session.execute(
                outbox.redeliver_statement(utcnow(), event_ids=ids, all_dead=all_dead)
            )
            return int(result.rowcount)
    finally:
        engine.dispose()


#: Roles held on top of funder_staff (services/common/auth.py): a token for one carries both.
STAFF_EXTRA_ROLES = ("finance", "trustee")


def _funder_id(slug: str) -> str:
    row = _partners_row("SELECT id FROM funders WHERE slug = :slug", {"slug": slug})
    if row is None:
        raise CliError(
            f"there is no funder with the slug '{slug}' (create it first, or run `trellis up --demo`)"
        )
    return str(uuid.UUID(str(row[0])))


def _partner_id(wanted: uuid.UUID) -> str:
    # Ids are stored as 32 hex digits on SQLite and as uuid on PostgreSQL.
    settings: ServiceSettings = _settings("partners")
    on_sqlite = sync_url(settings.effective_database_url).startswith("sqlite")
    row = _partners_row(
        "SELECT id FROM partners WHERE id = :id",
        {"id": wanted.hex if on_sqlite else str(wanted)},
    )
    if row is None:
        raise CliError(
            f"there is no partner organisation with the id {wanted} "
            "(add it first as a funder's staff, or run `trellis up --demo`)"
        )
    return str(wanted)


def mint(args: argparse.Namespace) -> str:
    settings = CommonSettings()
    keys = ensure_keys(settings)
    issuer = TokenIssuer(keys, issuer=settings.auth_issuer, audience=settings.auth_audience)
    funder_id = partner_id = None
    # finance and trustee are held on top of funder_staff: their tokens carry both roles.
    roles = [args.role] if args.role not in STAFF_EXTRA_ROLES else ["funder_staff", args.role]
    if "funder_staff" in roles:
        if not args.funder:
            raise CliError(f"a {args.role} token needs --funder <slug>")
        funder_id = _funder_id(args.funder)
    if args.role == "partner":
        if not args.partner:
            raise CliError("a partner token needs --partner <partner id>")
        try:
            wanted = uuid.UUID(args.partner)
        except ValueError as exc:
            raise CliError("--partner takes the partner's id (a UUID)") from exc
        partner_id = _partner_id(wanted)
    sub = (
        args.sub
        or {
            "platform_admin": "admin@localhost",
            "funder_staff": f"staff@{args.funder}",
            "finance": f"finance@{args.funder}",
            "trustee": f"trustee@{args.funder}",
            "partner": f"partner:{partner_id}",
            "service": "service:cli",
        }[args.role]
    )
    return issuer.mint(
        sub=sub,
        roles=roles,
        client_id="trellis-cli",
        funder_id=funder_id,
        partner_id=partner_id,
        name=args.name,
        ttl=args.ttl,
    )


class Supervisor:
    """Runs the four processes and restarts one that crashes; stops them all on Ctrl-C.

    A crashed process is restarted after a backoff (1 s, doubling to 30 s while it keeps
    crashing; back to 1 s once it has run for a minute), and each crash is logged.
    """

    FIRST_DELAY = 1.0
    MAX_DELAY = 30.0
    STABLE_AFTER = 60.0

    def __init__(self) -> None:
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.stopping = False
        self.started: dict[str, float] = {}
        self.delays: dict[str, float] = {}
        self.restart_at: dict[str, float] = {}
        self.crashes = 0

    def start(self, name: str) -> None:
        self.procs[name] = subprocess.Popen(
            [sys.executable, "-m", "services.cli", "serve", name],
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


def _wait_ready(sup: Supervisor, urls: dict[str, str], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    pending = dict(urls)
    with httpx.Client(timeout=2.0) as client:
        while pending:
            if (name := sup.crashed()) is not None:
                raise CliError(f"the {name} service stopped while starting; see its log above")
            for name, url in list(pending.items()):
                try:
                    if client.get(f"{url}/readyz").status_code == 200:
                        pending.pop(name)
                except httpx.HTTPError:
                    pass
            if pending and time.monotonic() > deadline:
                raise CliError(f"{', '.join(pending)} did not become ready in {timeout:.0f}s")
            time.sleep(0.1)


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
    ensure_keys(settings)
    # Each process migrates its own database as it starts: the four start together and
    # their migrations run at once, overlapping the others' imports.
    os.environ["TRELLIS_MIGRATE_ON_START"] = "true"
    urls = {name: f"http://{hosts[name]}:{ports[name]}" for name in ALL}
    if (CONSOLE_BUNDLE / "index.html").is_file():
        os.environ.setdefault("TRELLIS_GATEWAY_CONSOLE_DIR", str(CONSOLE_BUNDLE))
    sup = Supervisor()
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    try:
        for name in (*SERVICES, "gateway"):
            sup.start(name)
        _wait_ready(sup, urls)
        seeded = ""
        if args.demo:
            seeded = demo.seed(gateway=urls["gateway"], settings=settings)
        _banner(urls, data_dir, seeded)
        while True:
            sup.watch()
            time.sleep(0.25)
    except KeyboardInterrupt:
        print("\ntrellis: stopping", file=sys.stderr)
        return 0
    finally:
        sup.stop()


def invite(args: argparse.Namespace) -> str:
    """An invitation made by the operator; its one-time link (the mail goes out too)."""
    try:
        return asyncio.run(
            operator.invite(
                PartnersSettings(),
                email=args.email,
                funder_slug=args.funder,
                partner_id=args.partner,
                admin=args.admin,
            )
        )
    except operator.OperatorError as exc:
        raise CliError(str(exc)) from exc


def bank_keys(action: str, *, new_key: bool) -> str:
    """Rotate the key bank details are encrypted with, or retire the keys no row uses."""
    settings = PartnersSettings()
    try:
        if action == "rotate-bank":
            done = asyncio.run(bank_key_rotation.rotate(settings, new_key=new_key))
            return (
                f"trellis: bank details are encrypted with key {done.current} now "
                f"({done.moved} re-encrypted); keys kept, so everything stays readable: "
                f"{', '.join(done.kept)}. Once every partners replica has restarted, run "
                "`trellis keys rotate-bank --no-new-key` then `trellis keys retire-bank`."
            )
        removed, used = asyncio.run(bank_key_rotation.retire(settings))
    except bank_key_rotation.KeyRotationError as exc:
        raise CliError(str(exc)) from exc
    except SQLAlchemyError as exc:
        raise CliError(
            f"the partners database could not be read ({exc.__class__.__name__})"
        ) from exc
    if settings.bank_keys:
        return (
            f"trellis: keys still in use: {', '.join(used) or 'none'}; any other key may leave "
            "TRELLIS_PARTNERS_BANK_KEYS"
        )
    return (
        f"trellis: removed bank keys {', '.join(removed) or '(none)'}; still in use: "
        f"{', '.join(used) or 'none'}"
    )


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
    p_token.add_argument("--role", required=True, choices=[r for r in ROLES if r != "service"])
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
            serve(args.service, args.host, args.port, args.workers)
            return 0
        if args.command == "migrate":
            names = args.service or list(SERVICES)
            unknown = [n for n in names if n not in ALL]
            if unknown:
                raise CliError(f"no such service: {', '.join(unknown)} (one of {', '.join(ALL)})")
            migrate(names)
            print(f"trellis: migrated {', '.join(names)}")
            return 0
        if args.command == "token":
            print(mint(args))
            return 0
        if args.command == "invite":
            print(invite(args))
            return 0
        if args.command == "events" and args.action == "list":
            names = args.service or list(SERVICES)
            unknown = [n for n in names if n not in SERVICES]
            if unknown:
                raise CliError(
                    f"no such service: {', '.join(unknown)} (one of {', '.join(SERVICES)})"
                )
            lines = events_list(names, args.state, args.limit)
            print("\n".join(lines) if lines else "trellis: every event has been delivered")
            return 0
        if args.command == "events":
            count = events_redeliver(args.service, args.event_id, args.all_dead)
            print(f"trellis: {count} deliveries of {args.service} are due now")
            return 0
        if args.command == "keys" and args.action != "rotate":
            print(bank_keys(args.action, new_key=not args.no_new_key))
            return 0
        if args.command == "keys":
            kid = KeyStore(CommonSettings().signing_keys_file).rotate()
            print(f"trellis: new signing key {kid}; the previous key stays published")
            return 0
    except CliError as exc:
        print(f"trellis: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
