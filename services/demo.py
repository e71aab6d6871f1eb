"""``trellis up --demo``: a believable funder, filled through the public API.

Everything goes in through the gateway as a funder's staff and its partners
would send it, so the demo exercises the same rules as real use. The demo's
people are invited as ``trellis invite`` does, and accept on the invitation page.
"""

import asyncio
import random
from datetime import date, timedelta
from typing import Any

import httpx

from services.common.auth import KeyStore, TokenIssuer
from services.common.settings import CommonSettings
from services.demo_feedback import accept_invitation, seed_rounds
from services.partners.config import Settings as PartnersSettings
from services.partners.people import operator

FUNDER = {
    "name": "Northern Lights Community Trust",
    "slug": "northern-lights",
    "prefix_360giving": "360G-northernlights",
    "org_id": "GB-CHC-1099876",
}

# name, region, stage, description
PARTNERS: list[tuple[str, str, str, str]] = [
    (
        "Hillside Youth Project",
        "North East",
        "active",
        "Youth work on three estates in Gateshead, led by young people.",
    ),
    (
        "Tyne Valley Food Network",
        "North East",
        "active",
        "Community pantries and a shared van across the valley.",
    ),
    (
        "Wearside Women's Refuge",
        "North East",
        "active",
        "Safe housing and outreach for women and children.",
    ),
    (
        "Cumbria Rural Transport Group",
        "North West",
        "active",
        "Volunteer drivers for people far from a bus route.",
    ),
    (
        "Moss Side Elders Club",
        "North West",
        "active",
        "Lunches, trips and friendship for older neighbours.",
    ),
    (
        "Bradford Refugee Welcome",
        "Yorkshire and the Humber",
        "active",
        "Advice, English classes and a Saturday drop-in.",
    ),
    (
        "Hull Fishermen's Mission Hall",
        "Yorkshire and the Humber",
        "paused",
        "Community space in a former mission, being repaired.",
    ),
    (
        "Sheffield Young Carers",
        "Yorkshire and the Humber",
        "active",
        "Breaks and advocacy for children who care for family.",
    ),
    (
        "Leeds Tenants Together",
        "Yorkshire and the Humber",
        "exploring",
        "A tenants' union organising in private rented homes.",
    ),
    (
        "Doncaster Men's Shed",
        "Yorkshire and the Humber",
        "active",
        "A workshop where men meet, make and talk.",
    ),
    (
        "Teesside Credit Union",
        "North East",
        "exploring",
        "Fair savings and loans for people banks turn away.",
    ),
    (
        "Lancaster Community Garden",
        "North West",
        "active",
        "A growing space and kitchen run by its members.",
    ),
    (
        "Blackpool Coastal Arts",
        "North West",
        "ended",
        "Arts on the promenade; merged into a larger trust.",
    ),
    (
        "Durham Miners' Hall Library",
        "North East",
        "active",
        "A lending library and archive open to all.",
    ),
    (
        "Scarborough Disability Action",
        "Yorkshire and the Humber",
        "active",
        "Led by disabled people, campaigning for access.",
    ),
    (
        "Carlisle Homeless Outreach",
        "North West",
        "active",
        "Street outreach, a night shelter and move-on support.",
    ),
    (
        "Middlesbrough Boxing Academy",
        "North East",
        "active",
        "Boxing, mentoring and homework club for teenagers.",
    ),
    (
        "Wakefield Deaf Centre",
        "Yorkshire and the Humber",
        "exploring",
        "BSL classes and a social club for Deaf people.",
    ),
    (
        "Salford Mutual Aid",
        "North West",
        "active",
        "Neighbours helping neighbours: shopping, lifts, calls.",
    ),
    (
        "Harrogate LGBT+ Youth",
        "Yorkshire and the Humber",
        "active",
        "A weekly group and a helpline for young people.",
    ),
    (
        "Berwick Coastal Rowing",
        "North East",
        "paused",
        "Community rowing; pausing for a boathouse move.",
    ),
    (
        "Barnsley Recovery Cafe",
        "Yorkshire and the Humber",
        "active",
        "A cafe run by and for people in recovery.",
    ),
    (
        "Preston Somali Community",
        "North West",
        "active",
        "Supplementary school, advice and women's group.",
    ),
    (
        "Kendal Mountain Rescue Friends",
        "North West",
        "ended",
        "Supporters' group; the team is now funded publicly.",
    ),
    (
        "Sunderland Digital Inclusion",
        "North East",
        "exploring",
        "Devices, data and patient help getting online.",
    ),
    (
        "York Travellers Trust",
        "Yorkshire and the Humber",
        "active",
        "Rights, health and education with Gypsy and Traveller families.",
    ),
    ("Oldham Play Action", "North West", "active", "Adventure play and holiday activities."),
    (
        "Hexham Young Farmers Wellbeing",
        "North East",
        "exploring",
        "Peer support on mental health in farming families.",
    ),
    (
        "Grimsby Fishing Heritage Group",
        "Yorkshire and the Humber",
        "paused",
        "Oral histories of the port, kept by its people.",
    ),
    (
        "Wigan Parent Carers Forum",
        "North West",
        "active",
        "Parents of disabled children shaping local services.",
    ),
]

STEWARDS = ["Amina Hussain", "Tom Fletcher", "Grace Okafor"]

# The demo's people who sign in: (email, name, password, whom they act for).
DEMO_STAFF = ("amina@northernlights.example", "Amina Hussain", "northern-lights-demo")
DEMO_PARTNER = ("priya@hillsideyouth.example", "Priya Shah", "hillside-youth-demo")


def seed(*, gateway: str, settings: CommonSettings, accounts: bool = True) -> str:
    """Fill the demo funder; a line saying what was made (or that it was there already).

    ``accounts``: also make the demo people (a staff member and a partner's person), which
    needs this process to reach the partners service's database (``trellis up`` does).
    """
    issuer = TokenIssuer(
        KeyStore(settings.signing_keys_file),
        issuer=settings.auth_issuer,
        audience=settings.auth_audience,
    )
    admin = {
        "Authorization": "Bearer "
        + issuer.mint(sub="admin@localhost", roles=["platform_admin"], client_id="trellis-demo")
    }
    rng = random.Random(2018)
    with httpx.Client(base_url=gateway, timeout=30.0) as client:
        response = client.post("/api/v1/funders", json=FUNDER, headers=admin)
        if response.status_code == 409:
            return (
                f"Demo data is there already (funder '{FUNDER['slug']}').\n" + _demo_accounts_text()
            )
        response.raise_for_status()
        funder = response.json()
        staff = {
            "Authorization": "Bearer "
            + issuer.mint(
                sub="amina@northernlights.example",
                roles=["funder_staff"],
                client_id="trellis-demo",
                funder_id=funder["id"],
                name="Amina Hussain",
            )
        }
        partners: list[dict[str, Any]] = []
        for index, (name, region, stage, description) in enumerate(PARTNERS):
            since = date(2019, 1, 1) + timedelta(days=rng.randint(0, 6 * 365))
            body = {
                "name": name,
                "org_id": f"GB-CHC-{1100000 + index * 137}",
                "charity_number": f"{1100000 + index * 137}",
                "website": f"https://{name.lower().replace(' ', '').replace(chr(39), '')[:24]}.org.uk",
                "region": region,
                "description": description,
                "status": stage,
                "since": since.isoformat(),
                "steward": STEWARDS[index % len(STEWARDS)],
            }
            response = client.post("/api/v1/partners", json=body, headers=staff)
            response.raise_for_status()
            partners.append(response.json())
        active = [p for p in partners if p["relationship"]["status"] == "active"]
        _seed_relationship_records(client, issuer, staff, active[:8], rng)
        _seed_grants(client, staff, active[:14], rng)
        _seed_commitments(client, staff)
        if accounts:
            _seed_people(client, partners[0])
            # Rounds invite only organisations that claimed their records, which needs
            # this process to reach the partners database too.
            seed_rounds(client, staff, active, lambda p: _partner_headers(issuer, p))
    return (
        f"Demo: funder '{FUNDER['slug']}' with {len(partners)} partners, their visits, documents "
        "and reflective updates, core grants with their payments, its published "
        "commitments"
        + (", a published feedback round and an open one" if accounts else "")
        + ".\n"
        + (_demo_accounts_text(partners[0]["name"]) if accounts else "")
    )


def _demo_accounts_text(partner_name: str = "Hillside Youth Project") -> str:
    staff_email, staff_name, staff_password = DEMO_STAFF
    partner_email, partner_name_, partner_password = DEMO_PARTNER
    return (
        "Demo accounts (sign in at the sign-in page below):\n"
        f"  staff of {FUNDER['slug']}: {staff_email}  password {staff_password}  ({staff_name})\n"
        f"  {partner_name}'s person:  {partner_email}  password {partner_password}  "
        f"({partner_name_})"
    )


def _seed_people(client: httpx.Client, partner: dict[str, Any]) -> None:
    """A staff member of the demo funder and the first person of one partner organisation."""
    settings = PartnersSettings()
    staff_email, staff_name, staff_password = DEMO_STAFF
    link = asyncio.run(operator.invite(settings, email=staff_email, funder_slug=FUNDER["slug"]))
    accept_invitation(client, link, staff_name, staff_password)
    partner_email, partner_name, partner_password = DEMO_PARTNER
    link = asyncio.run(operator.invite(settings, email=partner_email, partner_id=partner["id"]))
    accept_invitation(client, link, partner_name, partner_password)


INTERACTIONS = [
    (
        "visit",
        "Visited the Tuesday session; the young people's panel showed us their plan "
        "for the summer and asked for help finding a minibus.",
    ),
    (
        "call",
        "Catch-up call with the director about the new lease; they are worried about the "
        "service charge and will send the draft.",
    ),
    (
        "meeting",
        "Met the trustees. They want to move two sessional workers onto contracts "
        "and asked whether the core grant can cover that: it can.",
    ),
    ("event", "Joined their open day; about sixty neighbours came, many for the first time."),
]

UPDATES = [
    {
        "what_changed": "We lost our venue in March and now run from the church hall two "
        "streets away. Numbers dipped for a month and have come back.",
        "what_we_learned": "Young people followed the youth workers, not the building.",
        "what_was_hard": "Two volunteers left over the move, and our evening session had to "
        "stop for six weeks. We should have asked for help sooner.",
        "want_you_to_know": "The grant let us pay the deposit without asking anyone's "
        "permission. That mattered more than we can say.",
    },
    {
        "what_changed": "Our board now has two members who use our services.",
        "what_was_hard": "Recruiting a finance trustee took a year and we are still not there.",
    },
    {
        "what_we_learned": "Paying people for their time on the advisory group doubled who "
        "came, and changed what they told us.",
        "want_you_to_know": "We are thinking about merging with a neighbouring group and "
        "would value a conversation, not a decision.",
    },
]

REPLIES = [
    "Thank you for telling us about the venue so plainly. Could we visit the new hall next month?",
    "That is good news about the board. Would an introduction to a finance trustee network help?",
    "Thank you. We would be glad to talk about the merger whenever suits you, no paperwork.",
]


def _partner_headers(issuer: TokenIssuer, partner: dict[str, Any]) -> dict[str, str]:
    token = issuer.mint(
        sub=f"director@{partner['id']}",
        roles=["partner"],
        client_id="partner-portal",
        partner_id=partner["id"],
    )
    return {"Authorization": f"Bearer {token}"}


def _seed_relationship_records(
    client: httpx.Client,
    issuer: TokenIssuer,
    staff: dict[str, str],
    partners: list[dict[str, Any]],
    rng: random.Random,
) -> None:
    """Visits and calls, the partners' own documents and contacts, and a few updates with replies."""
    today = date.today()
    for index, partner in enumerate(partners):
        own = _partner_headers(issuer, partner)
        for offset, (kind, summary) in enumerate(INTERACTIONS[: 2 + index % 3]):
            when = today - timedelta(days=30 * (offset + 1) + rng.randint(0, 20))
            body: dict[str, Any] = {
                "partner_id": partner["id"],
                "kind": kind,
                "occurred_at": f"{when.isoformat()}T10:30:00Z",
                "summary": summary,
                "participants": ["Amina Hussain", "the director"],
            }
            if kind == "call" and index % 4 == 0:
                body |= {
                    "private": True,
                    "private_reason": "Notes on a staff member's health, kept private.",
                }
            client.post("/api/v1/interactions", json=body, headers=staff).raise_for_status()
        for kind, title in (("annual_report", "Annual report"), ("accounts", "Accounts")):
            slug = partner["name"].lower().replace(" ", "-").replace("'", "")
            client.post(
                "/api/v1/documents",
                headers=own,
                json={
                    "title": f"{title} {today.year - 1}",
                    "kind": kind,
                    "year": today.year - 1,
                    "url": f"https://{slug[:30]}.org.uk/files/{kind}-{today.year - 1}.pdf",
                },
            ).raise_for_status()
        client.post(
            "/api/v1/contacts",
            headers=own,
            json={
                "name": "Jo Baker",
                "role": "Director",
                "email": f"jo@{partner['id'][:8]}.example.org",
                "phone": "+44 191 496 0000",
            },
        ).raise_for_status()
        if index < len(UPDATES):
            sent = client.post("/api/v1/updates", headers=own, json=UPDATES[index])
            sent.raise_for_status()
            update_id = sent.json()["id"]
            client.post(
                f"/api/v1/updates/{update_id}/replies", headers=staff, json={"body": REPLIES[index]}
            ).raise_for_status()
            if index == 0:
                client.post(
                    f"/api/v1/updates/{update_id}/replies",
                    headers=own,
                    json={"body": "Yes please: Tuesdays from 6pm are best."},
                ).raise_for_status()


def _seed_grants(
    client: httpx.Client,
    staff: dict[str, str],
    partners: list[dict[str, Any]],
    rng: random.Random,
) -> None:
    """Multi-year core grants, approved by the trustees, paid on time (mostly), published."""
    today = date.today()
    for index, partner in enumerate(partners):
        years = (3, 4, 5)[index % 3]
        start = date(today.year - 1 - index % 3, (1, 4, 7, 10)[index % 4], 1)
        amount = rng.randrange(30_000, 160_000) * 100 + rng.choice((0, 0, 1, 50))
        grant = client.post(
            "/api/v1/grants",
            headers=staff,
            json={
                "partner_id": partner["id"],
                "title": f"Core funding for {partner['name']}",
                "description": f"Unrestricted core funding for {years} years: "
                f"{partner['description'] or partner['name']}",
                "amount_awarded": amount,
                "planned_start_date": start.isoformat(),
                "planned_end_date": (
                    date(start.year + years, start.month, 1) - timedelta(days=1)
                ).isoformat(),
                "payment_frequency": "quarterly" if index % 4 == 0 else "annual",
                "reference": f"NLCT-{start.year}-{index + 1:03d}",
            },
        )
        grant.raise_for_status()
        grant_id = grant.json()["id"]
        decided = start - timedelta(days=45)
        client.post(
            f"/api/v1/grants/{grant_id}/approve",
            headers=staff,
            json={
                "decided_on": decided.isoformat(),
                "decided_by": "Board of trustees",
                "reference": f"TM-{decided.year}-{decided.month:02d} item {index % 6 + 2}",
            },
        ).raise_for_status()
        schedule = client.get(f"/api/v1/grants/{grant_id}/schedule", headers=staff)
        schedule.raise_for_status()
        for number, instalment in enumerate(schedule.json()["instalments"]):
            due = date.fromisoformat(instalment["due_date"])
            if due > today or (index == 5 and number == len(schedule.json()["instalments"]) - 1):
                continue
            # One payment in nine goes out late: the funder's own record shows it.
            late = rng.random() < 0.11
            paid_on = min(today, due + timedelta(days=rng.randint(3, 20) if late else 0))
            client.post(
                "/api/v1/payments",
                headers={**staff, "Idempotency-Key": instalment["id"]},
                json={
                    "instalment_id": instalment["id"],
                    "paid_on": paid_on.isoformat(),
                    "reference": f"BACS {instalment['id'][:8].upper()}",
                },
            ).raise_for_status()
    settings = client.get("/api/v1/funder-settings", headers=staff)
    settings.raise_for_status()
    client.put(
        "/api/v1/funder-settings",
        json={"publish_360giving": True},
        headers={**staff, "If-Match": settings.headers["etag"]},
    ).raise_for_status()


COMMITMENTS = [
    (
        "We will pay on the date we promised.",
        "Every instalment reaches you on or before its due date.",
        "instalments_paid_on_time",
    ),
    (
        "We will reply to every update within two weeks.",
        "A person who knows your work reads it and answers.",
        "days_to_first_reply",
    ),
    (
        "We will not ask for anything we won't use.",
        "No forms, targets or reports beyond what you choose to tell us.",
        None,
    ),
    (
        "We will tell you early if our funding is going to change.",
        "At least a year's notice of any change to a core grant.",
        None,
    ),
]


def _seed_commitments(client: httpx.Client, staff: dict[str, str]) -> None:
    """The funder's published charter and a public scorecard, with its measured behaviour."""
    for position, (title, description, measure) in enumerate(COMMITMENTS):
        client.post(
            "/api/v1/commitments",
            headers=staff,
            json={
                "title": title,
                "description": description,
                "position": position,
                "measure": measure,
                "status": "published",
            },
        ).raise_for_status()
    settings = client.get("/api/v1/scorecards/settings", headers=staff)
    settings.raise_for_status()
    client.put(
        "/api/v1/scorecards/settings",
        json={"scorecard_published": True},
        headers={**staff, "If-Match": settings.headers["etag"]},
    ).raise_for_status()
