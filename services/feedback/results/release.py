"""What a round's results release: figures computed in the database, with the round's own k
(fixed when it opened), and no figure that shows a group below k (``disclosure.py``); and
the release of a closed round, serialised once when it closes.

A closed round's answers cannot change, so the records of its results (kind "all", the k
rules already applied) are stored as JSON when it closes (``write``) and its results are
then one row read (``stored``). What is stored is what the results API shows anyway:
released figures, no answer, no partner, no time. Open rounds have no results to read
(staff watching figures move as answers arrive could subtract one answer).
"""

import uuid
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import orjson
from pydantic import TypeAdapter
from sqlalchemy.ext.asyncio import AsyncSession

from services.feedback.models import Round
from services.feedback.results import disclosure, repository
from services.feedback.results.schemas import Result
from services.feedback.rounds import repository as rounds_repo
from services.feedback.scorecard.repository import k_of

KINDS = ("all", "named", "anonymous")
CLOSED = ("closed", "published")
RESULT_NAMESPACE = uuid.UUID("0b0e7c58-6a63-4bb4-9e35-2c7d1f5f0a11")
TWO_PLACES = Decimal("0.01")


def mean_of(total: int, rated: int) -> Decimal:
    """The exact mean, rounded half up to 2 places."""
    return (Decimal(total) / Decimal(rated)).quantize(TWO_PLACES, rounding=ROUND_HALF_UP)


def round_k(round_: Round, default: int) -> int:
    """The k a round was opened with (a round not yet opened would take the funder's)."""
    return round_.k_threshold if round_.k_threshold is not None else default


def _combined(split: dict[str, dict[str, int]], kind: str) -> dict[str, int]:
    out = repository.empty_aggregate()
    for part in disclosure.PARTS[kind]:
        for key, value in split[part].items():
            out[key] += value
    return out


def figures(*, k: int, kind: str, split: dict[str, dict[str, int]]) -> dict[str, Any]:
    """Count, don't-know count, mean and distribution of ``kind``, each released only when
    its base, and the named and anonymous parts of it, pass ``disclosure.reasons``."""
    named, anonymous = split["named"], split["anonymous"]
    why = disclosure.reasons(k=k, kind=kind, named=named["n"], anonymous=anonymous["n"])
    if why:
        return {
            "responses": None,
            "dont_know": None,
            "mean": None,
            "distribution": None,
            "withheld": why,
        }
    agg = _combined(split, kind)
    out: dict[str, Any] = {
        "responses": agg["n"],
        "dont_know": agg["n"] - agg["rated"],
        "mean": None,
        "distribution": None,
        "withheld": [],
    }
    why = disclosure.reasons(
        k=k,
        kind=kind,
        named=named["rated"],
        anonymous=anonymous["rated"],
        what=disclosure.RATINGS,
    )
    if why:
        out["withheld"] = [w + " The mean and distribution are withheld." for w in why]
    else:
        out["mean"] = mean_of(agg["total"], agg["rated"])
        out["distribution"] = {str(i): agg[str(i)] for i in range(1, 6)}
    return out


async def results_for_rounds(
    session: AsyncSession,
    rounds_: list[Round],
    *,
    default_k: int,
    kind: str = "all",
    commitment_ids: list[uuid.UUID] | None = None,
) -> list[dict[str, Any]]:
    """Result records of ``rounds_`` (oldest first), in round then charter order."""
    ids = [r.id for r in rounds_]
    # A closed round's answers cannot change: its figures were summarised when it closed.
    closed = [r.id for r in rounds_ if r.status in CLOSED]
    live = [r.id for r in rounds_ if r.status not in CLOSED]
    aggs = await repository.summaries(session, closed, commitment_ids=commitment_ids)
    aggs |= await repository.aggregates(session, live, commitment_ids=commitment_ids)
    asked = await rounds_repo.commitments_of(session, ids)
    records = []
    for r in rounds_:
        k = round_k(r, default_k)
        for rc, version in asked.get(r.id, []):
            if commitment_ids is not None and rc.commitment_id not in commitment_ids:
                continue
            split = aggs.get(
                (r.id, rc.commitment_id),
                {"named": repository.empty_aggregate(), "anonymous": repository.empty_aggregate()},
            )
            records.append(
                {
                    "id": uuid.uuid5(RESULT_NAMESPACE, f"{r.id}:{rc.commitment_id}:{kind}"),
                    "round_id": r.id,
                    "round_title": r.title,
                    "closes_on": r.closes_on,
                    "opened_at": r.opened_at,
                    "commitment_id": rc.commitment_id,
                    "commitment_version_id": version.id,
                    "commitment_version": version.number,
                    "title": version.title,
                    "position": rc.position,
                    "kind": kind,
                    "k": k,
                    **figures(k=k, kind=kind, split=split),
                }
            )
    return records


#: The round's own fields of a result record: read with the round, not stored.
ROUND_FIELDS = ("round_title", "closes_on", "opened_at")
STORED = TypeAdapter(list[Result])


async def write(session: AsyncSession, round_: Round) -> None:
    """Summarise a round that has just closed (after its last answer) and store its release."""
    await repository.write_summaries(session, round_.id)
    records = await results_for_rounds(
        session, [round_], default_k=await k_of(session, round_.funder_id)
    )
    body = STORED.dump_json(
        [Result.model_validate(r) for r in records], exclude={"__all__": set(ROUND_FIELDS)}
    )
    await repository.write_release(session, round_.id, body.decode())


def released(round_: Any, body: str) -> list[Result]:
    """The records of a stored release, with the round's own fields as they are now."""
    own = {
        "round_title": round_.title,
        "closes_on": round_.closes_on,
        "opened_at": round_.opened_at,
    }
    return [Result.model_validate({**record, **own}) for record in orjson.loads(body)]
