"""The rules of responses: one per invited partner per round, named or anonymous.

A named answer is given signed in, and kept with its partner.

An anonymous answer is cast *without a token*, with a ballot the partner took earlier
(``ballots/``: an RFC 9474 blind signature, so the service cannot tell whose ballot it
is). Anonymity by construction:

- the request that casts it carries no identity, and writes nothing but the round's
  anonymous tables: no invitation, no audit entry, no event, no idempotency record,
  no call to the partners service, no log line of its own;
- the answer and its ratings carry no partner, no time, a random id, and the SHA-256
  of the ballot's message (refusing a second use, and letting the ballot's holder read
  or change the answer);
- the round's anonymous answers are rewritten together on every write, in ballot-hash
  order, so row order and writing transaction say nothing of when each arrived.

Anonymous answers given before ballots existed keep working with their receipt.
"""

import hashlib
import secrets
import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from services.common import audit
from services.common.auth import Caller
from services.common.db import utcnow
from services.common.errors import Conflict, Forbidden, NotFound, Unprocessable
from services.common.http import ServiceClient
from services.common.lists import ListQuery, Page
from services.feedback import directory
from services.feedback.ballots import service as ballots
from services.feedback.ballots.schemas import BALLOT_HEADER
from services.feedback.models import Response, Round, RoundInvitation
from services.feedback.responses import repository
from services.feedback.responses.schemas import RatingIn
from services.feedback.rounds import repository as rounds_repo
from services.feedback.rounds import service as rounds

RATING_FIELDS = ("commitment_id", "commitment_version_id", "score", "comment")


def hash_receipt(receipt: str) -> str:
    """Receipts (of anonymous answers given before ballots) are 256-bit random secrets: a
    plain SHA-256 digest is a safe store."""
    return hashlib.sha256(receipt.encode()).hexdigest()


def rating_out(
    commitment_id: Any, version_id: Any, score: int | None, comment: str | None
) -> dict[str, Any]:
    return {
        "commitment_id": commitment_id,
        "commitment_version_id": version_id,
        "rating": "dont_know" if score is None else score,
        "comment": comment,
    }


async def _invited_round(
    session: AsyncSession, caller: Caller, round_id: uuid.UUID, *, for_write: bool = False
) -> tuple[Round, RoundInvitation]:
    assert caller.own_partner_id is not None
    round_ = await (rounds_repo.lock if for_write else rounds_repo.get_any)(session, round_id)
    invitation = (
        await rounds_repo.invitation(session, round_id=round_id, partner_id=caller.own_partner_id)
        if round_ is not None
        else None
    )
    if round_ is None or invitation is None:
        raise NotFound("There is no feedback round with this id that you were invited to.")
    return round_, invitation


def _check_open(round_: Round) -> None:
    if not rounds.accepting_answers(round_):
        raise Conflict(
            f"The round closed on {round_.closes_on.isoformat()}; answers can no longer be "
            "given or changed."
            if round_.status in {"open", "closed", "published"}
            else "The round is not open for answers."
        )


async def _ratings(
    session: AsyncSession, round_: Round, given: list[RatingIn]
) -> list[dict[str, Any]]:
    """Check that every commitment of the round is rated once; pin the version rated."""
    asked = {
        rc.commitment_id: (rc, version)
        for rc, version in (await rounds_repo.commitments_of(session, [round_.id]))[round_.id]
    }
    seen: set[uuid.UUID] = set()
    errors: dict[str, list[str]] = {}
    for i, rating in enumerate(given):
        if rating.commitment_id not in asked:
            errors[f"ratings.{i}.commitment_id"] = ["is not a commitment this round asks about"]
        elif rating.commitment_id in seen:
            errors[f"ratings.{i}.commitment_id"] = ["is rated twice"]
        seen.add(rating.commitment_id)
    missing = [version.title for cid, (_, version) in asked.items() if cid not in seen]
    if missing:
        errors["ratings"] = [
            "rate every commitment (1 to 5, or dont_know); missing: " + "; ".join(missing)
        ]
    if errors:
        raise Unprocessable(
            "The ratings do not match the round's commitments: rate each commitment once.",
            errors=errors,
        )
    return [
        {
            "commitment_id": r.commitment_id,
            "commitment_version_id": asked[r.commitment_id][1].id,
            "score": None if r.rating == "dont_know" else int(r.rating),
            "comment": r.comment or None,
        }
        for r in given
    ]


def _order(
    round_positions: dict[uuid.UUID, int], ratings: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    return sorted(ratings, key=lambda r: round_positions.get(r["commitment_id"], 0))


async def _positions(session: AsyncSession, round_id: uuid.UUID) -> dict[uuid.UUID, int]:
    pairs = (await rounds_repo.commitments_of(session, [round_id]))[round_id]
    return {rc.commitment_id: rc.position for rc, _ in pairs}


def _named_out(response: Response, ratings: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": response.id,
        "round_id": response.round_id,
        "anonymous": False,
        "partner_id": response.partner_id,
        "partner_name": response.partner_name,
        "comment": response.comment,
        "ratings": [
            rating_out(r["commitment_id"], r["commitment_version_id"], r["score"], r["comment"])
            for r in ratings
        ],
        "submitted_at": response.submitted_at,
        "changed_at": response.changed_at,
    }


def _anonymous_out(
    round_id: uuid.UUID, comment: str | None, ratings: list[dict[str, Any]], receipt: str | None
) -> dict[str, Any]:
    return {
        "round_id": round_id,
        "anonymous": True,
        "comment": comment,
        "ratings": [
            rating_out(r["commitment_id"], r["commitment_version_id"], r["score"], r["comment"])
            for r in ratings
        ],
        "receipt": receipt,
    }


async def submit(
    *,
    session: AsyncSession,
    caller: Caller,
    partners: ServiceClient,
    round_id: uuid.UUID,
    anonymous: bool,
    ratings: list[RatingIn],
    comment: str | None,
) -> dict[str, Any]:
    """Answer a round by name, once."""
    if anonymous:
        raise Unprocessable(
            "An anonymous answer is not given signed in: take your ballot with "
            f"POST /api/v1/rounds/{round_id}/ballots, then cast your answer without a token "
            f"at POST /api/v1/rounds/{round_id}/anonymous-responses (the trellis_ballot "
            "package does both). Nothing then links the answer to you.",
            errors={"anonymous": ["is answered with a ballot, not here"]},
        )
    round_, invitation = await _invited_round(session, caller, round_id, for_write=True)
    _check_open(round_)
    if invitation.answered:
        raise Conflict(
            "You have answered this round already, or taken your anonymous ballot. Change a "
            f"named answer with PUT /api/v1/rounds/{round_id}/responses/mine; cast or change "
            f"an anonymous one at /api/v1/rounds/{round_id}/anonymous-responses with your "
            "ballot."
        )
    rows = await _ratings(session, round_, ratings)
    positions = await _positions(session, round_id)
    comment = comment or None
    invitation.answered = True
    await session.flush()
    audit.record(session, caller=caller, action="answer", entity_type="round", entity_id=round_id)
    assert caller.own_partner_id is not None
    partner = await directory.relationship(partners, round_.funder_id, caller.own_partner_id)
    now = utcnow()
    response = Response(
        round_id=round_id,
        partner_id=caller.own_partner_id,
        partner_name=partner["name"] if partner else None,
        comment=comment,
        submitted_at=now,
        changed_at=now,
    )
    session.add(response)
    await session.flush()
    await repository.replace_ratings(session, response, rows)
    audit.record(
        session,
        caller=caller,
        action="create",
        entity_type="response",
        entity_id=response.id,
        changes={"round_id": round_id, "comment": comment, "ratings": rows},
    )
    return _named_out(response, _order(positions, rows))


async def mine(*, session: AsyncSession, caller: Caller, round_id: uuid.UUID) -> dict[str, Any]:
    """The caller's named response to a round."""
    assert caller.own_partner_id is not None
    await _invited_round(session, caller, round_id)
    response = await repository.named_of_partner(
        session, round_id=round_id, partner_id=caller.own_partner_id
    )
    if response is None:
        raise NotFound(
            "You have no named response to this round. If you answered anonymously, read it "
            f"at /api/v1/rounds/{round_id}/responses/anonymous with your receipt."
        )
    return await _named_with_ratings(session, response)


async def _named_with_ratings(session: AsyncSession, response: Response) -> dict[str, Any]:
    ratings = (await repository.ratings_of(session, [response.id]))[response.id]
    positions = await _positions(session, response.round_id)
    rows = [{f: getattr(r, f) for f in RATING_FIELDS} for r in ratings]
    return _named_out(response, _order(positions, rows))


async def change_mine(
    *,
    session: AsyncSession,
    caller: Caller,
    round_id: uuid.UUID,
    ratings: list[RatingIn],
    comment: str | None,
) -> dict[str, Any]:
    """Change a named response while the round is open."""
    assert caller.own_partner_id is not None
    round_, _ = await _invited_round(session, caller, round_id)
    response = await repository.named_of_partner(
        session, round_id=round_id, partner_id=caller.own_partner_id
    )
    if response is None:
        raise NotFound(
            "You have no named response to this round. An anonymous answer is changed at "
            f"/api/v1/rounds/{round_id}/responses/anonymous with your receipt."
        )
    _check_open(round_)
    rows = await _ratings(session, round_, ratings)
    response.comment = comment or None
    response.changed_at = utcnow()
    await session.flush()
    await repository.replace_ratings(session, response, rows)
    audit.record(
        session,
        caller=caller,
        action="update",
        entity_type="response",
        entity_id=response.id,
        changes={"comment": response.comment, "ratings": rows},
    )
    positions = await _positions(session, round_id)
    return _named_out(response, _order(positions, rows))


async def _anonymous_round(
    session: AsyncSession, round_id: uuid.UUID, *, for_write: bool = False
) -> Round:
    round_ = await (rounds_repo.lock if for_write else rounds_repo.get_any)(session, round_id)
    if round_ is None or round_.status == "draft":
        raise NotFound("There is no open feedback round with this id.")
    return round_


async def _key(
    session: AsyncSession, round_: Round, ballot: str | None, receipt: str | None
) -> str:
    """The hash an anonymous answer is kept under: of a ballot's message, or of a receipt
    given before ballots existed."""
    if ballot or not receipt:
        return await ballots.ballot_hash(session=session, round_=round_, ballot=ballot)
    return hash_receipt(receipt)


async def _find(
    session: AsyncSession, round_id: uuid.UUID, digest: str
) -> tuple[list[repository.AnonymousAnswer], repository.AnonymousAnswer | None]:
    answers = await repository.anonymous_of_round(session, round_id)
    for answer in answers:
        if secrets.compare_digest(answer.ballot_hash, digest):
            return answers, answer
    return answers, None


async def cast(
    *,
    session: AsyncSession,
    round_id: uuid.UUID,
    ballot: str | None,
    ratings: list[RatingIn],
    comment: str | None,
) -> dict[str, Any]:
    """Cast an anonymous answer with a ballot signed for the round, once per ballot."""
    round_ = await _anonymous_round(session, round_id, for_write=True)
    digest = await ballots.ballot_hash(session=session, round_=round_, ballot=ballot)
    _check_open(round_)
    answers, found = await _find(session, round_id, digest)
    if found is not None:
        raise Conflict(
            "This ballot has been cast already. Change the answer with "
            f"PUT /api/v1/rounds/{round_id}/anonymous-responses/mine and the same ballot."
        )
    rows = await _ratings(session, round_, ratings)
    comment = comment or None
    answers.append(
        repository.AnonymousAnswer(
            id=uuid.uuid4(),
            ballot_hash=digest,
            comment=comment,
            ratings=[{"id": uuid.uuid4(), **r} for r in rows],
        )
    )
    await repository.rewrite_anonymous(session, round_id, answers)
    positions = await _positions(session, round_id)
    return _anonymous_out(round_id, comment, _order(positions, rows), None)


async def read_anonymous(
    *, session: AsyncSession, round_id: uuid.UUID, ballot: str | None, receipt: str | None
) -> dict[str, Any]:
    """An anonymous answer, for whoever holds its ballot (or receipt)."""
    round_ = await _anonymous_round(session, round_id)
    _, answer = await _find(session, round_id, await _key(session, round_, ballot, receipt))
    if answer is None:
        raise NotFound("No anonymous answer to this round was cast with this ballot or receipt.")
    positions = await _positions(session, round_id)
    return _anonymous_out(round_id, answer.comment, _order(positions, answer.ratings), None)


async def change_anonymous(
    *,
    session: AsyncSession,
    round_id: uuid.UUID,
    ballot: str | None,
    receipt: str | None,
    ratings: list[RatingIn],
    comment: str | None,
) -> dict[str, Any]:
    """Change an anonymous answer while the round is open, with its ballot (or receipt)."""
    round_ = await _anonymous_round(session, round_id, for_write=True)
    answers, answer = await _find(session, round_id, await _key(session, round_, ballot, receipt))
    if answer is None:
        raise NotFound("No anonymous answer to this round was cast with this ballot or receipt.")
    _check_open(round_)
    rows = await _ratings(session, round_, ratings)
    answer.comment = comment or None
    answer.ratings = [{"id": uuid.uuid4(), **r} for r in rows]
    await repository.rewrite_anonymous(session, round_id, answers)
    positions = await _positions(session, round_id)
    return _anonymous_out(round_id, answer.comment, _order(positions, rows), None)


async def forget_write_order(*, engine: AsyncEngine) -> None:
    """After an anonymous answer is written (and committed): on SQLite, empty the WAL."""
    await repository.empty_sqlite_wal(engine)


def refuse_identity(authorization: str | None) -> None:
    """An anonymous answer must come without a token: one would name its sender."""
    if authorization:
        raise Forbidden(
            "Send no Authorization header with an anonymous answer: a token would say who "
            f"you are. Your {BALLOT_HEADER} header is all that is needed."
        )


async def _staff_round_ids(caller: Caller) -> Any:
    assert caller.staff_funder_id is not None
    return rounds_repo.round_ids_of_funder(caller.staff_funder_id)


async def list_named(*, session: AsyncSession, caller: Caller, query: ListQuery) -> Page:
    """Named responses to your funder's rounds. Anonymous responses are never listed one by
    one: they are read only as results."""
    return await repository.list_named(session, query, round_ids=await _staff_round_ids(caller))


async def named_many(session: AsyncSession, responses: list[Response]) -> list[dict[str, Any]]:
    """Named responses with their ratings, in two queries whatever the page size."""
    ratings = await repository.ratings_of(session, [r.id for r in responses])
    round_ids = list({r.round_id for r in responses})
    asked = await rounds_repo.commitments_of(session, round_ids)
    positions = {
        (round_id, rc.commitment_id): rc.position
        for round_id, pairs in asked.items()
        for rc, _ in pairs
    }
    out = []
    for response in responses:
        rows = sorted(
            ({f: getattr(x, f) for f in RATING_FIELDS} for x in ratings[response.id]),
            key=lambda r: positions.get((response.round_id, r["commitment_id"]), 0),
        )
        out.append(_named_out(response, rows))
    return out


async def get_named(
    *, session: AsyncSession, caller: Caller, response_id: uuid.UUID
) -> dict[str, Any]:
    response = await repository.named(
        session, response_id, round_ids=await _staff_round_ids(caller)
    )
    if response is None:
        raise NotFound("There is no named response with this id.")
    return await _named_with_ratings(session, response)
