"""The console in a real browser: headless Chromium (Debian's package) driven by Playwright
(npm ``playwright-core``, from console/package-lock.json) against ``trellis up --demo``.

Staff sign in through the embedded OpenID Connect provider (code + PKCE), record a visit,
approve a grant with a decision, pay an instalment, reply to an update, open a round,
register a webhook, search, read the audit trail and vote in a pool; a person with two
memberships chooses whom to act for; one finance person prepares a payment run and another
approves it; a partner's person signs in on a phone-sized screen, sends an update to two
funders and answers the round; staff publish it and the public scorecard page shows it.
axe-core runs on every page and no serious or critical violation may remain. Screenshots
are written to ``$TRELLIS_CONSOLE_SHOTS`` (default: the test's temporary directory).
"""

import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import httpx
import pytest

from services.demo import DEMO_PARTNER, DEMO_STAFF
from services.demo_feedback import accept_invitation
from tests.e2e.test_trellis_up import ROOT, Running, run_up

CONSOLE = ROOT / "console"
BUNDLE = ROOT / "services" / "gateway" / "console"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
NODE = shutil.which("node")
SECOND_FUNDER = "Riverside Community Fund"


def _node_tools() -> None:
    if NODE is None or not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail("node or chromium is missing: .ci/run installs both")
        pytest.skip("node or chromium is not installed here")
    if not (CONSOLE / "node_modules" / ".package-lock.json").exists():
        npm = shutil.which("npm")
        assert npm, "npm is missing"
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=CONSOLE, check=True)


class _Receiver(BaseHTTPRequestHandler):
    """A webhook receiver of the funder's own system: it keeps what it is sent."""

    received: list[bytes] = []

    def do_POST(self) -> None:
        self.received.append(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture
def receiver() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/trellis-events"
    finally:
        server.shutdown()


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Running]:
    # The webhook receiver is on this machine: allowed here only (in production it opens SSRF).
    yield from run_up(tmp_path, {"TRELLIS_PARTNERS_WEBHOOKS_ALLOW_PRIVATE_ADDRESSES": "true"})


def _cli(env: dict[str, str], *args: str) -> str:
    return subprocess.run(
        [sys.executable, "-m", "services.cli", *args],
        env=env,
        cwd=ROOT,
        text=True,
        capture_output=True,
        check=True,
    ).stdout.strip()


def _raw_token(env: dict[str, str], *args: str) -> str:
    return _cli(env, "token", *args)


def _token(env: dict[str, str], *args: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {_raw_token(env, *args)}"}


def _second_membership(gateway: str, env: dict[str, str]) -> None:
    """The demo's staff member joins Riverside too: she then chooses whom she acts for."""
    link = _cli(env, "invite", "--email", DEMO_STAFF[0], "--funder", "riverside").split()[-1]
    with httpx.Client(base_url=gateway, timeout=20, follow_redirects=True) as client:
        accept_invitation(client, link, DEMO_STAFF[1], DEMO_STAFF[2])


def _pool_with_a_proposal(gateway: str, env: dict[str, str]) -> None:
    """Riverside hosts a pool Northern Lights has joined; a proposal awaits Northern Lights' vote."""
    riverside = _token(env, "--role", "funder_staff", "--funder", "riverside")
    northern = _token(env, "--role", "funder_staff", "--funder", "northern-lights")
    with httpx.Client(base_url=gateway, timeout=20) as client:
        funders = client.get("/api/v1/funders", headers=northern).json()
        northern_id = next(f["id"] for f in funders if f["slug"] == "northern-lights")
        pool = client.post(
            "/api/v1/pools",
            headers=riverside,
            json={
                "name": "North East Youth Pool",
                "purpose": "Core funding for youth work across the North East.",
                "decision_rule": "majority",
            },
        )
        assert pool.status_code == 201, pool.text
        pool_id = pool.json()["id"]
        invited = client.post(
            f"/api/v1/pools/{pool_id}/invitations",
            headers=riverside,
            json={"funder_id": northern_id},
        )
        assert invited.status_code == 201, invited.text
        assert client.post(f"/api/v1/pools/{pool_id}/accept", headers=northern).status_code == 200
        paid_in = client.post(
            f"/api/v1/pools/{pool_id}/contributions",
            headers=riverside,
            json={"amount": 5_000_000, "received_on": date.today().isoformat()},
        )
        assert paid_in.status_code == 201, paid_in.text
        partner = client.get(
            "/api/v1/partners", params={"filter": json.dumps({"q": "Hillside"})}, headers=riverside
        ).json()[0]
        proposal = client.post(
            f"/api/v1/pools/{pool_id}/proposals",
            headers=riverside,
            json={
                "partner_id": partner["id"],
                "title": "Hillside detached youth work",
                "description": "Two years of core funding for the detached team.",
                "amount": 2_000_000,
                "planned_start_date": date.today().isoformat(),
                "planned_end_date": (date.today() + timedelta(days=730)).isoformat(),
            },
        )
        assert proposal.status_code == 201, proposal.text
        voted = client.post(
            f"/api/v1/pools/{pool_id}/proposals/{proposal.json()['id']}/votes",
            headers=riverside,
            json={"vote": "approve"},
        )
        assert voted.status_code == 201, voted.text


def _second_funder(gateway: str, env: dict[str, str]) -> None:
    """A second funder that works with the demo partner, so an update can go to two."""
    admin = _token(env, "--role", "platform_admin")
    staff = _token(env, "--role", "funder_staff", "--funder", "northern-lights")
    with httpx.Client(base_url=gateway, timeout=20) as client:
        made = client.post(
            "/api/v1/funders",
            headers=admin,
            json={
                "name": SECOND_FUNDER,
                "slug": "riverside",
                "prefix_360giving": "360G-riverside",
                "org_id": "GB-CHC-1000777",
            },
        )
        assert made.status_code == 201, made.text
        found = client.get(
            "/api/v1/partners",
            params={"filter": json.dumps({"q": "Hillside"})},
            headers=staff,
        )
        assert found.status_code == 200, found.text
        org_id = found.json()[0]["org_id"]
        riverside = _token(env, "--role", "funder_staff", "--funder", "riverside")
        linked = client.post(
            "/api/v1/partners",
            headers=riverside,
            json={"name": "Hillside Youth Project", "org_id": org_id, "status": "active"},
        )
        assert linked.status_code in (200, 201), linked.text


def _finance_person(env: dict[str, str], sub: str, name: str) -> dict[str, str]:
    """A finance person of the demo funder (memberships cannot hold the finance role yet)."""
    token = _raw_token(
        env, "--role", "finance", "--funder", "northern-lights", "--sub", sub, "--name", name
    )
    return {"sub": sub, "name": name, "access_token": token}


def test_the_console_in_a_browser(running, receiver: str, tmp_path: Path) -> None:
    _node_tools()
    _proc, env, ports, _banner = running
    gateway = f"http://127.0.0.1:{ports['gateway']}"

    # `trellis up` serves the committed bundle at /, and pages the app draws (where
    # sign-in returns) answer its index.html; the API stays JSON under /api/v1.
    page = httpx.get(f"{gateway}/", headers={"Accept": "text/html"})
    assert page.status_code == 200 and '<div id="root">' in page.text
    assert page.text == (BUNDLE / "index.html").read_text()
    callback = httpx.get(f"{gateway}/console/callback?code=x", headers={"Accept": "text/html"})
    assert callback.status_code == 200 and '<div id="root">' in callback.text
    missing = httpx.get(f"{gateway}/assets/nothing.js", headers={"Accept": "*/*"})
    assert missing.status_code == 404

    _second_funder(gateway, env)
    _second_membership(gateway, env)
    _pool_with_a_proposal(gateway, env)
    setup = {
        "staff": {"email": DEMO_STAFF[0], "password": DEMO_STAFF[2]},
        "partner": {"name": "Hillside Youth Project"},
        "partner_person": {"email": DEMO_PARTNER[0], "password": DEMO_PARTNER[2]},
        "funders": ["Northern Lights Community Trust", SECOND_FUNDER],
        "closes_on": (date.today() + timedelta(days=30)).isoformat(),
        "slug": "northern-lights",
        "webhook_url": receiver,
        "finance": [
            _finance_person(env, "fatima@northernlights.example", "Fatima Begum"),
            _finance_person(env, "tom@northernlights.example", "Tom Reilly"),
        ],
        "due_by": (date.today() + timedelta(days=400)).isoformat(),
    }
    shots = Path(os.environ.get("TRELLIS_CONSOLE_SHOTS", tmp_path / "shots"))
    done = subprocess.run(
        [NODE or "node", "e2e/flows.mjs", gateway, str(shots), json.dumps(setup)],
        cwd=CONSOLE,
        env={**os.environ, "CHROMIUM": CHROMIUM},
        capture_output=True,
        text=True,
        timeout=480,
    )
    assert done.stdout.strip(), done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert done.returncode == 0 and "error" not in report, report.get("error", done.stderr)

    steps = [s["name"] for s in report["steps"]]
    assert steps == [
        "staff signs in and chooses whom to act for",
        "staff records a visit",
        "staff approves a grant with a decision",
        "staff pays an instalment",
        "staff replies to an update",
        "staff opens a round",
        "staff registers a webhook",
        "staff search finds a demo update",
        "staff read the audit trail",
        "staff vote in a pool",
        "staff switch to their other membership",
        "a finance person prepares a payment run",
        "another finance person approves it and marks it paid",
        "partner signs in",
        "partner sends an update to two funders",
        "partner answers a round anonymously",
        "partner's change to a contact someone else changed first is refused, and said so",
        "partner asks for an extension to a grant",
        "staff see the webhook's delivery and send it again",
        "staff see the partner's request and answer it",
        "staff close and publish the round",
        "the public scorecard shows the published results",
    ]
    assert report["csv_name"].endswith(".csv")
    serious = {
        page: [v for v in violations if v["impact"] in ("serious", "critical")]
        for page, violations in report["axe"].items()
    }
    assert len(serious) >= 40
    assert not any(serious.values()), json.dumps(serious, indent=1)

    # What the browser did is in the API, as any client reads it.
    staff = _token(env, "--role", "funder_staff", "--funder", "northern-lights")
    riverside = _token(env, "--role", "funder_staff", "--funder", "riverside")
    with httpx.Client(base_url=gateway, timeout=20) as client:
        for headers in (staff, riverside):
            updates = client.get(
                "/api/v1/updates", params={"sort": '["sent_at","DESC"]'}, headers=headers
            ).json()
            assert updates[0]["what_changed"].startswith("We opened a second evening session")
        rounds = client.get(
            "/api/v1/rounds", params={"sort": '["created_at","DESC"]'}, headers=staff
        ).json()
        assert rounds[0]["status"] == "published"
        # One answer is fewer than k: the count is withheld, and the page said so.
        assert rounds[0]["response_count"] is None
        public = client.get("/api/v1/public/feedback/northern-lights/scorecard").json()
        assert rounds[0]["title"] in [r["title"] for r in public["rounds"]]
        # One finance person prepared the run, another approved it, and it is paid.
        run = client.get(
            "/api/v1/payment-runs", params={"sort": '["created_at","DESC"]'}, headers=staff
        ).json()[0]
        assert run["status"] == "paid"
        # The partner's person asked for an extension; staff answered it.
        asked = client.get("/api/v1/grant-requests", headers=staff).json()[0]
        assert asked["kind"] == "extension" and asked["status"] == "answered"
        assert asked["reasons"].startswith("Our new building opens six months late")
        assert run["prepared_by"] == "fatima@northernlights.example"
        assert run["approved_by"] == "tom@northernlights.example"
        # The vote was Northern Lights' own; the webhook's receiver got the partner's update.
        pool = client.get("/api/v1/pools", headers=staff).json()[0]
        proposal = client.get(f"/api/v1/pools/{pool['id']}/proposals", headers=staff).json()[0]
        assert proposal["status"] == "approved" and proposal["tally"]["approve"] == 2
    assert any(b'"update.received"' in body for body in _Receiver.received)
