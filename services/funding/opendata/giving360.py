"""The 360Giving Data Standard shapes of a grant: JSON package items and CSV rows (pure)."""

from datetime import date
from typing import Any

import orjson

from services.common.csvsafe import csv_bytes
from services.funding.grants.schedule import major_units_text, term_months

CSV_COLUMNS = (
    "Identifier",
    "Title",
    "Description",
    "Currency",
    "Amount Awarded",
    "Award Date",
    "Planned Dates:Start Date",
    "Planned Dates:End Date",
    "Planned Dates:Duration (months)",
    "Recipient Org:Identifier",
    "Recipient Org:Name",
    "Recipient Org:Charity Number",
    "Recipient Org:Company Number",
    "Funding Org:Identifier",
    "Funding Org:Name",
    "Last Modified",
)

#: An additional field (360Giving allows them) on a pooled grant in a member's own export: that
#: member's share of ``amountAwarded``, in major units. ``amountAwarded`` stays the whole grant.
SHARE_FIELD = "publisherShareOfAmountAwarded"
SHARE_COLUMN = "Publisher Share Of Amount Awarded"
POOLED_COLUMNS = ("Grant Programme:Code", "Grant Programme:Title", SHARE_COLUMN)

PACKAGE_START = b'{"grants":['
PACKAGE_END = b"]}"


def funder_org(funder: dict[str, Any]) -> dict[str, str]:
    """A funder as a 360Giving organisation: its org-id, or its 360Giving prefix."""
    return {"id": funder.get("org_id") or funder["prefix_360giving"], "name": funder["name"]}


def recipient_org(
    partner: dict[str, Any] | None, *, partner_id: str, prefix: str
) -> dict[str, str]:
    """A partner as a 360Giving recipient; unregistered groups get ``360G-<prefix>-<id>``."""
    if partner is None:
        return {"id": f"{prefix}-{partner_id}", "name": "Partner organisation"}
    org: dict[str, str] = {
        "id": partner.get("org_id") or f"{prefix}-{partner_id}",
        "name": partner["name"],
    }
    if partner.get("charity_number"):
        org["charityNumber"] = partner["charity_number"]
    if partner.get("company_number"):
        org["companyNumber"] = partner["company_number"]
    return org


def exact_number(amount: int, currency: str) -> orjson.Fragment:
    """Pence as a JSON number in major units, written digit for digit (never via a float)."""
    return orjson.Fragment(major_units_text(amount, currency).encode())


def date_time(day: date) -> str:
    """A date as the start of that day in UTC.

    The standard's date fields are ``oneOf`` a date-time *format* and a
    ``YYYY-MM-DD`` pattern. A validator that does not assert formats (the
    default) counts a plain date as matching both branches, so ``oneOf`` fails;
    a full date-time matches exactly one branch under any validator.
    """
    return f"{day.isoformat()}T00:00:00Z"


def grant_item(
    row: Any,
    *,
    recipient: dict[str, str],
    funders: list[dict[str, str]],
    programme: dict[str, str] | None = None,
    share: int | None = None,
) -> dict[str, Any]:
    """One grant of a 360Giving package. ``amountAwarded`` is in major units, exactly.

    A pooled grant lists every member funder as a funding organisation, names the pool
    as its grant programme, and carries the publishing member's share (``SHARE_FIELD``).
    """
    item = {
        "id": row.grant_360_id,
        "title": row.title,
        "description": row.description,
        "currency": row.currency,
        "amountAwarded": exact_number(row.amount_awarded, row.currency),
        "awardDate": date_time(row.approved_on),
        "plannedDates": [
            {
                "startDate": date_time(row.planned_start_date),
                "endDate": date_time(row.planned_end_date),
                "duration": term_months(row.planned_start_date, row.planned_end_date),
            }
        ],
        "recipientOrganization": [recipient],
        "fundingOrganization": funders,
        "dateModified": row.updated_at.isoformat(),
    }
    if programme is not None:
        item["grantProgramme"] = [programme]
    if share is not None:
        item[SHARE_FIELD] = exact_number(share, row.currency)
    return item


def json_chunk(items: list[dict[str, Any]], *, first: bool) -> bytes:
    """Items of the package's ``grants`` array, comma-joined (and led by one if not first)."""
    body = orjson.dumps(items)[1:-1]  # one call: the same bytes as joining each item
    return body if first else b"," + body


def csv_columns(funding_orgs: int = 1) -> list[str]:
    """The CSV header. With pooled grants (``funding_orgs`` > 1) the funding organisations get
    numbered columns (``Funding Org:0:Identifier``, ``Funding Org:1:Identifier``...), as the
    360Giving flattened format numbers repeated sets from 0, then the pool's columns follow."""
    if funding_orgs <= 1:
        return list(CSV_COLUMNS)
    at = CSV_COLUMNS.index("Funding Org:Identifier")
    numbered = [
        f"Funding Org:{i}:{part}" for i in range(funding_orgs) for part in ("Identifier", "Name")
    ]
    return [*CSV_COLUMNS[:at], *numbered, *CSV_COLUMNS[at + 2 :], *POOLED_COLUMNS]


def csv_header(funding_orgs: int = 1) -> bytes:
    return csv_rows([csv_columns(funding_orgs)])


def csv_row(
    row: Any,
    *,
    recipient: dict[str, str],
    funders: list[dict[str, str]],
    funding_orgs: int = 1,
    programme: dict[str, str] | None = None,
    share: int | None = None,
) -> list[str]:
    """One grant as a CSV row for a header of ``csv_columns(funding_orgs)``."""
    if funding_orgs > 1:
        cells = [c for f in funders for c in (f["id"], f["name"])]
        cells += [""] * (2 * funding_orgs - len(cells))
        row_cells = _csv_cells(row, recipient, cells)
        return [
            *row_cells,
            (programme or {}).get("code", ""),
            (programme or {}).get("title", ""),
            major_units_text(share, row.currency) if share is not None else "",
        ]
    funder = funders[0] if funders else {"id": "", "name": ""}
    return _csv_cells(row, recipient, [funder["id"], funder["name"]])


def _csv_cells(row: Any, recipient: dict[str, str], funder_cells: list[str]) -> list[str]:
    return [
        row.grant_360_id,
        row.title,
        row.description,
        row.currency,
        major_units_text(row.amount_awarded, row.currency),
        row.approved_on.isoformat(),
        row.planned_start_date.isoformat(),
        row.planned_end_date.isoformat(),
        str(term_months(row.planned_start_date, row.planned_end_date)),
        recipient["id"],
        recipient["name"],
        recipient.get("charityNumber", ""),
        recipient.get("companyNumber", ""),
        *funder_cells,
        row.updated_at.isoformat(),
    ]


def csv_rows(rows: list[list[str]]) -> bytes:
    """Rows of CSV, with cells a spreadsheet would run as formulas neutralised."""
    return csv_bytes(rows)
