"""The data the react-admin test reads: the demo funder, then what the demo leaves out.

Everything goes in through the gateway, as staff and partners would send it: pools with
two members, money in and proposals decided; a commitment edited (its versions); a round
answered by six partners, closed and published; actions; threads both ways; partner
systems' API clients; variations.
"""

import email
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


def _link_to(mail_dir: Path, address: str) -> str:
    """The link in the latest message written to ``address`` (newest first)."""
    for _ in range(100):
        for path in sorted(mail_dir.glob("*.eml"), reverse=True):
            msg = email.message_from_bytes(path.read_bytes(), policy=default)
            if msg["To"] == address:
                body = msg.get_body(preferencelist=("plain",))
                assert body is not None
                found = re.search(r"https?://\S+", body.get_content())
                assert found, body.get_content()
                return found.group(0)
        time.sleep(0.05)  # the mail is written after the response, by the partners service
    raise AssertionError(f"no mail to {address} in {mail_dir}")


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
    link = urlsplit(_link_to(mail_dir, address))
    accept_invitation(client, f"{link.path}?{link.query}", "Director", "correct horse battery")


def seed(base: str, tokens: Tokens) -> Seeded:
    """The demo funder, then pools, rounds, results, actions, threads, clients and variations."""
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
        # The funder's staff here are its finance people too (budgets and payment runs).
        staff = Tokens.headers(
            tokens.issuer.mint(
                sub="staff@funder.test",
                roles=["funder_staff", "finance"],
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
        mail_dir = Path(tokens.issuer.keys.path).parent.parent / "mail"
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
    return seeded
