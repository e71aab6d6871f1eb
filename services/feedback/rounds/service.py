"""The rules of feedback rounds: draft, open (partners invited), closed, published."""

import uuid
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.common import audit, outbox
from services.common.auth import Caller
from services.common.concurrency import check_if_match
from services.common.db import utcnow
from services.common.errors import Conflict, NotFound, Unprocessable
from services.common.http import ServiceClient
from services.common.lists import ListQuery, Page
from services.feedback import directory
from services.feedback.ballots import keys as ballot_keys
from services.feedback.ballots import repository as ballots_repo
from services.feedback.commitments import repository as commitments_repo
from services.feedback.models import DEFAULT_K, Round, RoundCommitment, RoundInvitation
from services.feedback.results import disclosure
from services.feedback.results import release as results_release
from services.feedback.results import repository as results_repo
from services.feedback.rounds import audience, repository
from services.feedback.rounds.schemas import RoundCreate, RoundPublish, RoundUpdate
from services.feedback.scorecard.repository import k_of


def _check_dates(opens_on: date, closes_on: date) -> None:
    if closes_on < opens_on:
        raise Unprocessable(
            "A round must close on or after the day it opens; change closes_on or opens_on.",
            errors={"closes_on": ["is before opens_on"]},
        )


def accepting_answers(round_: Round, today: date | None = None) -> bool:
    """Whether partners can still answer or change their answers."""
    return round_.status == "open" and (today or date.today()) <= round_.closes_on


async def own(session: AsyncSession, caller: Caller, round_id: uuid.UUID) -> Round:
    """A round of the caller's funder (staff), or 404."""
    assert caller.staff_funder_id is not None
    found = await repository.get(session, round_id, funder_id=caller.staff_funder_id)
    if found is None:
        raise NotFound("There is no feedback round with this id.")
    return found


async def visible(session: AsyncSession, caller: Caller, round_id: uuid.UUID) -> Round:
    """Staff see their funder's rounds; a partner sees the rounds it was invited to."""
    if caller.has("funder_staff"):
        return await own(session, caller, round_id)
    assert caller.own_partner_id is not None
    found = await repository.get_any(session, round_id)
    if (
        found is None
        or (
            await repository.invitation(
                session, round_id=round_id, partner_id=caller.own_partner_id
            )
        )
        is None
    ):
        raise NotFound("There is no feedback round with this id.")
    return found


async def shape(session: AsyncSession, caller: Caller, rounds: list[Round]) -> list[dict[str, Any]]:
    """Rounds as the caller may see them."""
    ids = [r.id for r in rounds]
    commitments = await repository.commitments_of(session, ids)
    staff = caller.has("funder_staff")
    invited = await repository.invited_counts(session, ids) if staff else {}
    responses = await results_repo.response_counts(session, ids) if staff else {}
    keys = await ballots_repo.key_ids(session, ids)
    chosen = await repository.chosen_of(session, ids) if staff else {}
    answered = (
        await repository.answered_rounds(session, partner_id=caller.own_partner_id, round_ids=ids)
        if not staff and caller.own_partner_id is not None
        else set()
    )
    shaped = []
    for r in rounds:
        closed = r.status in {"closed", "published"}
        shaped.append(
            {
                "id": r.id,
                "funder_id": r.funder_id,
                "title": r.title,
                "description": r.description,
                "opens_on": r.opens_on,
                "closes_on": r.closes_on,
                "status": r.status,
                "opened_at": r.opened_at,
                "closed_at": r.closed_at,
                "published_at": r.published_at,
                "answer": r.answer if staff or r.status == "published" else None,
                "commitments": [
                    {
                        "commitment_id": rc.commitment_id,
                        "commitment_version_id": v.id,
                        "version": v.number,
                        "title": v.title,
                        "description": v.description,
                        "position": rc.position,
                    }
                    for rc, v in commitments.get(r.id, [])
                ],
                "audience": r.audience,
                "organisation_ids": chosen.get(r.id, [])
                if staff and r.audience == "chosen"
                else None,
                "pool_id": r.pool_id if staff else None,
                "origin": r.origin,
                "invited_count": invited.get(r.id, 0) if staff else None,
                "k_threshold": r.k_threshold,
                "ballot_key_id": keys.get(r.id),
                "response_count": (
                    disclosure.round_count(
                        k=r.k_threshold or DEFAULT_K,
                        named=responses.get(r.id, (0, 0))[0],
                        anonymous=responses.get(r.id, (0, 0))[1],
                    )
                    if staff and closed
                    else None
                ),
                "answered": (r.id in answered) if not staff else None,
                "created_at": r.created_at,
                "updated_at": r.updated_at,
                "version": r.version,
            }
        )
    return shaped


async def create(
    *,
    session: AsyncSession,
    caller: Caller,
    partners: ServiceClient,
    funding: ServiceClient,
    data: RoundCreate,
) -> Round:
    """A draft round, with whom it asks (its audience) checked now."""
    assert caller.staff_funder_id is not None
    _check_dates(data.opens_on, data.closes_on)
    await audience.check(
        partners=partners,
        funding=funding,
        funder_id=caller.staff_funder_id,
        audience=data.audience,
        organisation_ids=data.organisation_ids,
        pool_id=data.pool_id,
    )
    round_ = Round(
        funder_id=caller.staff_funder_id,
        status="draft",
        version=1,
        **data.model_dump(exclude={"organisation_ids"}),
    )
    session.add(round_)
    await session.flush()
    await repository.choose(session, round_.id, data.organisation_ids or [], replace=True)
    audit.record(
        session,
        caller=caller,
        action="create",
        entity_type="round",
        entity_id=round_.id,
        changes=data.model_dump(mode="json"),
    )
    return round_


async def list_(*, session: AsyncSession, caller: Caller, query: ListQuery) -> Page:
    if caller.has("funder_staff"):
        assert caller.staff_funder_id is not None
        return await repository.list_of_funder(session, query, funder_id=caller.staff_funder_id)
    assert caller.own_partner_id is not None
    return await repository.list_of_partner(session, query, partner_id=caller.own_partner_id)


async def _change_audience(
    *,
    session: AsyncSession,
    partners: ServiceClient,
    funding: ServiceClient,
    round_: Round,
    sent: dict[str, Any],
) -> dict[str, Any]:
    """Apply a change of whom a draft round asks; what changed."""
    if round_.status != "draft":
        raise Conflict("The round has opened already; whom it asks cannot change.")
    kind = sent.get("audience", round_.audience)
    chosen = (await repository.chosen_of(session, [round_.id])).get(round_.id) or None
    ids = sent["organisation_ids"] if "organisation_ids" in sent else chosen
    pool_id = sent["pool_id"] if "pool_id" in sent else round_.pool_id
    # Changing the kind drops what belonged to the old one, unless it was sent again.
    if kind != "chosen" and "organisation_ids" not in sent:
        ids = None
    if kind != "pool" and "pool_id" not in sent:
        pool_id = None
    await audience.check(
        partners=partners,
        funding=funding,
        funder_id=round_.funder_id,
        audience=kind,
        organisation_ids=ids,
        pool_id=pool_id,
    )
    round_.audience, round_.pool_id = kind, pool_id
    await repository.choose(session, round_.id, ids or [], replace=True)
    return {
        "audience": kind,
        "organisation_ids": [str(i) for i in ids or []],
        "pool_id": str(pool_id) if pool_id else None,
    }


async def update(
    *,
    session: AsyncSession,
    caller: Caller,
    partners: ServiceClient,
    funding: ServiceClient,
    round_id: uuid.UUID,
    data: RoundUpdate,
    if_match: str | None,
) -> Round:
    round_ = await own(session, caller, round_id)
    check_if_match(if_match, round_)
    sent = data.changes()
    whom = {k: sent.pop(k) for k in ("audience", "organisation_ids", "pool_id") if k in sent}
    changes = {k: v for k, v in sent.items() if v is not None or k in {"answer"}}
    chosen = (await repository.chosen_of(session, [round_.id])).get(round_.id)
    if whom and (  # a record echoed back whole (react-admin) changes nothing
        whom.get("audience", round_.audience) != round_.audience
        or whom.get("pool_id", round_.pool_id) != round_.pool_id
        or ("organisation_ids" in whom and set(whom["organisation_ids"] or []) != set(chosen or []))
    ):
        changes |= await _change_audience(
            session=session, partners=partners, funding=funding, round_=round_, sent=whom
        )
    if "opens_on" in changes and round_.status != "draft":
        raise Conflict("The round has opened already; its opening date cannot change.")
    if "closes_on" in changes and round_.status not in {"draft", "open"}:
        raise Conflict("The round has closed; its closing date cannot change.")
    _check_dates(
        changes.get("opens_on", round_.opens_on), changes.get("closes_on", round_.closes_on)
    )
    for field, value in changes.items():
        if field not in {"audience", "organisation_ids", "pool_id"}:
            setattr(round_, field, value)
    round_.updated_at = utcnow()
    await session.flush()
    audit.record(
        session,
        caller=caller,
        action="update",
        entity_type="round",
        entity_id=round_.id,
        changes=changes,
    )
    return round_


async def open_(
    *,
    session: AsyncSession,
    caller: Caller,
    partners: ServiceClient,
    funding: ServiceClient,
    round_id: uuid.UUID,
    if_match: str | None,
) -> Round:
    """Open a round: invite the organisations its audience names now that have claimed their
    own record and accepted the funder, and fix the versions of the commitments it asks
    about."""
    round_ = await own(session, caller, round_id)
    check_if_match(if_match, round_)
    if round_.status != "draft":
        raise Conflict(f"The round is {round_.status}; only a draft round can be opened.")
    commitments = await commitments_repo.published_of_funder(session, round_.funder_id)
    if not commitments:
        raise Conflict(
            "Your funder has no published commitments for partners to rate; publish one first."
        )
    named = await audience.candidates(
        session=session, partners=partners, funding=funding, round_=round_
    )
    invited = [p for p in named if directory.countable(p)]
    if not invited:
        raise Conflict(
            f"None of the {len(named)} organisation{'s' if len(named) != 1 else ''} this "
            "round asks has claimed its own record and accepted your funder, so none can be "
            "invited (only they count towards k): an organisation's own people claim it by "
            "accepting an invitation (POST /api/v1/invitations)."
        )
    current = await commitments_repo.current_versions(session, commitments)
    for position, commitment in enumerate(commitments):
        session.add(
            RoundCommitment(
                round_id=round_.id,
                commitment_id=commitment.id,
                commitment_version_id=current[commitment.id].id,
                position=position,
            )
        )
    for partner in invited:
        session.add(
            RoundInvitation(round_id=round_.id, partner_id=uuid.UUID(partner["id"]), answered=False)
        )
    round_.status = "open"
    round_.k_threshold = await k_of(session, round_.funder_id)
    round_.opened_at = utcnow()
    round_.updated_at = round_.opened_at
    await ballot_keys.create_key(session=session, round_id=round_.id)
    await session.flush()
    audit.record(
        session,
        caller=caller,
        action="open",
        entity_type="round",
        entity_id=round_.id,
        changes={
            "audience": round_.audience,
            "invited": len(invited),
            "not_invited_unclaimed": len(named) - len(invited),
            "commitments": len(commitments),
            "k_threshold": round_.k_threshold,
        },
    )
    # Who is invited, never who answers or when: partners' webhooks learn the round opened.
    outbox.emit(
        session,
        "round.opened",
        {
            "round_id": str(round_.id),
            "funder_id": str(round_.funder_id),
            "title": round_.title,
            "opens_on": round_.opens_on.isoformat(),
            "closes_on": round_.closes_on.isoformat(),
            "partner_ids": [str(p["id"]) for p in invited],
        },
    )
    return round_


async def close(
    *, session: AsyncSession, caller: Caller, round_id: uuid.UUID, if_match: str | None
) -> Round:
    """Close a round: no more answers or changes; results become available to staff."""
    round_ = await own(session, caller, round_id)
    check_if_match(if_match, round_)
    if round_.status != "open":
        raise Conflict(f"The round is {round_.status}; only an open round can be closed.")
    round_.status = "closed"
    round_.closed_at = utcnow()
    round_.updated_at = round_.closed_at
    await ballot_keys.erase_key(session=session, round_id=round_.id)
    await session.flush()
    await results_release.write(session, round_)
    audit.record(session, caller=caller, action="close", entity_type="round", entity_id=round_.id)
    # Only that it closed: partners are no longer reminded of it. Never who answered.
    outbox.emit(
        session,
        "round.closed",
        {"round_id": str(round_.id), "funder_id": str(round_.funder_id)},
    )
    return round_


async def publish(
    *,
    session: AsyncSession,
    caller: Caller,
    round_id: uuid.UUID,
    data: RoundPublish,
    if_match: str | None,
) -> Round:
    """Publish a closed round's results and the funder's answer to partners (and, on a
    published scorecard, to the public)."""
    round_ = await own(session, caller, round_id)
    check_if_match(if_match, round_)
    if round_.status != "closed":
        raise Conflict(
            f"The round is {round_.status}; close it before publishing its results."
            if round_.status in {"draft", "open"}
            else "The round is published already."
        )
    if data.answer is not None:
        round_.answer = data.answer
    round_.status = "published"
    round_.published_at = utcnow()
    round_.updated_at = round_.published_at
    await session.flush()
    audit.record(
        session,
        caller=caller,
        action="publish",
        entity_type="round",
        entity_id=round_.id,
        changes={"answer": data.answer} if data.answer is not None else {},
    )
    return round_
