"""``trellis up --demo``'s feedback: partners that claimed their records, a round answered by
name and anonymously and published with its actions, and a round still open.

A round invites only organisations whose own people have claimed their record (the rule
that stops staff reaching k with records they control), so the demo's partners first get
their first person, invited as ``trellis invite`` does and accepting on the invitation page.
"""

import asyncio
import html
import re
from datetime import date, timedelta
from typing import Any

import httpx

from services.partners.config import Settings as PartnersSettings
from services.partners.people import operator
from trellis_ballot import answer_anonymously_sync

#: How many of the demo's active partners claim their records and are asked.
ASKED = 10
DIRECTOR_PASSWORD = "demo-partner-director"
COMMENTS = [
    "Payments arrived on the day, every time.",
    "Replies to our updates were warm and quick.",
    None,
    "We would like more notice of the renewal conversation.",
    None,
]


def accept_invitation(client: httpx.Client, link: str, name: str, password: str) -> None:
    """Accept an invitation through its page, as the person would in a browser."""
    page = client.get(link)
    page.raise_for_status()
    fields = {
        html.unescape(k): html.unescape(v)
        for k, v in re.findall(r'<input type="hidden" name="([^"]*)" value="([^"]*)">', page.text)
    }
    form = {**fields, "name": name, "password": password, "password_confirm": password}
    client.post(link.split("?")[0], data=form).raise_for_status()


def claim_partners(
    client: httpx.Client, staff: dict[str, str], partners: list[dict[str, Any]]
) -> None:
    """Each organisation nobody has claimed yet gets its first person, which claims it."""
    settings = PartnersSettings()
    for partner in partners:
        record = client.get(f"/api/v1/partners/{partner['id']}", headers=staff)
        record.raise_for_status()
        if record.json()["claimed_at"] is not None:
            continue
        slug = re.sub(r"[^a-z]", "", partner["name"].lower())[:20]
        link = asyncio.run(
            operator.invite(settings, email=f"director@{slug}.example", partner_id=partner["id"])
        )
        accept_invitation(client, link, f"Director of {partner['name']}", DIRECTOR_PASSWORD)


def _round(client: httpx.Client, staff: dict[str, str], title: str, opens: date) -> dict:
    body = {
        "title": title,
        "description": "How are we living up to our commitments? Answer by name or anonymously.",
        "opens_on": opens.isoformat(),
        "closes_on": (opens + timedelta(days=28)).isoformat(),
    }
    response = client.post("/api/v1/rounds", json=body, headers=staff)
    response.raise_for_status()
    response = client.post(f"/api/v1/rounds/{response.json()['id']}/open", headers=staff)
    response.raise_for_status()
    return response.json()


def _answer(
    client: httpx.Client,
    round_: dict[str, Any],
    headers: dict[str, str],
    index: int,
    *,
    anonymous: bool,
) -> None:
    ratings = [
        {
            "commitment_id": c["commitment_id"],
            # No "don't know": a base must have k or more in each of its named and anonymous
            # parts to be shown, and the demo should show figures.
            "rating": 3 + (index + n) % 3,
            "comment": COMMENTS[(index + n) % len(COMMENTS)] if n == 0 else None,
        }
        for n, c in enumerate(round_["commitments"])
    ]
    if anonymous:
        token = headers["Authorization"].removeprefix("Bearer ")
        answer_anonymously_sync(str(client.base_url), round_["id"], token=token, ratings=ratings)
        return
    response = client.post(
        f"/api/v1/rounds/{round_['id']}/responses", json={"ratings": ratings}, headers=headers
    )
    response.raise_for_status()


def seed_rounds(
    client: httpx.Client,
    staff: dict[str, str],
    partners: list[dict[str, Any]],
    headers_of: Any,
) -> None:
    """A published round with answers (half by name, half anonymous: both at least k) and
    a published action; and a round still open, answered by a few."""
    asked = partners[:ASKED]
    claim_partners(client, staff, asked)
    spring = _round(client, staff, "Spring listening round", date.today() - timedelta(days=1))
    for index, partner in enumerate(asked):
        _answer(client, spring, headers_of(partner), index, anonymous=index % 2 == 1)
    for action in ("close", "publish"):
        body = {"answer": "Thank you: we heard you on notice of renewals."}
        response = client.post(
            f"/api/v1/rounds/{spring['id']}/{action}",
            json=body if action == "publish" else None,
            headers=staff,
        )
        response.raise_for_status()
    response = client.post(
        "/api/v1/actions",
        json={
            "title": "Start every renewal conversation a year before the grant ends",
            "round_id": spring["id"],
            "commitment_id": spring["commitments"][0]["commitment_id"],
            "status": "in_progress",
            "published": True,
        },
        headers=staff,
    )
    response.raise_for_status()
    summer = _round(client, staff, "Summer check-in", date.today())
    for index, partner in enumerate(asked[:3]):
        _answer(client, summer, headers_of(partner), index, anonymous=index == 1)
