"""Bringing a funder's history in: its past grants from a 360Giving file.

A dry run reads every grant, checks it, and asks the partners service (without
changing anything) whether each recipient would be a new partner, linked or already
the funder's, and reports it all. The import refuses the whole file if any grant is
refused. Otherwise it has the partners service make or link the recipients (idempotent),
then writes every grant in one transaction: all of them or none. Running it again
creates nothing new: a grant is known by its 360Giving id.

Imported grants keep their 360Giving id, amounts, dates and award date; one whose term
has ended is ``completed``, else ``active``. Their payments are not in a 360Giving file,
so they come without a schedule: set one with ``PUT /grants/{id}/schedule``.
"""

import uuid
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.common import audit, outbox
from services.common.auth import Caller
from services.common.errors import NotFound, ServiceUnavailable, Unprocessable
from services.common.http import ServiceClient
from services.funding.grants.models import Grant, GrantFundingOrganisation
from services.funding.grants.service import today
from services.funding.imports import parse, repository
from services.funding.imports.schemas import GrantImportCounts, GrantImportReport, ImportedGrant

IMPORTED_BY = "Imported from 360Giving"


def _check_ownership(
    candidate: parse.Candidate,
    *,
    prefix: str,
    org_ids: set[str],
    existing: dict[str, Grant],
    funder_id: uuid.UUID,
) -> str | None:
    """What is wrong with importing this grant as the funder's own, if anything."""
    identifier = candidate.identifier or ""
    if not identifier.startswith(prefix + "-"):
        return (
            f"its identifier {identifier} is not under your funder's 360Giving prefix {prefix}: "
            "a funder imports its own grants"
        )
    reference = identifier[len(prefix) + 1 :]
    if not reference or len(reference) > 100 or not set(reference) <= parse.REFERENCE_CHARS:
        return f"its identifier {identifier} has no usable reference after the prefix"
    foreign = [o for o in candidate.funding_orgs if o and o not in org_ids]
    if len(candidate.funding_orgs) > 1 or foreign:
        return (
            "it names another funding organisation; pooled grants are made through their pool, "
            "not imported"
        )
    other = existing.get(identifier)
    if other is not None and other.funder_id != funder_id:
        return f"the 360Giving id {identifier} belongs to another funder's grant here"
    return None


def _recipient(candidate: parse.Candidate, status: str) -> dict[str, Any]:
    recipient = dict(candidate.recipient)
    # An id Trellis minted for an unregistered group (360G-<prefix>-<id>) is not an org-id.
    if recipient.get("org_id", "").startswith("360G-"):
        recipient.pop("org_id")
    return {**recipient, "status": status}


async def import_360giving(
    *,
    session: AsyncSession,
    caller: Caller,
    partners: ServiceClient,
    body: bytes,
    content_type: str,
    dry_run: bool,
) -> GrantImportReport:
    """Check (and unless ``dry_run``, import) every grant of a 360Giving file."""
    assert caller.staff_funder_id is not None
    funder = await partners.get_json(f"/internal/funders/{caller.staff_funder_id}")
    if funder is None:
        raise NotFound("Your funder is not known to the partners service.")
    prefix: str = funder["prefix_360giving"]
    org_ids = {value for value in (funder.get("org_id"), prefix) if value}
    candidates = parse.read(body, content_type)
    existing = await repository.grants_by_360_id(
        session, [c.identifier for c in candidates if c.identifier]
    )
    report: list[ImportedGrant] = []
    seen: dict[str, int] = {}
    todo: list[tuple[ImportedGrant, parse.Candidate]] = []
    now = today()
    for candidate in candidates:
        reasons = list(candidate.reasons)
        if candidate.identifier and not reasons:
            problem = _check_ownership(
                candidate,
                prefix=prefix,
                org_ids=org_ids,
                existing=existing,
                funder_id=caller.staff_funder_id,
            )
            if problem:
                reasons.append(problem)
            elif candidate.identifier in seen:
                reasons.append(f"the same grant as row {seen[candidate.identifier]}")
        if candidate.identifier:
            seen.setdefault(candidate.identifier, candidate.row)
        line = ImportedGrant(
            row=candidate.row,
            identifier=candidate.identifier,
            title=candidate.title,
            recipient=candidate.recipient.get("name"),
            action="refuse" if reasons else "create",
            reasons=reasons,
        )
        if not reasons and candidate.identifier in existing:
            line.action, line.grant_id = "exists", existing[candidate.identifier].id
            line.partner_id = existing[candidate.identifier].partner_id
        report.append(line)
        if line.action == "create":
            todo.append((line, candidate))

    recipients = [_recipient(c, "ended" if c.end and c.end < now else "active") for _, c in todo]
    ensured = await _ensure(partners, caller, recipients, dry_run=True) if recipients else []
    for (line, _), outcome in zip(todo, ensured, strict=True):
        if outcome["action"] == "refuse":
            line.action = "refuse"
            line.reasons = [f"its recipient: {reason}" for reason in outcome["reasons"]]
        else:
            line.partner_action = outcome["action"]
            line.partner_id = outcome.get("partner_id")
    refused = [line for line in report if line.action == "refuse"]
    if dry_run:
        return _summary(report, dry_run=True)
    if refused:
        raise Unprocessable(
            f"{len(refused)} grant{'s are' if len(refused) > 1 else ' is'} refused, so nothing was "
            "imported; mend them (a dry run lists why) and import the file again.",
            errors={f"row {line.row}": line.reasons for line in refused},
            extra={"report": _summary(report, dry_run=False).model_dump(mode="json")},
        )
    todo = [(line, c) for line, c in todo if line.action == "create"]
    if todo:
        made = await _ensure(
            partners,
            caller,
            [_recipient(c, "ended" if c.end and c.end < now else "active") for _, c in todo],
            dry_run=False,
        )
        for (line, candidate), outcome in zip(todo, made, strict=True):
            partner_id = uuid.UUID(str(outcome["partner_id"]))
            line.partner_id = partner_id
            line.grant_id = _add_grant(
                session, caller, candidate, partner_id=partner_id, prefix=prefix, today_=now
            )
        await session.flush()
    return _summary(report, dry_run=False)


async def _ensure(
    partners: ServiceClient, caller: Caller, recipients: list[dict[str, Any]], *, dry_run: bool
) -> list[dict[str, Any]]:
    response = await partners.request(
        "POST",
        f"/internal/funders/{caller.staff_funder_id}/partners/ensure",
        json={"actor": caller.actor, "recipients": recipients},
        params={"dry_run": "true" if dry_run else "false"},
    )
    if response.status_code != 200:
        raise ServiceUnavailable(
            f"The partners service refused the recipients ({response.status_code}); nothing was imported.",
            extra={"service": "partners"},
        )
    return response.json()


def _add_grant(
    session: AsyncSession,
    caller: Caller,
    candidate: parse.Candidate,
    *,
    partner_id: uuid.UUID,
    prefix: str,
    today_: date,
) -> uuid.UUID:
    assert (
        caller.staff_funder_id and candidate.identifier and candidate.amount and candidate.currency
    )
    assert candidate.award_date and candidate.start and candidate.end and candidate.title
    ended = candidate.end < today_
    grant = Grant(
        id=uuid.uuid4(),
        funder_id=caller.staff_funder_id,
        partner_id=partner_id,
        title=candidate.title,
        description=candidate.description or candidate.title,
        amount_awarded=candidate.amount,
        currency=candidate.currency,
        planned_start_date=candidate.start,
        planned_end_date=candidate.end,
        payment_frequency="annual",
        reference=candidate.identifier[len(prefix) + 1 :],
        status="completed" if ended else "active",
        grant_360_id=candidate.identifier,
        approved_on=candidate.award_date,
        approved_by=IMPORTED_BY,
        decision_reference="360Giving import",
        original_amount=candidate.amount,
        original_start_date=candidate.start,
        original_end_date=candidate.end,
        activated_on=candidate.start,
        completed_on=candidate.end if ended else None,
        list_date=candidate.award_date,
        version=1,
    )
    session.add(grant)
    session.add(
        GrantFundingOrganisation(grant_id=grant.id, funder_id=caller.staff_funder_id, position=0)
    )
    audit.record(
        session,
        caller=caller,
        action="import",
        entity_type="grant",
        entity_id=grant.id,
        changes={"grant_360_id": grant.grant_360_id, "source": "360Giving", "row": candidate.row},
    )
    outbox.emit(
        session,
        "grant.approved",
        {
            "grant_id": str(grant.id),
            "funder_id": str(grant.funder_id),
            "funder_ids": [str(grant.funder_id)],
            "pool_id": None,
            "partner_id": str(partner_id),
            "title": grant.title,
            "amount_awarded": grant.amount_awarded,
            "currency": grant.currency,
            "approved_on": candidate.award_date.isoformat(),
            "grant_360_id": grant.grant_360_id,
        },
    )
    return grant.id


def _summary(lines: list[ImportedGrant], *, dry_run: bool) -> GrantImportReport:
    counts = GrantImportCounts()
    for line in lines:
        setattr(counts, line.action, getattr(counts, line.action) + 1)
    return GrantImportReport(dry_run=dry_run, grants=lines, counts=counts)
