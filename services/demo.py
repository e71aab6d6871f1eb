"""``trellis up --demo``: a believable funder, filled through the public API.

Everything goes in through the gateway as a funder's staff and its partners
would send it, so the demo exercises the same rules as real use.
"""

import random
from datetime import date, timedelta
from typing import Any

import httpx

from services.common.auth import KeyStore, TokenIssuer
from services.common.settings import CommonSettings

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


def seed(*, gateway: str, settings: CommonSettings) -> str:
    """Fill the demo funder; a line saying what was made (or that it was there already)."""
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
            return f"Demo data is there already (funder '{FUNDER['slug']}')."
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
    return (
        f"Demo: funder '{FUNDER['slug']}' with {len(partners)} partners. "
        f"Try: uv run trellis token --role funder_staff --funder {FUNDER['slug']}"
    )
