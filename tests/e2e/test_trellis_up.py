"""End to end: `trellis up --demo` starts the real processes; a real token; calls through the gateway."""

import base64
import hashlib
import html
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from services.common.auth import caller_from_claims
from services.common.idempotency import owner_of
from services.common.models import IdempotencyRecord

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("gateway", "partners", "funding", "feedback")


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def environment(data_dir: Path, ports: dict[str, int]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRELLIS_")}
    env["TRELLIS_DATA_DIR"] = str(data_dir)
    env["TRELLIS_AUTH_ISSUER"] = f"http://127.0.0.1:{ports['gateway']}"
    for name, port in ports.items():
        env[f"TRELLIS_{name.upper()}_PORT"] = str(port)
        if name != "gateway":
            env[f"TRELLIS_{name.upper()}_URL"] = f"http://127.0.0.1:{port}"
    return env


def trellis(*args: str, env: dict[str, str], **kwargs) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "services.cli", *args], env=env, cwd=ROOT, text=True, **kwargs
    )


def processes_using(data_dir: Path) -> list[int]:
    """Pids whose environment names this test's data directory (the up process and its children)."""
    marker = f"TRELLIS_DATA_DIR={data_dir}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if marker in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


Running = tuple[subprocess.Popen[str], dict[str, str], dict[str, int], str]


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Running]:
    yield from run_up(tmp_path)


def run_up(tmp_path: Path, extra_env: dict[str, str] | None = None) -> Iterator[Running]:
    """`trellis up --demo` on free ports until the test ends (``extra_env`` added to its environment)."""
    ports = dict(zip(SERVICES, free_ports(4), strict=True))
    env = {**environment(tmp_path / "data", ports), **(extra_env or {})}
    errors = tmp_path / "up-stderr.log"
    with errors.open("w") as stderr:
        proc = trellis("up", "--demo", env=env, stdout=subprocess.PIPE, stderr=stderr)
    assert proc.stdout is not None
    banner: list[str] = []
    deadline = time.monotonic() + 300  # the demo seeds through the API: slow on a busy machine
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        banner.append(line)
        if "Ctrl-C stops everything" in line:
            break
    text = "".join(banner)
    try:
        # A start that failed says why (its last lines of stderr), e.g. a port taken meanwhile.
        assert "Ctrl-C stops everything" in text, text + errors.read_text()[-3000:]
        yield proc, env, ports, text
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for pid in processes_using(tmp_path / "data"):
            os.kill(pid, signal.SIGKILL)


def test_up_demo_token_and_a_call_through_the_gateway(running, tmp_path: Path) -> None:
    proc, env, ports, banner = running
    gateway = f"http://127.0.0.1:{ports['gateway']}"
    assert gateway in banner and "trellis token" in banner

    token = subprocess.run(
        [
            sys.executable,
            "-m",
            "services.cli",
            "token",
            "--role",
            "funder_staff",
            "--funder",
            "northern-lights",
        ],
        env=env,
        cwd=ROOT,
        text=True,
        capture_output=True,
        check=True,
    ).stdout.strip()
    with httpx.Client(base_url=gateway, timeout=10) as client:
        response = client.get(
            "/api/v1/partners",
            params={"range": "[0,9]", "sort": '["name","ASC"]'},
            headers={"Authorization": f"Bearer {token}", "X-Request-ID": "e2e-1"},
        )
        assert response.status_code == 200, response.text
        partners = response.json()
        assert len(partners) == 10
        assert response.headers["content-range"] == "partners 0-9/30"
        assert response.headers["x-request-id"] == "e2e-1"
        assert partners[0]["relationship"]["status"] in {"exploring", "active", "paused", "ended"}

        refused = client.get("/api/v1/partners", headers={"Authorization": "Bearer nonsense"})
        assert refused.status_code == 401
        assert refused.headers["content-type"] == "application/problem+json"

        # What the demo funder publishes is public, through the same front door.
        scorecard = client.get("/api/v1/public/feedback/northern-lights/scorecard")
        assert scorecard.status_code == 200, scorecard.text
        assert len(scorecard.json()["commitments"]) == 4
        # A round answered by ten partners that claimed their records (five by name, five
        # anonymously: both parts at least k), published; and one still open.
        (published,) = scorecard.json()["rounds"]
        assert published["title"] == "Spring listening round"
        assert published["invited"] == 10 and published["responses"] == 10
        assert any(c["latest"] and c["latest"]["mean"] for c in scorecard.json()["commitments"])
        rounds = client.get("/api/v1/rounds", headers={"Authorization": f"Bearer {token}"})
        assert sorted(r["status"] for r in rounds.json()) == ["open", "published"]
        grants = client.get("/api/v1/public/funding/northern-lights/360giving")
        assert grants.status_code == 200, grants.text
        assert len(grants.json()["grants"]) == 14
        updates = client.get("/api/v1/updates", headers={"Authorization": f"Bearer {token}"})
        assert updates.headers["content-range"].endswith("/3")

        spec = client.get("/openapi.json").json()
        assert any(path.startswith("/api/v1/partners") for path in spec["paths"])

    # A person signs in through the gateway as a browser would, then calls the API.
    staff = sign_in_through(gateway, *demo_account(banner, "amina@northernlights.example"))
    with httpx.Client(base_url=gateway, timeout=10) as client:
        auth = {"Authorization": f"Bearer {staff['access_token']}"}
        listed = client.get("/api/v1/partners", params={"range": "[0,9]"}, headers=auth)
        assert listed.status_code == 200, listed.text
        assert listed.headers["content-range"] == "partners 0-9/30"
        me = client.get("/oauth/userinfo", headers=auth).json()
        assert me["email"] == "amina@northernlights.example" and me["roles"] == ["funder_staff"]
        renewed = client.post(
            "/oauth/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": staff["refresh_token"],
                "client_id": "trellis-console",
            },
        )
        assert renewed.status_code == 200, renewed.text
    partner = sign_in_through(gateway, *demo_account(banner, "priya@hillsideyouth.example"))
    with httpx.Client(base_url=gateway, timeout=10) as client:
        auth = {"Authorization": f"Bearer {partner['access_token']}"}
        me = client.get("/oauth/userinfo", headers=auth).json()
        assert me["roles"] == ["partner"]
        own = client.get(f"/api/v1/partners/{me['partner_id']}", headers=auth)
        assert own.status_code == 200 and own.json()["name"] == "Hillside Youth Project"

    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
    time.sleep(0.5)
    assert processes_using(tmp_path / "data") == []  # no orphans
    for port in ports.values():
        with socket.socket() as sock:
            assert sock.connect_ex(("127.0.0.1", port)) != 0


def demo_account(banner: str, email: str) -> tuple[str, str]:
    match = re.search(rf"{re.escape(email)}\s+password (\S+)", banner)
    assert match, banner
    return email, match.group(1)


def sign_in_through(gateway: str, email: str, password: str) -> dict:
    """The authorization code flow with PKCE, as a browser and an app do it, via the gateway."""
    verifier = secrets.token_urlsafe(48)
    challenge = (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )
    redirect_uri = f"{gateway}/console/callback"
    with httpx.Client(base_url=gateway, timeout=10, follow_redirects=True) as browser:
        page = browser.get(
            "/oauth/authorize",
            params={
                "response_type": "code",
                "client_id": "trellis-console",
                "redirect_uri": redirect_uri,
                "scope": "openid profile email",
                "state": "e2e",
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            },
        )
        assert page.status_code == 200, page.text
        assert page.headers["content-type"].startswith("text/html")
        fields = {
            html.unescape(k): html.unescape(v)
            for k, v in re.findall(
                r'<input type="hidden" name="([^"]*)" value="([^"]*)">', page.text
            )
        }
        landed = browser.post(
            "/oauth/authorize", data={**fields, "email": email, "password": password}
        )
        # The browser followed the redirect back to the console's callback with the code.
        assert str(landed.url).startswith(redirect_uri), landed.url
        query = parse_qs(urlsplit(str(landed.url)).query)
        assert query["state"] == ["e2e"]
        tokens = browser.post(
            "/oauth/token",
            data={
                "grant_type": "authorization_code",
                "code": query["code"][0],
                "redirect_uri": redirect_uri,
                "client_id": "trellis-console",
                "code_verifier": verifier,
            },
        )
    assert tokens.status_code == 200, tokens.text
    return tokens.json()


def test_a_port_in_use_is_a_one_line_error(tmp_path: Path) -> None:
    ports = dict(zip(SERVICES, free_ports(4), strict=True))
    env = environment(tmp_path / "data", ports)
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", ports["funding"]))
        blocker.listen()
        result = subprocess.run(
            [sys.executable, "-m", "services.cli", "up"],
            env=env,
            cwd=ROOT,
            text=True,
            capture_output=True,
            timeout=60,
        )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert f"port {ports['funding']} (funding)" in lines[0] and "in use" in lines[0]
    assert processes_using(tmp_path / "data") == []


def test_token_for_an_unknown_funder_says_so(tmp_path: Path) -> None:
    env = environment(tmp_path / "data", dict(zip(SERVICES, free_ports(4), strict=True)))
    subprocess.run(
        [sys.executable, "-m", "services.cli", "migrate"],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "services.cli",
            "token",
            "--role",
            "funder_staff",
            "--funder",
            "nope",
        ],
        env=env,
        cwd=ROOT,
        text=True,
        capture_output=True,
    )
    assert result.returncode == 2
    assert "no funder with the slug 'nope'" in result.stderr


def test_invite_prints_the_link_and_writes_the_mail(tmp_path: Path) -> None:
    env = environment(tmp_path / "data", dict(zip(SERVICES, free_ports(4), strict=True)))
    subprocess.run(
        [sys.executable, "-m", "services.cli", "migrate"],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
    )

    def invite(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "services.cli", "invite", *args],
            env=env,
            cwd=ROOT,
            text=True,
            capture_output=True,
        )

    unknown = invite("--email", "someone@example.org", "--funder", "nope")
    assert unknown.returncode == 2
    assert "no funder with the slug 'nope'" in unknown.stderr
    done = invite("--email", "ops@example.org", "--admin")
    assert done.returncode == 0, done.stderr
    link = done.stdout.strip()
    assert link.startswith(f"{env['TRELLIS_AUTH_ISSUER']}/account/invitation?token=")
    [mail] = list((tmp_path / "data" / "mail").glob("*.eml"))
    text = mail.read_text()
    assert "To: ops@example.org" in text and link in text


def child_serving(data_dir: Path, name: str) -> int | None:
    """The pid of the `trellis serve <name>` child of this test's `trellis up`."""
    for pid in processes_using(data_dir):
        if command_line(pid)[-2:] == ["serve", name]:
            return pid
    return None


def command_line(pid: int) -> list[str]:
    """A process's command line as words: a forked service's is its title (one string)."""
    try:
        return (
            (Path("/proc") / str(pid) / "cmdline")
            .read_bytes()
            .replace(b"\0", b" ")
            .decode()
            .split()
        )
    except OSError:
        return []


def cli_token(env: dict[str, str], *args: str) -> dict[str, str]:
    token = subprocess.run(
        [sys.executable, "-m", "services.cli", "token", *args],
        env=env,
        cwd=ROOT,
        text=True,
        capture_output=True,
        check=True,
    ).stdout.strip()
    return {"Authorization": f"Bearer {token}"}


def _claims(token: str) -> dict[str, Any]:
    """A JWT's claims, read (not verified): the test's own token."""
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def leave_key_in_flight(data_dir: Path, pid: int, owner: str, key: str, body: bytes) -> None:
    """What the partners process (``pid``) leaves when it dies mid-request under ``key``."""
    digest = hashlib.sha256(b"POST")
    digest.update(b"\0/api/v1/partners\0\0")
    digest.update(body)
    engine = create_engine(f"sqlite:///{data_dir / 'partners.db'}")
    try:
        with Session(engine) as session, session.begin():
            session.add(
                IdempotencyRecord(
                    owner=owner,
                    key=key,
                    fingerprint=digest.hexdigest(),
                    holder=f"{socket.gethostname()} {pid} {uuid.uuid4().hex}",
                )
            )
    finally:
        engine.dispose()


def test_up_restarts_a_service_that_was_killed(tmp_path: Path) -> None:
    """kill -9 one child: it comes back and answers, and the key it held is free at once."""
    ports = dict(zip(SERVICES, free_ports(4), strict=True))
    data_dir = tmp_path / "data"
    env = environment(data_dir, ports)
    log = (tmp_path / "up.log").open("w+")
    proc = trellis("up", env=env, stdout=subprocess.DEVNULL, stderr=log)
    gateway = f"http://127.0.0.1:{ports['gateway']}"
    try:
        with httpx.Client(base_url=gateway, timeout=5) as client:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                try:
                    if client.get("/readyz").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.3)
            else:
                raise AssertionError("trellis up did not become ready")
            funder = client.post(
                "/api/v1/funders",
                headers=cli_token(env, "--role", "platform_admin"),
                json={"name": "Crash Trust", "slug": "crash", "prefix_360giving": "360G-crash"},
            )
            assert funder.status_code == 201, funder.text
            staff = cli_token(env, "--role", "funder_staff", "--funder", "crash")
            body = b'{"name": "Hillside Youth Project"}'
            partners = child_serving(data_dir, "partners")
            assert partners is not None
            # Forked from `trellis up` at the first start; started afresh after the crash.
            assert command_line(partners) == ["trellis", "serve", "partners"]
            owner = owner_of(caller_from_claims(_claims(staff["Authorization"].split()[1])))
            leave_key_in_flight(data_dir, partners, owner, "in-flight-1", body)
            os.kill(partners, signal.SIGKILL)

            # The stack keeps running; partners comes back under a new pid and answers.
            back = None
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                assert proc.poll() is None, "trellis up stopped when one service crashed"
                try:
                    back = client.get("/api/v1/partners", headers=staff)
                    if back.status_code != 503:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.3)
            assert back is not None and back.status_code == 200, back and back.text
            again = child_serving(data_dir, "partners")
            assert again not in (None, partners)
            assert command_line(again)[:3] == [sys.executable, "-m", "services.cli"]
            assert client.get("/readyz").status_code == 200
            # The request that was in flight at the crash can be retried now, not in minutes.
            retried = client.post(
                "/api/v1/partners",
                headers={
                    **staff,
                    "Idempotency-Key": "in-flight-1",
                    "Content-Type": "application/json",
                },
                content=body,
            )
            assert retried.status_code == 201, retried.text
            listed = client.get("/api/v1/partners", headers=staff)
            assert [p["name"] for p in listed.json()] == ["Hillside Youth Project"]
        log.seek(0)
        stderr = log.read()
        assert "the partners service stopped unexpectedly (killed by SIGKILL)" in stderr
        assert "restarted the partners service" in stderr
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            assert proc.wait(timeout=30) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
            for pid in processes_using(data_dir):
                os.kill(pid, signal.SIGKILL)
            log.close()
    assert processes_using(data_dir) == []
