"""The 360Giving Data Standard shapes of a grant: JSON package items and CSV rows (pure)."""

import csv
import io
from datetime import date
from typing import Any

import orjson

from services.common.csvsafe import FORMULA_STARTS, csv_bytes, neutralise
from services.common.money import minor_digits
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


def date_time(day: date | str) -> str:
    """A date (or its ISO text) as the start of that day in UTC.

    The standard's date fields are ``oneOf`` a date-time *format* and a
    ``YYYY-MM-DD`` pattern. A validator that does not assert formats (the
    default) counts a plain date as matching both branches, so ``oneOf`` fails;
    a full date-time matches exactly one branch under any validator.
    """
    return f"{day}T00:00:00Z"


def encoded(value: Any) -> orjson.Fragment:
    """``value`` serialised once, to be written as it is into every item that holds it.

    Copied to a bytes object of its own size: ``orjson.dumps`` returns a small result in
    its whole ~4 KiB output buffer, and thousands of them are kept (``Shapes``' caches)."""
    return orjson.Fragment(bytes(memoryview(orjson.dumps(value))))


class Shapes:
    """What repeats from grant to grant in one export (planned terms, currencies' digits),
    shaped once and reused: most grants share their terms with others. Bounded: each cache
    is emptied when it passes ``limit`` entries, so memory stays flat.

    Rows are ``ExportRow``s: every field already the text the export writes."""

    def __init__(self, limit: int = 5000) -> None:
        self.limit = limit
        self._planned: dict[tuple[str, str], orjson.Fragment] = {}
        self._terms: dict[tuple[str, str], tuple[str, str, str]] = {}
        self._digits: dict[str, int] = {}

    def amount(self, amount: str, currency: str) -> str:
        """``major_units_text`` of an amount's decimal text."""
        digits = self._digits.get(currency)
        if digits is None:
            digits = self._digits[currency] = minor_digits(currency)
        if digits == 0:
            return amount
        if len(amount) > digits and amount[0] != "-":
            # Canonical digits (no leading zeros) of at least one whole unit: split the text.
            return f"{amount[:-digits]}.{amount[-digits:]}"
        whole, fraction = divmod(abs(value := int(amount)), 10**digits)
        return f"{'-' if value < 0 else ''}{whole}.{fraction:0{digits}d}"

    def planned(self, start: str, end: str) -> orjson.Fragment:
        """A grant's ``plannedDates``: start, end and duration in months."""
        found = self._planned.get((start, end))
        if found is None:
            if len(self._planned) > self.limit:
                self._planned.clear()
            found = self._planned[(start, end)] = encoded(
                [
                    {
                        "startDate": date_time(start),
                        "endDate": date_time(end),
                        "duration": term_months(date.fromisoformat(start), date.fromisoformat(end)),
                    }
                ]
            )
        return found

    def item(self, row: Any, recipient: orjson.Fragment, funders: Any) -> dict[str, Any]:
        """A grant's package item with its recipient (``encoded([org])``) and funding
        organisations; ``grant_item`` adds a pooled grant's programme and share."""
        return {
            "id": row.grant_360_id,
            "title": row.title,
            "description": row.description,
            "currency": row.currency,
            "amountAwarded": orjson.Fragment(
                self.amount(row.amount_awarded, row.currency).encode()
            ),
            "awardDate": row.approved_on + "T00:00:00Z",
            "plannedDates": self.planned(row.planned_start_date, row.planned_end_date),
            "recipientOrganization": recipient,
            "fundingOrganization": funders,
            "dateModified": row.updated_at,
        }

    def term(self, start: str, end: str) -> tuple[str, str, str]:
        """A grant's planned start, end and duration as CSV cells."""
        found = self._terms.get((start, end))
        if found is None:
            if len(self._terms) > self.limit:
                self._terms.clear()
            months = term_months(date.fromisoformat(start), date.fromisoformat(end))
            found = self._terms[(start, end)] = (start, end, str(months))
        return found


def grant_item(
    row: Any,
    *,
    recipient: dict[str, str] | orjson.Fragment,
    funders: list[dict[str, str]] | orjson.Fragment,
    programme: dict[str, str] | None = None,
    share: int | None = None,
    shapes: Shapes | None = None,
) -> dict[str, Any]:
    """One grant of a 360Giving package. ``amountAwarded`` is in major units, exactly.

    A pooled grant lists every member funder as a funding organisation, names the pool
    as its grant programme, and carries the publishing member's share (``SHARE_FIELD``).
    ``recipient`` and ``funders`` may come serialised already (``encoded``): a partner's
    many grants name it the same way.
    """
    shapes = shapes or Shapes()
    if not isinstance(recipient, orjson.Fragment):
        recipient = encoded([recipient])
    item = shapes.item(row, recipient, funders)
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
    recipient: dict[str, str] | tuple[str, ...],
    funders: list[dict[str, str]] | tuple[str, ...],
    funding_orgs: int = 1,
    programme: dict[str, str] | None = None,
    share: int | None = None,
    shapes: Shapes | None = None,
) -> list[str]:
    """One grant as a CSV row for a header of ``csv_columns(funding_orgs)``, its cells
    already neutralised (``csv_lines``). ``recipient`` and ``funders`` may come as their
    cells already (``recipient_cells``, ``funder_cells``)."""
    shapes = shapes or Shapes()
    if not isinstance(recipient, tuple):
        recipient = recipient_cells(recipient)
    if funding_orgs > 1:
        cells = list(funder_cells(funders)) if not isinstance(funders, tuple) else list(funders)
        cells += [""] * (2 * funding_orgs - len(cells))
        row_cells = csv_cells(row, recipient, cells, shapes)
        return [
            *row_cells,
            neutralise((programme or {}).get("code", "")),
            neutralise((programme or {}).get("title", "")),
            major_units_text(share, row.currency) if share is not None else "",
        ]
    if not isinstance(funders, tuple):
        funders = funder_cells(funders[:1] or [{"id": "", "name": ""}])
    return csv_cells(row, recipient, funders, shapes)


def recipient_cells(recipient: dict[str, str]) -> tuple[str, ...]:
    """A recipient's CSV cells (identifier, name, charity and company numbers), neutralised."""
    return tuple(
        neutralise(recipient.get(key, ""))
        for key in ("id", "name", "charityNumber", "companyNumber")
    )


def funder_cells(funders: list[dict[str, str]]) -> tuple[str, ...]:
    """Funding organisations' CSV cells (identifier, name of each), neutralised."""
    return tuple(neutralise(f[key]) for f in funders for key in ("id", "name"))


def csv_cells(row: Any, recipient: tuple[str, ...], funder_cells: Any, shapes: Shapes) -> list[str]:
    """A grant's CSV cells with its recipient's and funders' cells given (``recipient_cells``,
    ``funder_cells``): ``csv_row`` for a header of one funding organisation."""
    risky = FORMULA_STARTS  # most cells are not: neutralise only those that start so
    return [
        neutralise(c) if (c := row.grant_360_id).startswith(risky) else c,
        neutralise(c) if (c := row.title).startswith(risky) else c,
        neutralise(c) if (c := row.description).startswith(risky) else c,
        neutralise(c) if (c := row.currency).startswith(risky) else c,
        shapes.amount(row.amount_awarded, row.currency),
        row.approved_on,
        *shapes.term(row.planned_start_date, row.planned_end_date),
        *recipient,
        *funder_cells,
        row.updated_at,
    ]


def csv_lines(rows: list[list[str]]) -> bytes:
    """Rows of neutralised cells (``csv_row``) as RFC 4180 CSV: the bytes ``csv_bytes``
    writes for the same cells, without neutralising again what already is."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue().encode()


def csv_rows(rows: list[list[str]]) -> bytes:
    """Rows of CSV, with cells a spreadsheet would run as formulas neutralised."""
    return csv_bytes(rows)
