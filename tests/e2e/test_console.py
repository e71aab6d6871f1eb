"""The console in a real browser: headless Chromium (Debian's package) driven by Playwright
(npm ``playwright-core``, from console/package-lock.json) against ``trellis up --demo``.

Staff sign in through the embedded OpenID Connect provider (code + PKCE), record a visit,
approve a grant with a decision, pay an instalment, reply to an update and open a round;
a partner's person signs in on a phone-sized screen, sends an update to two funders and
answers the round; staff publish it and the public scorecard page shows it. axe-core runs
on every page and no serious or critical violation may remain. Screenshots are written to
``$TRELLIS_CONSOLE_SHOTS`` (default: the test's temporary directory).
"""

import json
import os
import shutil
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest

from services.demo import DEMO_PARTNER, DEMO_STAFF
from tests.e2e.test_trellis_up import ROOT, running  # noqa: F401  (the fixture)

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


def _token(env: dict[str, str], *args: str) -> dict[str, str]:
    token = subprocess.run(
        [sys.executable, "-m", "services.cli", "token", *args],
        env=env,
        cwd=ROOT,
        text=True,
        capture_output=True,
        check=True,
    ).stdout.strip()
    return {"Authorization": f"Bearer {token}"}


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


def test_the_console_in_a_browser(running, tmp_path: Path) -> None:  # noqa: F811
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
    setup = {
        "staff": {"email": DEMO_STAFF[0], "password": DEMO_STAFF[2]},
        "partner": {"name": "Hillside Youth Project"},
        "partner_person": {"email": DEMO_PARTNER[0], "password": DEMO_PARTNER[2]},
        "funders": ["Northern Lights Community Trust", SECOND_FUNDER],
        "closes_on": (date.today() + timedelta(days=30)).isoformat(),
        "slug": "northern-lights",
    }
    shots = Path(os.environ.get("TRELLIS_CONSOLE_SHOTS", tmp_path / "shots"))
    done = subprocess.run(
        [NODE or "node", "e2e/flows.mjs", gateway, str(shots), json.dumps(setup)],
        cwd=CONSOLE,
        env={**os.environ, "CHROMIUM": CHROMIUM},
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.stdout.strip(), done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert done.returncode == 0 and "error" not in report, report.get("error", done.stderr)

    steps = [s["name"] for s in report["steps"]]
    assert steps == [
        "staff signs in",
        "staff records a visit",
        "staff approves a grant with a decision",
        "staff pays an instalment",
        "staff replies to an update",
        "staff opens a round",
        "partner signs in",
        "partner sends an update to two funders",
        "partner answers a round anonymously",
        "staff close and publish the round",
        "the public scorecard shows the published results",
    ]
    serious = {
        page: [v for v in violations if v["impact"] in ("serious", "critical")]
        for page, violations in report["axe"].items()
    }
    assert len(serious) >= 15
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
