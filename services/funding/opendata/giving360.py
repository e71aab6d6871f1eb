"""The 360Giving Data Standard shapes of a grant: JSON package items and CSV rows (pure)."""

import csv
import io
from datetime import date
from typing import Any

import orjson

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


def date_time(day: date) -> str:
    """A date as the start of that day in UTC.

    The standard's date fields are ``oneOf`` a date-time *format* and a
    ``YYYY-MM-DD`` pattern. A validator that does not assert formats (the
    default) counts a plain date as matching both branches, so ``oneOf`` fails;
    a full date-time matches exactly one branch under any validator.
    """
    return f"{day.isoformat()}T00:00:00Z"


def grant_item(
    row: Any, *, recipient: dict[str, str], funders: list[dict[str, str]]
) -> dict[str, Any]:
    """One grant of a 360Giving package. ``amountAwarded`` is in major units, exactly."""
    return {
        "id": row.grant_360_id,
        "title": row.title,
        "description": row.description,
        "currency": row.currency,
        "amountAwarded": float(major_units_text(row.amount_awarded, row.currency)),
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


def json_chunk(items: list[dict[str, Any]], *, first: bool) -> bytes:
    """Items of the package's ``grants`` array, comma-joined (and led by one if not first)."""
    body = b",".join(orjson.dumps(item) for item in items)
    return body if first else b"," + body


def csv_header() -> bytes:
    return csv_rows([list(CSV_COLUMNS)])


def csv_row(row: Any, *, recipient: dict[str, str], funders: list[dict[str, str]]) -> list[str]:
    funder = funders[0] if funders else {"id": "", "name": ""}
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
        funder["id"],
        funder["name"],
        row.updated_at.isoformat(),
    ]


def csv_rows(rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerows(rows)
    return buffer.getvalue().encode()
