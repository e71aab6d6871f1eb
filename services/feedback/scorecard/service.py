"""The rules of the scorecard: a funder's k and its public, page-ready account."""

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.common import audit
from services.common.auth import Caller
from services.common.concurrency import check_if_match
from services.common.db import utcnow
from services.common.errors import NotFound, Unprocessable
from services.common.http import ServiceClient
from services.feedback import directory
from services.feedback.actions import repository as actions_repo
from services.feedback.commitments import repository as commitments_repo
from services.feedback.commitments import service as commitments
from services.feedback.measures import service as measures
from services.feedback.models import DEFAULT_K, MIN_K, FeedbackSettings
from services.feedback.results import disclosure
from services.feedback.results import repository as results_repo
from services.feedback.results import service as results
from services.feedback.rounds import repository as rounds_repo
from services.feedback.scorecard import repository
from services.feedback.scorecard.schemas import SettingsUpdate

TREND_FIELDS = (
    "round_id",
    "round_title",
    "closes_on",
    "commitment_version",
    "k",
    "responses",
    "dont_know",
    "mean",
    "distribution",
    "withheld",
)


async def settings(*, session: AsyncSession, funder_id: uuid.UUID) -> FeedbackSettings:
    """The funder's settings (made with the defaults the first time they are asked for)."""
    found = await repository.settings_of(session, funder_id)
    if found is None:
        found = FeedbackSettings(
            funder_id=funder_id, k_threshold=DEFAULT_K, scorecard_published=False, version=1
        )
        session.add(found)
        await session.flush()
    return found


async def update_settings(
    *, session: AsyncSession, caller: Caller, data: SettingsUpdate, if_match: str | None
) -> FeedbackSettings:
    assert caller.staff_funder_id is not None
    found = await settings(session=session, funder_id=caller.staff_funder_id)
    check_if_match(if_match, found)
    changes = {k: v for k, v in data.changes().items() if v is not None}
    if "k_threshold" in changes and changes["k_threshold"] < MIN_K:
        raise Unprocessable(
            f"k cannot be below {MIN_K}: with fewer responses an answer could be picked out. "
            f"Use {MIN_K} or more ({DEFAULT_K} is the norm in the field).",
            errors={"k_threshold": [f"must be at least {MIN_K}"]},
        )
    for field, value in changes.items():
        setattr(found, field, value)
    if changes.get("scorecard_published") is True and found.scorecard_published_at is None:
        found.scorecard_published_at = utcnow()
    if changes.get("scorecard_published") is False:
        found.scorecard_published_at = None
    found.updated_at = utcnow()
    await session.flush()
    audit.record(
        session,
        caller=caller,
        action="update",
        entity_type="feedback_settings",
        entity_id=found.funder_id,
        changes=changes,
    )
    return found


def _action_out(action: Any) -> dict[str, Any]:
    return {
        "id": action.id,
        "title": action.title,
        "description": action.description,
        "round_id": action.round_id,
        "commitment_id": action.commitment_id,
        "status": action.status,
        "reason": action.reason,
        "due_on": action.due_on,
        "done_on": action.done_on,
        "published_at": action.published_at,
    }


async def build(
    session: AsyncSession, funder: dict[str, Any], found: FeedbackSettings | None
) -> dict[str, Any]:
    """The scorecard document of a funder: current commitments with their latest published
    result, trend, actions and measure; the published rounds; every published action."""
    funder_id = uuid.UUID(funder["id"])
    k = found.k_threshold if found is not None else DEFAULT_K
    current = await commitments.with_words(
        session, await commitments_repo.published_of_funder(session, funder_id)
    )
    published_rounds = await rounds_repo.published_of_funder(session, funder_id)
    records = await results.results_for_rounds(session, published_rounds, default_k=k)
    actions = [_action_out(a) for a in await actions_repo.published_of_funder(session, funder_id)]
    measured = {m["id"]: m for m in await measures.measures(session, funder_id)}
    ids = [r.id for r in published_rounds]
    invited = await rounds_repo.invited_counts(session, ids)
    responded = await results_repo.response_counts(session, ids)
    shaped = []
    for c in current:
        trend = [{f: r[f] for f in TREND_FIELDS} for r in records if r["commitment_id"] == c["id"]]
        shaped.append(
            {
                "id": c["id"],
                "title": c["title"],
                "description": c["description"],
                "position": c["position"],
                "version": c["current_version"],
                "measure": measured.get(c["measure"]) if c["measure"] else None,
                "latest": trend[-1] if trend else None,
                "trend": trend,
                "actions": [a for a in actions if a["commitment_id"] == c["id"]],
            }
        )
    return {
        "funder": {"id": funder["id"], "name": funder["name"], "slug": funder["slug"]},
        "published_at": found.scorecard_published_at if found is not None else None,
        "k": k,
        "commitments": shaped,
        "rounds": [
            {
                "id": r.id,
                "title": r.title,
                "opens_on": r.opens_on,
                "closes_on": r.closes_on,
                "published_at": r.published_at,
                "invited": invited.get(r.id, 0),
                "k": results.round_k(r, k),
                "responses": disclosure.round_count(
                    k=results.round_k(r, k),
                    named=responded.get(r.id, (0, 0))[0],
                    anonymous=responded.get(r.id, (0, 0))[1],
                ),
                "answer": r.answer,
            }
            for r in published_rounds
        ],
        "actions": actions,
        "measures": list(measured.values()),
    }


async def preview(
    *, session: AsyncSession, caller: Caller, partners: ServiceClient
) -> dict[str, Any]:
    """The scorecard as it reads (or would read) when published, for the funder's staff."""
    assert caller.staff_funder_id is not None
    funder = await directory.funder(partners, caller.staff_funder_id)
    if funder is None:
        raise NotFound("Your funder is not known to the partners service.")
    return await build(
        session, funder, await repository.settings_of(session, caller.staff_funder_id)
    )


async def public(*, session: AsyncSession, partners: ServiceClient, slug: str) -> dict[str, Any]:
    """The published scorecard of the funder with this slug."""
    funder = await directory.funder_by_slug(partners, slug)
    found = await repository.settings_of(session, uuid.UUID(funder["id"]))
    if found is None or not found.scorecard_published:
        raise NotFound(f"The funder '{slug}' has not published a feedback scorecard.")
    return await build(session, funder, found)
