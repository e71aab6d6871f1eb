"""The 360Giving export's exact bytes, on a fixed dataset: the same SHA-256 on SQLite and
PostgreSQL, in every batch size, before and after any change to how the export is made.

The grants are written straight into the funding database with fixed ids, dates, amounts
and awkward text (quotes, backslashes, COPY's ``\\N``, line breaks, control characters,
formulas, non-ASCII); the funders and partners come from the partners API, so their random
ids and slugs are replaced by fixed names before hashing.
"""

import hashlib
import random
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import insert

from services.funding.grants.models import Grant, GrantFundingOrganisation
from services.funding.opendata.service import Export
from services.funding.pools.models import Pool, PoolMember
from tests.support import Stack

TEXTS = (
    "Core funding",
    'A "quoted" title, with a comma',
    "Back\\slash and \\N and \\t written out",
    "Line one\nline two\r\nline three",
    "Tab\tinside",
    '=HYPERLINK("http://evil.example/")',
    "+SUM(1,2)",
    "-12.50",
    "@home",
    "\tleading tab",
    "Caf\u00e9 \u2013 na\u00efve \U0001f331 \u65e5\u672c",
    "Control \x01\x1f char",
    "",
    " spaced ",
    "\\N",
)
CURRENCIES = ("GBP", "GBP", "GBP", "JPY", "USD", "BHD")

#: SHA-256 of each export of the fixed dataset, recorded before the export was rewritten to
#: read PostgreSQL by COPY: (publishing funder, format) -> digest, in any batch size.
EXPECTED = {
    ("host", "json"): "f10e21e818c3d62708156d3204c5afc43687c959133cc43c619018d822943d9c",
    ("host", "csv"): "b396b5780d652bb9e96dafca6164ab2d2b6ec3cac3c562343d10b6060126b480",
    ("member", "json"): "e8ae8512d80dfb4094a0faaa1b9b9384cb4dec222e4aa8e5e0af9bcf464c357e",
    ("member", "csv"): "c1036c89c7a761ee9de123fca47397ddf708e1af35cb312c1ccf61f4b14d5697",
    ("solo", "json"): "33a94758bca6b3ab02a11a48b0389c35998e4908d89ab9e387b7037c4bcfba66",
    ("solo", "csv"): "207500f1a9f2f862a864300f3e6e31294320c6b6ea11f90418070242b5f1e8c7",
}


def _grant(rng: random.Random, n: int, funder_id: uuid.UUID, partner_id: uuid.UUID) -> dict:
    awarded = date(2020, 1, 1) + timedelta(days=rng.randrange(40))  # shared days: ties on id
    start = awarded + timedelta(days=rng.choice((0, 1, 30, 31)))
    end = start + timedelta(days=rng.choice((0, 27, 364, 365, 1095, 1460)))
    amount = rng.choice((0, 1, 99, 100, 10000001, 9007199254740993, rng.randrange(10**9)))
    updated = datetime(2025, 6, 1, tzinfo=UTC) + timedelta(
        seconds=rng.randrange(10**7), microseconds=rng.choice((0, 1, 500000, 999999))
    )
    return {
        "id": uuid.UUID(int=rng.getrandbits(128), version=4),
        "funder_id": funder_id,
        "pool_id": None,
        "partner_id": partner_id,
        "title": rng.choice(TEXTS) + f" {n}",
        "description": rng.choice(TEXTS),
        "amount_awarded": amount,
        "currency": rng.choice(CURRENCIES),
        "planned_start_date": start,
        "planned_end_date": end,
        "payment_frequency": "annual",
        "reference": f"BYTES-{n}",
        "status": rng.choice(("approved", "active", "completed")),
        "grant_360_id": f"360G-bytes-{n:03d}",
        "approved_on": awarded,
        "approved_by": "Board",
        "list_date": awarded,
        "original_amount": amount,
        "original_start_date": start,
        "original_end_date": end,
        "created_at": updated,
        "updated_at": updated,
        "version": 1,
    }


async def _dataset(stack: Stack) -> tuple[dict[str, uuid.UUID], dict[str, str]]:
    """Three funders in one pool, their partners and grants; (funder ids, random -> fixed)."""
    roles = ("host", "member", "other", "solo")  # solo: no pooled grant at all
    funders = {role: await stack.new_funder() for role in roles}
    ids = {role: uuid.UUID(f["id"]) for role, f in funders.items()}
    fixed = {f["slug"].removeprefix("funder-"): role.upper() for role, f in funders.items()}
    fixed |= {f["id"]: f"{role}-funder-id" for role, f in funders.items()}
    partner_fields: list[tuple[str, dict[str, Any]]] = [
        ("host", {"name": "Hillside Trust", "charity_number": "1000001"}),
        ("host", {"name": "Riverside CIC", "company_number": "09999999"}),
        ("host", {"name": '=HYPERLINK("x")'}),
        ("host", {"name": 'Quote "Group", Ltd \\ \u00e9'}),
        ("member", {"name": "Member's Partner", "org_id": "GB-CHC-1000002"}),
        ("other", {"name": "Not Yours"}),
        ("solo", {"name": '+Solo\'s "partner"\tTrust', "company_number": "SC123456"}),
    ]
    partners: list[tuple[str, uuid.UUID]] = []
    for i, (role, fields) in enumerate(partner_fields):
        partner = await stack.new_partner(str(ids[role]), **fields)
        partners.append((role, uuid.UUID(partner["id"])))
        fixed[partner["id"]] = f"partner-{i}-id"
    rng = random.Random(14)
    unknown = uuid.UUID(int=rng.getrandbits(128), version=4)  # no partner record at all
    pool_id = uuid.UUID(int=rng.getrandbits(128), version=4)
    grants, orgs = [], []
    for n in range(40):
        role, partner_id = partners[n % 4] if n % 9 else ("host", unknown)
        grants.append(_grant(rng, n, ids[role], partner_id))
        orgs.append({"grant_id": grants[-1]["id"], "funder_id": ids[role], "position": 0})
    for n in range(40, 52):  # pooled: hosted by the host or by the member
        host = "host" if n % 2 else "member"
        partner_id = partners[0][1] if host == "host" else partners[4][1]
        grant = _grant(rng, n, ids[host], partner_id)
        grant["pool_id"] = pool_id
        grants.append(grant)
        members = [host, *(r for r in ("host", "member", "other") if r != host)][: 2 + n % 2]
        for position, role in enumerate(members):
            share = grant["amount_awarded"] // len(members) + (position == 0)
            orgs.append(
                {
                    "grant_id": grant["id"],
                    "funder_id": ids[role],
                    "position": position,
                    "share_amount": share,
                }
            )
    for n, status in ((60, "proposed"), (61, "withdrawn")):  # never published
        grants.append({**_grant(rng, n, ids["host"], partners[0][1]), "status": status})
    grants.append({**_grant(rng, 62, ids["host"], partners[0][1]), "grant_360_id": None})
    grants.append(_grant(rng, 63, ids["other"], partners[5][1]))  # another funder's own
    orgs.append({"grant_id": grants[-1]["id"], "funder_id": ids["other"], "position": 0})
    for n in range(64, 80):
        partner_id = partners[6][1] if n % 5 else unknown
        grants.append(_grant(rng, n, ids["solo"], partner_id))
        orgs.append({"grant_id": grants[-1]["id"], "funder_id": ids["solo"], "position": 0})
    now = datetime(2025, 1, 1, tzinfo=UTC)
    db = stack.apps["funding"].state.db
    async with db.sessionmaker() as session, session.begin():
        await session.execute(
            insert(Pool),
            [
                {
                    "id": pool_id,
                    "name": 'Shared "Pool", \u00e9',
                    "purpose": "Bytes",
                    "currency": "GBP",
                    "host_funder_id": ids["host"],
                    "decision_rule": "majority",
                    "created_by": "test",
                    "created_at": now,
                    "updated_at": now,
                    "version": 1,
                }
            ],
        )
        await session.execute(
            insert(PoolMember),
            [
                {
                    "id": uuid.UUID(int=i + 1),
                    "pool_id": pool_id,
                    "funder_id": ids[role],
                    "status": "active",
                    "created_at": now,
                    "updated_at": now,
                }
                for i, role in enumerate(("host", "member", "other"))
            ],
        )
        await session.execute(insert(Grant), grants)
        await session.execute(insert(GrantFundingOrganisation), orgs)
    return ids, fixed


def _fixed(body: bytes, fixed: dict[str, str]) -> bytes:
    for random_part, name in fixed.items():
        body = body.replace(random_part.encode(), name.encode())
    return body


async def test_export_bytes_are_fixed_on_both_databases(stack: Stack) -> None:
    ids, fixed = await _dataset(stack)
    app = stack.apps["funding"]
    for role in ("host", "member", "solo"):
        for fmt in ("json", "csv"):
            for batch in (1, 3, 2000):
                export = Export(
                    db=app.state.db,
                    partners=app.state.services["partners"],
                    funder_id=ids[role],
                    fmt=fmt,  # type: ignore[arg-type]
                    batch_size=batch,
                )
                body = _fixed(b"".join([chunk async for chunk in await export.open()]), fixed)
                digest = hashlib.sha256(body).hexdigest()
                assert digest == EXPECTED[(role, fmt)], (role, fmt, digest)
    # The same bytes through the API.
    staff = stack.tokens.staff(str(ids["host"]))
    response = await stack.funding.get("/api/v1/exports/360giving.csv", headers=staff)
    assert response.status_code == 200
    digest = hashlib.sha256(_fixed(response.content, fixed)).hexdigest()
    assert digest == EXPECTED[("host", "csv")]
    response = await stack.funding.get("/api/v1/exports/360giving", headers=staff)
    assert response.status_code == 200
    digest = hashlib.sha256(_fixed(response.content, fixed)).hexdigest()
    assert digest == EXPECTED[("host", "json")]
