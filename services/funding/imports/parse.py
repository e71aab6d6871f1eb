"""Reading a 360Giving file (a JSON package or the flat CSV) into grants to import (pure).

Amounts are read as decimals (never floats) and turned into exact minor units; dates
may be dates or date-times. Each grant comes back with the reasons it cannot be
imported, if any, so a dry run can name every bad row at once.
"""

import csv
import io
import json
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from services.common.csvsafe import FORMULA_STARTS
from services.common.errors import BadRequest
from services.funding.grants.schedule import minor_digits

MAX_AMOUNT = 2**63 - 1
REFERENCE_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.- ")


@dataclass
class Candidate:
    """One grant of the file, as far as it could be read, and what is wrong with it."""

    row: int
    identifier: str | None = None
    title: str | None = None
    description: str | None = None
    currency: str | None = None
    amount: int | None = None
    award_date: date | None = None
    start: date | None = None
    end: date | None = None
    recipient: dict[str, str] = field(default_factory=dict)
    funding_orgs: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)


def _day(value: Any, name: str, reasons: list[str]) -> date | None:
    if value in (None, ""):
        reasons.append(f"{name} is missing")
        return None
    text = str(value)
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
        return datetime.fromisoformat(text.replace("Z", "+00:00")).date()
    except ValueError:
        reasons.append(f"{name} '{text}' is not a date (YYYY-MM-DD)")
        return None


def _text(
    value: Any, name: str, reasons: list[str], *, limit: int, required: bool = True
) -> str | None:
    text = "" if value is None else str(value).strip()
    if not text:
        if required:
            reasons.append(f"{name} is missing")
        return None
    if len(text) > limit:
        reasons.append(f"{name} is longer than {limit} characters")
        return None
    return text


def _amount(value: Any, currency: str | None, reasons: list[str]) -> int | None:
    if value in (None, ""):
        reasons.append("Amount Awarded is missing")
        return None
    if isinstance(value, bool):
        reasons.append("Amount Awarded must be a number")
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        reasons.append(f"Amount Awarded '{value}' is not a number")
        return None
    digits = minor_digits(currency or "GBP")
    minor = amount.scaleb(digits)
    if minor != minor.to_integral_value():
        reasons.append(
            f"Amount Awarded {value} has more decimal places than {currency} has ({digits})"
        )
        return None
    if not 0 < minor <= MAX_AMOUNT:
        reasons.append(
            f"Amount Awarded {value} must be more than nothing and at most {MAX_AMOUNT} minor units"
        )
        return None
    return int(minor)


def _candidate(row: int, item: dict[str, Any]) -> Candidate:
    reasons: list[str] = []
    currency = _text(item.get("currency"), "Currency", reasons, limit=40)
    if currency is not None and (
        len(currency) != 3 or not currency.isalpha() or not currency.isupper()
    ):
        reasons.append(f"Currency '{currency}' is not an ISO 4217 code such as GBP")
        currency = None
    planned = (item.get("plannedDates") or [{}])[0] or {}
    recipients = item.get("recipientOrganization") or []
    recipient = recipients[0] if recipients else {}
    if len(recipients) > 1:
        reasons.append(
            "a grant to several organisations cannot be imported; Trellis grants go to one partner"
        )
    name = _text(recipient.get("name"), "Recipient Org:Name", reasons, limit=300)
    candidate = Candidate(
        row=row,
        identifier=_text(item.get("id"), "Identifier", reasons, limit=255),
        title=_text(item.get("title"), "Title", reasons, limit=300),
        description=_text(
            item.get("description"), "Description", reasons, limit=10000, required=False
        ),
        currency=currency,
        amount=_amount(item.get("amountAwarded"), currency, reasons) if currency else None,
        award_date=_day(item.get("awardDate"), "Award Date", reasons),
        start=_day(planned.get("startDate"), "Planned Dates:Start Date", reasons),
        end=_day(planned.get("endDate"), "Planned Dates:End Date", reasons),
        recipient={
            k: v
            for k, v in {
                "name": name,
                "org_id": str(recipient.get("id") or "").strip() or None,
                "charity_number": str(recipient.get("charityNumber") or "").strip() or None,
                "company_number": str(recipient.get("companyNumber") or "").strip() or None,
            }.items()
            if v
        },
        funding_orgs=[str(o.get("id") or "") for o in item.get("fundingOrganization") or []],
        reasons=reasons,
    )
    if candidate.start and candidate.end and candidate.end < candidate.start:
        reasons.append("Planned Dates:End Date is before its Start Date")
    return candidate


def _from_json(body: bytes) -> list[Candidate]:
    try:
        package = json.loads(body, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(
            'The file is not valid JSON; send a 360Giving package ({"grants": [...]}) or its CSV.',
            slug="bad-import-file",
        ) from exc
    grants = package.get("grants") if isinstance(package, dict) else None
    if not isinstance(grants, list):
        raise BadRequest(
            "A 360Giving JSON package is an object with a 'grants' list.", slug="bad-import-file"
        )
    return [
        _candidate(number, item)
        if isinstance(item, dict)
        else Candidate(row=number, reasons=["not a grant object"])
        for number, item in enumerate(grants, start=1)
    ]


def _cell(value: str | None) -> str:
    """A CSV cell as written, with a formula-guarding apostrophe taken off again."""
    text = (value or "").strip()
    return text[1:] if text.startswith("'") and text[1:].startswith(FORMULA_STARTS) else text


def _from_csv(body: bytes) -> list[Candidate]:
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadRequest(
            "The file is not UTF-8 text; save it as CSV UTF-8.", slug="bad-import-file"
        ) from exc
    reader = csv.DictReader(io.StringIO(text))
    header = set(reader.fieldnames or [])
    needed = {
        "Identifier",
        "Title",
        "Currency",
        "Amount Awarded",
        "Award Date",
        "Recipient Org:Name",
    }
    missing = sorted(needed - header)
    if missing:
        raise BadRequest(
            f"The CSV has no {', '.join(missing)} column{'s' if len(missing) > 1 else ''}; it must "
            "use the 360Giving column titles (as Trellis's own 360Giving CSV does).",
            slug="bad-import-file",
            errors={"header": [f"missing {m}" for m in missing]},
        )
    candidates = []
    for number, raw in enumerate(reader, start=2):
        row = {k: _cell(v) for k, v in raw.items() if k}
        funders = [
            v
            for k, v in row.items()
            if k.startswith("Funding Org:") and k.endswith("Identifier") and v
        ]
        item = {
            "id": row.get("Identifier"),
            "title": row.get("Title"),
            "description": row.get("Description"),
            "currency": row.get("Currency"),
            "amountAwarded": row.get("Amount Awarded"),
            "awardDate": row.get("Award Date"),
            "plannedDates": [
                {
                    "startDate": row.get("Planned Dates:Start Date"),
                    "endDate": row.get("Planned Dates:End Date"),
                }
            ],
            "recipientOrganization": [
                {
                    "id": row.get("Recipient Org:Identifier"),
                    "name": row.get("Recipient Org:Name"),
                    "charityNumber": row.get("Recipient Org:Charity Number"),
                    "companyNumber": row.get("Recipient Org:Company Number"),
                }
            ],
            "fundingOrganization": [{"id": f} for f in funders],
        }
        candidates.append(_candidate(number, item))
    return candidates


def read(body: bytes, content_type: str) -> list[Candidate]:
    """The grants of a 360Giving file: JSON (``application/json``) or CSV (``text/csv``)."""
    kind = content_type.split(";")[0].strip().lower()
    if kind in {"application/json", "application/vnd.360giving+json"}:
        return _from_json(body)
    if kind in {"text/csv", "application/csv"}:
        return _from_csv(body)
    raise BadRequest(
        "Send the 360Giving file as the body with Content-Type application/json (a package) "
        "or text/csv.",
        slug="bad-import-file",
    )
