"""Bringing partners in: a CSV of organisations, or the recipients of imported grants.

Every row is checked first; a dry run reports, row by row, what would be created,
linked, left as it is or refused and why. The import itself refuses the whole file if
any row is refused (nothing is half-written), and running it twice creates nothing new:
an organisation is known by its org-id, or, without one, by its exact name among the
funder's partners.
"""

import csv
import io
import uuid

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Caller
from services.common.errors import BadRequest, Unprocessable
from services.partners.imports import repository
from services.partners.imports.schemas import (
    Action,
    Ensured,
    ImportCounts,
    ImportReport,
    ImportRow,
    Recipient,
)
from services.partners.organisations import repository as organisations_repository
from services.partners.organisations import service as organisations_service
from services.partners.organisations.schemas import PartnerCreate
from services.partners.relationships import repository as relationships_repository

COLUMNS = tuple(PartnerCreate.model_fields)


def _rows(text: str) -> tuple[list[str], list[dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(text))
    header = [(name or "").strip().lower() for name in reader.fieldnames or []]
    if not header:
        raise BadRequest(
            f"The file has no header row. Name its columns: {', '.join(COLUMNS)}.",
            slug="bad-import-file",
        )
    unknown = [name for name in header if name not in COLUMNS]
    if unknown or "name" not in header:
        problems = []
        if unknown:
            problems.append(f"unknown column{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}")
        if "name" not in header:
            problems.append("no 'name' column")
        raise BadRequest(
            f"The file's header has {' and '.join(problems)}. Columns are: {', '.join(COLUMNS)}.",
            slug="bad-import-file",
            errors={"header": problems},
        )
    reader.fieldnames = header
    rows = [{k: (v or "").strip() for k, v in row.items() if k is not None} for row in reader]
    return header, rows


def decode(body: bytes) -> str:
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadRequest(
            "The file is not UTF-8 text; save it as CSV UTF-8.", slug="bad-import-file"
        ) from exc


def _reasons(error: ValidationError) -> list[str]:
    return [
        f"{'.'.join(str(p) for p in e['loc']) or 'row'}: {e['msg']}"
        for e in error.errors(include_url=False)
    ]


async def _plan(
    session: AsyncSession, *, funder_id: uuid.UUID, org_id: str | None, name: str
) -> tuple[Action, uuid.UUID | None]:
    """Where one organisation stands for this funder: exists, link or create."""
    if org_id:
        known = await organisations_repository.get_partner_by_org_id(session, org_id)
        if known is None:
            return "create", None
        if await relationships_repository.get_relationship(
            session, funder_id=funder_id, partner_id=known.id
        ):
            return "exists", known.id
        return "link", known.id
    same_name = await repository.partner_of_funder_named(session, funder_id=funder_id, name=name)
    return ("exists", same_name.id) if same_name is not None else ("create", None)


async def import_partners(
    *, session: AsyncSession, caller: Caller, body: bytes, dry_run: bool
) -> ImportReport:
    """A CSV of partners: checked row by row; imported whole or not at all."""
    assert caller.staff_funder_id is not None
    _, rows = _rows(decode(body))
    report: list[ImportRow] = []
    seen: dict[str, int] = {}
    parsed: list[PartnerCreate | None] = []
    for number, raw in enumerate(rows, start=2):
        values = {k: v for k, v in raw.items() if v != ""}
        try:
            data = PartnerCreate.model_validate(values, strict=False)
        except ValidationError as exc:
            report.append(
                ImportRow(
                    row=number,
                    name=raw.get("name") or None,
                    org_id=raw.get("org_id") or None,
                    action="refuse",
                    reasons=_reasons(exc),
                )
            )
            parsed.append(None)
            continue
        key = data.org_id or f"name:{data.name.casefold()}"
        if key in seen:
            report.append(
                ImportRow(
                    row=number,
                    name=data.name,
                    org_id=data.org_id,
                    action="refuse",
                    reasons=[f"the same organisation as row {seen[key]}"],
                )
            )
            parsed.append(None)
            continue
        seen[key] = number
        action, partner_id = await _plan(
            session, funder_id=caller.staff_funder_id, org_id=data.org_id, name=data.name
        )
        report.append(
            ImportRow(
                row=number, name=data.name, org_id=data.org_id, action=action, partner_id=partner_id
            )
        )
        parsed.append(data)
    refused = [r for r in report if r.action == "refuse"]
    if not dry_run:
        if refused:
            raise Unprocessable(
                f"{len(refused)} row{'s are' if len(refused) > 1 else ' is'} refused, so nothing "
                "was imported; mend them (a dry run lists why) and import the file again.",
                errors={f"row {r.row}": r.reasons for r in refused},
                extra={"report": _summary(report, dry_run=False).model_dump(mode="json")},
            )
        for line, data in zip(report, parsed, strict=True):
            if data is None or line.action == "exists":
                continue
            partner, _ = await organisations_service.create_partner(
                session=session, caller=caller, data=data
            )
            line.partner_id = partner.id
    return _summary(report, dry_run=dry_run)


def _summary(rows: list[ImportRow], *, dry_run: bool) -> ImportReport:
    counts = ImportCounts()
    for row in rows:
        setattr(counts, row.action, getattr(counts, row.action) + 1)
    return ImportReport(dry_run=dry_run, rows=rows, counts=counts)


async def ensure_recipients(
    *,
    session: AsyncSession,
    funder_id: uuid.UUID,
    actor: str,
    recipients: list[Recipient],
    dry_run: bool,
) -> list[Ensured]:
    """The funder's partners for recipients of imported grants, made or linked as needed.

    For the funding service (service callers only), on behalf of ``actor``, the funder's
    staff member who runs the import (the audit names them). Idempotent: what exists is used.
    """
    out: list[Ensured] = []
    made: dict[str, uuid.UUID] = {}
    acting = Caller(sub=actor, roles=frozenset({"funder_staff"}), funder_id=funder_id)
    for recipient in recipients:
        key = recipient.org_id or f"name:{recipient.name.casefold()}"
        if key in made:
            out.append(Ensured(action="exists", partner_id=made[key]))
            continue
        try:
            data = PartnerCreate.model_validate(
                {k: v for k, v in recipient.model_dump().items() if v is not None}
            )
        except ValidationError as exc:
            out.append(Ensured(action="refuse", partner_id=None, reasons=_reasons(exc)))
            continue
        action, partner_id = await _plan(
            session, funder_id=funder_id, org_id=data.org_id, name=data.name
        )
        if action in {"create", "link"} and not dry_run:
            partner, _ = await organisations_service.create_partner(
                session=session, caller=acting, data=data
            )
            partner_id = partner.id
        if partner_id is not None:
            made[key] = partner_id
        out.append(Ensured(action=action, partner_id=partner_id))
    return out
