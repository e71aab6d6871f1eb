"""The timeline's rules: entries kept in step with their records, grant events consumed once.

The relationship domains call ``record`` and ``remove`` in the same transaction
as their change. Funding's grant events arrive through the kit's ``/internal/events``
(idempotent by event id); each one is also keyed by the grant, variation or
instalment it is about, so the same fact told twice is one entry, and entries
are placed by the date the event is about, not when it arrived: a late or
out-of-order delivery lands in the right place.
"""

import logging
import uuid
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Caller
from services.common.events import Event
from services.common.lists import ListQuery, Page
from services.partners.access import check_partner, is_own, shares_with_caller
from services.partners.timeline import repository
from services.partners.timeline.models import TimelineEntry
from services.partners.timeline.schemas import (
    GrantApproved,
    GrantVaried,
    GrantWithdrawn,
    InstalmentPaid,
)

logger = logging.getLogger("trellis.partners.timeline")
SUMMARY_LENGTH = 280


def excerpt(text: str | None) -> str | None:
    """The first words of a text, for a timeline line."""
    if not text:
        return None
    text = " ".join(text.split())
    return text if len(text) <= SUMMARY_LENGTH else text[: SUMMARY_LENGTH - 1].rstrip() + "…"


async def record(
    session: AsyncSession,
    *,
    kind: str,
    source_id: uuid.UUID,
    partner_id: uuid.UUID,
    funder_id: uuid.UUID | None,
    occurred_at: datetime,
    title: str,
    summary: str | None = None,
    data: dict[str, Any] | None = None,
    visible_to_partner: bool = True,
    grant_id: uuid.UUID | None = None,
) -> TimelineEntry:
    """Add or refresh the entry for one record (idempotent by kind and source)."""
    values: dict[str, Any] = {
        "partner_id": partner_id,
        "funder_id": funder_id,
        "grant_id": grant_id,
        "occurred_at": occurred_at,
        "title": title[:300],
        "summary": excerpt(summary),
        "data": data or {},
        "visible_to_partner": visible_to_partner,
    }
    entry = await repository.claim_entry(session, kind=kind, source_id=source_id, values=values)
    for field, value in values.items():
        setattr(entry, field, value)
    await session.flush()
    return entry


async def remove(session: AsyncSession, *, kind: str, source_ids: list[uuid.UUID]) -> None:
    """Take the entries of deleted records out of the timeline."""
    await repository.delete_entries(session, kind=kind, source_ids=source_ids)


async def list_timeline(
    *, session: AsyncSession, caller: Caller, partner_id: uuid.UUID, query: ListQuery
) -> Page:
    await check_partner(session, caller, partner_id)
    if is_own(caller, partner_id):
        return await repository.entries_of_partner(
            session, query, partner_id=partner_id, funder_id=None
        )
    # Staff: what concerns their funder, and the partner's own documents once it shares.
    assert caller.staff_funder_id is not None
    return await repository.entries_of_partner(
        session,
        query,
        partner_id=partner_id,
        funder_id=caller.staff_funder_id,
        shared=await shares_with_caller(session, caller, partner_id),
    )


# Grant events from the funding service ------------------------------------------------------


def _on_day(day: date, sent: datetime) -> datetime:
    """When on ``day`` it happened: the sending moment if that was the same day, else midnight."""
    sent = sent.astimezone(UTC)
    return sent if sent.date() == day else datetime.combine(day, time.min, tzinfo=UTC)


def _money(amount: int | None, currency: str | None) -> str | None:
    if amount is None or not currency:
        return None
    return f"{Decimal(amount) / 100:,.2f} {currency}"


def _parse(model: type[BaseModel], event: Event) -> Any:
    try:
        return model.model_validate(event.data)
    except ValidationError as exc:
        # A malformed event would fail forever if retried: log it and let it be acknowledged.
        logger.warning(
            "ignored a malformed event",
            extra={"event_id": str(event.id), "event_type": event.type, "error": str(exc)[:500]},
        )
        return None


async def _grant_entry(
    session: AsyncSession,
    event: Event,
    payload: Any,
    *,
    kind: str,
    source_id: uuid.UUID,
    day: date,
    title: str,
    summary: str | None,
    funder_ids: set[uuid.UUID],
) -> None:
    await repository.add_grant_funders(
        session, grant_id=payload.grant_id, funder_ids={payload.funder_id, *funder_ids}
    )
    await record(
        session,
        kind=kind,
        source_id=source_id,
        partner_id=payload.partner_id,
        funder_id=payload.funder_id,
        grant_id=payload.grant_id,
        occurred_at=_on_day(day, event.occurred_at),
        title=title,
        summary=summary,
        data=payload.model_dump(mode="json"),
    )


async def on_grant_approved(*, session: AsyncSession, event: Event) -> None:
    """``grant.approved``: the grant enters the timeline; all its funders may see its events."""
    grant = _parse(GrantApproved, event)
    if grant is None:
        return
    await _grant_entry(
        session,
        event,
        grant,
        kind="grant.approved",
        source_id=grant.grant_id,
        day=grant.approved_on,
        title=f"Grant approved: {grant.title}" if grant.title else "Grant approved",
        summary=_money(grant.amount_awarded, grant.currency),
        funder_ids=set(grant.funder_ids),
    )


async def on_grant_varied(*, session: AsyncSession, event: Event) -> None:
    """``grant.varied``: an approved change to a grant."""
    variation = _parse(GrantVaried, event)
    if variation is None:
        return
    parts = [variation.kind.replace("_", " ")]
    money = _money(variation.amount_awarded, variation.currency)
    if money:
        parts.append(f"now {money}")
    if variation.planned_end_date:
        parts.append(f"ends {variation.planned_end_date.isoformat()}")
    await _grant_entry(
        session,
        event,
        variation,
        kind="grant.varied",
        source_id=variation.variation_id,
        day=variation.decided_on,
        title="Grant varied",
        summary=", ".join(parts),
        funder_ids=set(),
    )


async def on_instalment_paid(*, session: AsyncSession, event: Event) -> None:
    """``instalment.paid``: money reached the partner."""
    paid = _parse(InstalmentPaid, event)
    if paid is None:
        return
    await _grant_entry(
        session,
        event,
        paid,
        kind="instalment.paid",
        source_id=paid.instalment_id,
        day=paid.paid_on,
        title="Instalment paid",
        summary=_money(paid.amount, paid.currency),
        funder_ids=set(),
    )


async def on_grant_withdrawn(*, session: AsyncSession, event: Event) -> None:
    """``grant.withdrawn``: the grant will not go ahead."""
    withdrawn = _parse(GrantWithdrawn, event)
    if withdrawn is None:
        return
    await _grant_entry(
        session,
        event,
        withdrawn,
        kind="grant.withdrawn",
        source_id=withdrawn.grant_id,
        day=withdrawn.withdrawn_on,
        title="Grant withdrawn",
        summary=withdrawn.reason,
        funder_ids=set(),
    )


EVENT_HANDLERS = {
    "grant.approved": on_grant_approved,
    "grant.varied": on_grant_varied,
    "instalment.paid": on_instalment_paid,
    "grant.withdrawn": on_grant_withdrawn,
}
