"""The data the react-admin test reads: the demo funder, then what the demo leaves out.

Everything goes in through the gateway, as staff and partners would send it: pools with
two members, money in and proposals decided; a commitment edited (its versions); a round
answered by six partners, closed and published; actions; threads both ways; partner
systems' API clients; variations; people who accepted invitations (and one pending) on
both sides; a budget; a payment run; webhooks with deliveries; takeouts.
"""

import email
import html
import json
import re
import time
import uuid
from datetime import date, timedelta
from email.policy import default
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

import httpx

from services import demo
from services.demo_feedback import accept_invitation
from tests.support import AUDIENCE, ISSUER, Tokens

API = "/api/v1"
TODAY = date.today()


class Seeded:
    """What the seed made: tokens per role and the ids the plan fills in."""

    def __init__(self, base: str, tokens: Tokens) -> None:
        self.base = base
        self.tokens = tokens
        self.headers: dict[str, dict[str, str]] = {}
        self.values: dict[str, str] = {"today": TODAY.isoformat()}

    def token(self, role: str) -> str | None:
        auth = self.headers[role].get("Authorization")
        return auth.removeprefix("Bearer ") if auth else None


def ok(response: httpx.Response) -> Any:
    assert response.status_code < 300, f"{response.request.url}: {response.text}"
    return response.json() if response.content else None


def _mailed_link(mail_dir: Path, address: str) -> str:
    """The link in the latest mail to ``address`` (mail is sent just after the commit)."""
    for _ in range(100):
        for path in sorted(mail_dir.glob("*.eml"), reverse=True) if mail_dir.exists() else []:
            message = email.message_from_bytes(path.read_bytes(), policy=default)
            if message["To"] == address:
                body = message.get_body(preferencelist=("plain",))
                assert body is not None
                found = re.search(r"https?://\S+", body.get_content())  # type: ignore[union-attr]
                assert found, body
                return found.group(0)
        time.sleep(0.1)
    raise AssertionError(f"no mail reached {address}")


def _join(client: httpx.Client, headers: dict[str, str], mail_dir: Path, **body: Any) -> None:
    """Invite someone through the API and accept through the invitation's page, as the
    person would in a browser (the page is served by partners behind the gateway)."""
    ok(client.post(f"{API}/invitations", headers=headers, json=body))
    link = urlsplit(_mailed_link(mail_dir, body["email"]))
    page = client.get(f"{link.path}?{link.query}")
    assert page.status_code == 200, page.text
    fields = {
        html.unescape(k): html.unescape(v)
        for k, v in re.findall(r'<input type="hidden" name="([^"]*)" value="([^"]*)">', page.text)
    }
    password = "a long demo passphrase 42"
    form = {**fields, "name": "Sam Patel", "password": password, "password_confirm": password}
    answer = client.post(link.path, data=form)
    assert answer.status_code == 200, answer.text


def _until(read: Any, what: str) -> Any:
    """What ``read`` answers once it is not empty (events arrive a moment after a write)."""
    for _ in range(150):
        found = read()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"{what} never arrived")


def claim(client: httpx.Client, admin: dict[str, str], mail_dir: Path, partner_id: str) -> None:
    """The organisation's first person accepts an invitation: its record is claimed."""
    address = f"director-{uuid.uuid4().hex[:8]}@example.org"
    ok(
        client.post(
            f"{API}/invitations",
            headers=admin,
            json={"email": address, "role": "partner", "partner_id": partner_id},
        )
    )
    link = urlsplit(_mailed_link(mail_dir, address))
    accept_invitation(client, f"{link.path}?{link.query}", "Director", "correct horse battery")


def seed(base: str, tokens: Tokens, *, mail_dir: Path) -> Seeded:
    """The demo funder, then pools, rounds, results, actions, threads, clients, variations,
    people, budgets, payment runs, webhooks and takeouts."""
    settings = SimpleNamespace(
        signing_keys_file=tokens.issuer.keys.path, auth_issuer=ISSUER, auth_audience=AUDIENCE
    )
    # The demo people are made in the partners database by `trellis up`'s own process.
    demo.seed(gateway=base, settings=settings, accounts=False)
    seeded = Seeded(base, tokens)
    admin = tokens.admin()
    with httpx.Client(base_url=base, timeout=30) as client:
        funder = ok(
            client.get(
                f"{API}/funders", headers=admin, params={"filter": '{"slug":"northern-lights"}'}
            )
        )[0]
        staff = tokens.staff(funder["id"])
        partners = ok(
            client.get(
                f"{API}/partners",
                headers=staff,
                params={"range": "[0,99]", "filter": '{"status":"active"}'},
            )
        )
        updates = ok(client.get(f"{API}/updates", headers=staff))
        partner = next(p for p in partners if p["id"] == updates[0]["partner_id"])
        own = tokens.partner(partner["id"])
        # The funder's staff here are its finance people (budgets and payment runs) and its
        # staff admin (who gives colleagues capabilities).
        staff = Tokens.headers(
            tokens.issuer.mint(
                sub="staff@funder.test",
                roles=["funder_staff", "finance", "staff_admin"],
                client_id="trellis-cli",
                funder_id=funder["id"],
            )
        )
        seeded.headers = {
            "platform_admin": admin,
            "funder_staff": staff,
            "partner": own,
            "public": {},
        }
        seeded.values |= {
            "partner_id": partner["id"],
            "funder_id": funder["id"],
            "funder_slug": "northern-lights",
        }

        # Variations, and an instalment left to pay.
        grants = ok(
            client.get(
                f"{API}/grants",
                headers=staff,
                params={"filter": json.dumps({"partner_id": partner["id"]})},
            )
        )
        for kind, extra in (("uplift", {"amount": 100000}), ("uplift", {"amount": 5000})):
            ok(
                client.post(
                    f"{API}/grants/{grants[0]['id']}/variations",
                    headers={**staff, "Idempotency-Key": uuid.uuid4().hex},
                    json={
                        "kind": kind,
                        "decided_on": TODAY.isoformat(),
                        "decided_by": "Board of trustees",
                        "reference": f"TM-{uuid.uuid4().hex[:4]}",
                        **extra,
                    },
                )
            )
        # A partner asks for more time; staff decline one request and leave one open.
        for reasons in ("Our building works slipped.", "Energy costs doubled this winter."):
            request = ok(
                client.post(
                    f"{API}/grants/{grants[0]['id']}/requests",
                    headers={**own, "Idempotency-Key": uuid.uuid4().hex},
                    json={"kind": "extension", "reasons": reasons},
                )
            )
        ok(
            client.post(
                f"{API}/grant-requests/{request['id']}/reply",
                headers=staff,
                json={"outcome": "declined", "reply": "Not this year; let's talk in spring."},
            )
        )
        # The funder's own learning: a tag on an update and an interaction, a note drawing
        # on them, and a learning day the partner came to.
        interactions = ok(client.get(f"{API}/interactions", headers=staff))
        for kind, subject in (("update", updates[0]), ("interaction", interactions[0])):
            ok(
                client.post(
                    f"{API}/tags",
                    headers=staff,
                    json={"subject_kind": kind, "subject_id": subject["id"], "tag": "volunteers"},
                )
            )
        note = ok(
            client.post(
                f"{API}/learning-notes",
                headers=staff,
                json={
                    "title": "Volunteers across partners",
                    "body": "Partners rely on volunteers more each year.",
                    "update_ids": [updates[0]["id"]],
                    "interaction_ids": [interactions[0]["id"]],
                },
            )
        )
        seeded.values["note_id"] = note["id"]
        ok(
            client.post(
                f"{API}/gatherings",
                headers=staff,
                json={
                    "kind": "learning_day",
                    "title": "Spring learning day",
                    "held_at": f"{TODAY.isoformat()}T10:00:00Z",
                    "invited_partner_ids": [
                        partner["id"],
                        *[p["id"] for p in partners if p["id"] != partner["id"]][:2],
                    ],
                    "attended_partner_ids": [partner["id"]],
                    "shared_notes": "What we heard together.",
                    "private_notes": "For us only.",
                },
            )
        )
        open_instalments = ok(
            client.get(
                f"{API}/instalments",
                headers=staff,
                params={"filter": '{"status":"scheduled"}', "range": "[0,0]"},
            )
        )
        seeded.values["open_instalment_id"] = open_instalments[0]["id"]
        later = ok(
            client.get(
                f"{API}/instalments",
                headers=staff,
                params={
                    "filter": '{"status":"scheduled"}',
                    "sort": '["due_date","DESC"]',
                    "range": "[0,0]",
                },
            )
        )[0]
        seeded.values["later_instalment_id"] = later["id"]
        later_due = date.fromisoformat(later["due_date"]) + timedelta(days=1)
        seeded.values["later_due"] = later_due.isoformat()

        # A euro grant with an overdue instalment: what a payment run in EUR pays (the GBP
        # instalments stay free for the single payment above).
        euros = ok(
            client.post(
                f"{API}/grants",
                headers={**staff, "Idempotency-Key": uuid.uuid4().hex},
                json={
                    "partner_id": partner["id"],
                    "title": "Core funding in euros",
                    "description": "Unrestricted core funding, paid in euros.",
                    "amount_awarded": 100000,
                    "currency": "EUR",
                    "planned_start_date": "2025-01-01",
                    "planned_end_date": "2025-12-31",
                },
            )
        )
        ok(
            client.post(
                f"{API}/grants/{euros['id']}/approve",
                headers=staff,
                json={"decided_on": "2024-12-01", "decided_by": "Board", "reference": "TM-EUR"},
            )
        )

        # Partner systems' API clients.
        for name in ("Our CRM", "Our website"):
            ok(
                client.post(
                    f"{API}/partners/{partner['id']}/clients", headers=own, json={"name": name}
                )
            )

        # A pool hosted by the demo funder with a second member, money in and a proposal.
        other = ok(
            client.post(
                f"{API}/funders",
                headers=admin,
                json={
                    "name": "Riverbank Foundation",
                    "slug": "riverbank",
                    "prefix_360giving": "360G-rb",
                },
            )
        )
        other_staff = tokens.staff(other["id"])
        pool = ok(
            client.post(
                f"{API}/pools",
                headers=staff,
                json={
                    "name": "Listening Fund",
                    "purpose": "Help youth organisations listen to young people.",
                    "decision_rule": "majority",
                },
            )
        )
        key = {"Idempotency-Key": uuid.uuid4().hex}
        ok(
            client.post(
                f"{API}/pools/{pool['id']}/invitations",
                headers={**staff, **key},
                json={"funder_id": other["id"]},
            )
        )
        ok(
            client.post(
                f"{API}/pools/{pool['id']}/accept",
                headers={**other_staff, "Idempotency-Key": uuid.uuid4().hex},
            )
        )
        for who in (staff, other_staff):
            ok(
                client.post(
                    f"{API}/pools/{pool['id']}/contributions",
                    headers={**who, "Idempotency-Key": uuid.uuid4().hex},
                    json={"amount": 2_000_000, "received_on": TODAY.isoformat()},
                )
            )
        for amount in (300_000, 400_000):
            proposal = ok(
                client.post(
                    f"{API}/pools/{pool['id']}/proposals",
                    headers={**staff, "Idempotency-Key": uuid.uuid4().hex},
                    json={
                        "partner_id": partner["id"],
                        "title": "Core funding from the pool",
                        "description": "Unrestricted funding for a youth organisation that listens.",
                        "amount": amount,
                        "planned_start_date": "2030-04-01",
                        "planned_end_date": "2033-03-31",
                    },
                )
            )
            for who in (staff, other_staff):
                ok(
                    client.post(
                        f"{API}/pools/{pool['id']}/proposals/{proposal['id']}/votes",
                        headers={**who, "Idempotency-Key": uuid.uuid4().hex},
                        json={"vote": "approve", "comment": "Yes"},
                    )
                )

        # A commitment edited (its versions), a round answered by every partner, published.
        commitments = ok(client.get(f"{API}/commitments", headers=staff))
        ok(
            client.put(
                f"{API}/commitments/{commitments[0]['id']}",
                headers=staff,
                json={
                    "description": "Every instalment reaches your bank on or before its due date."
                },
            )
        )
        round_ = ok(
            client.post(
                f"{API}/rounds",
                headers=staff,
                json={
                    "title": "Spring listening round",
                    "opens_on": TODAY.isoformat(),
                    "closes_on": (TODAY + timedelta(days=28)).isoformat(),
                },
            )
        )
        # Only organisations that claimed their own record are invited: their first people join.
        for each in {p["id"]: p for p in [*partners[:6], partner]}.values():
            claim(client, admin, mail_dir, each["id"])
        round_ = ok(client.post(f"{API}/rounds/{round_['id']}/open", headers=staff))
        for index, each in enumerate(partners[:6]):
            ok(
                client.post(
                    f"{API}/rounds/{round_['id']}/responses",
                    headers=tokens.partner(each["id"]),
                    json={
                        "anonymous": False,  # anonymous answers are cast with a ballot
                        "ratings": [
                            {"commitment_id": c["commitment_id"], "rating": 3 + index % 3}
                            for c in round_["commitments"]
                        ],
                        "comment": None,
                    },
                )
            )
        ok(client.post(f"{API}/rounds/{round_['id']}/close", headers=staff))
        ok(
            client.post(
                f"{API}/rounds/{round_['id']}/publish", headers=staff, json={"answer": "Thank you."}
            )
        )
        for title in ("Pay every instalment by BACS on its due date", "Reply within ten days"):
            ok(
                client.post(
                    f"{API}/actions",
                    headers=staff,
                    json={
                        "title": title,
                        "round_id": round_["id"],
                        "commitment_id": commitments[0]["id"],
                        "published": True,
                    },
                )
            )
        # Threads both ways, each with a reply.
        started = [
            ok(
                client.post(
                    f"{API}/threads",
                    headers=own,
                    json={
                        "funder_id": funder["id"],
                        "subject": "About the round",
                        "body": "Can we talk?",
                    },
                )
            ),
            ok(
                client.post(
                    f"{API}/threads",
                    headers=staff,
                    json={
                        "partner_id": partner["id"],
                        "subject": "Thank you",
                        "body": "For your update.",
                    },
                )
            ),
        ]
        for thread in started:
            ok(
                client.post(
                    f"{API}/threads/{thread['id']}/messages",
                    headers=staff,
                    json={"body": "Of course."},
                )
            )

        # People: a colleague on each side who accepted, and one invitation still pending.
        _join(client, staff, mail_dir, email="kai.colleague@example.org", role="funder_staff")
        _join(client, own, mail_dir, email="lee.treasurer@example.org", role="partner")
        for headers, role in ((staff, "funder_staff"), (own, "partner")):
            ok(
                client.post(
                    f"{API}/invitations",
                    headers=headers,
                    json={"email": f"pending.{role}@example.org", "role": role},
                )
            )

        # Money: a budget, and a payment run prepared and cancelled (its instalment stays
        # free for the run react-admin prepares).
        ok(
            client.post(
                f"{API}/budgets",
                headers={**staff, "Idempotency-Key": uuid.uuid4().hex},
                json={"financial_year": TODAY.year, "amount": 250_000_000},
            )
        )
        run = ok(
            client.post(
                f"{API}/payment-runs",
                headers={**staff, "Idempotency-Key": uuid.uuid4().hex},
                json={"due_by": TODAY.isoformat(), "currency": "EUR"},
            )
        )
        ok(client.post(f"{API}/payment-runs/{run['id']}/cancel", headers=staff))

        # Webhooks on both sides (never reached: the sender is not started in tests), and an
        # update replied to, so each endpoint has a delivery waiting.
        hooks = [
            ok(
                client.post(
                    f"{API}/webhooks",
                    headers=headers,
                    json={"url": "https://1.1.1.1/hooks", "event_types": ["update.replied"]},
                )
            )
            for headers in (staff, own)
        ]
        sent = ok(
            client.post(
                f"{API}/updates",
                headers=own,
                json={"what_changed": "We opened on Saturdays.", "funder_ids": [funder["id"]]},
            )
        )
        copy = next(c["update_id"] for c in sent["shared_with"] if c["funder_id"] == funder["id"])
        ok(
            client.post(
                f"{API}/updates/{copy}/replies",
                headers=staff,
                json={"body": "Thank you, that is good news."},
            )
        )
        for hook, headers in zip(hooks, (staff, own), strict=True):
            _until(
                lambda hook=hook, headers=headers: ok(
                    client.get(f"{API}/webhooks/{hook['id']}/deliveries", headers=headers)
                ),
                "a webhook delivery",
            )

        # Takeouts, one per side.
        for headers in (staff, own):
            response = client.post(f"{API}/exports/takeout", headers=headers)
            assert response.status_code == 202, response.text
    return seeded
