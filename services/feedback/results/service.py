"""The rules of results: figures computed in the database, with the round's own k (fixed
when it opened), and no figure, filter, breakdown or difference of two releases that
shows a group below k (``disclosure.py``)."""

import uuid
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Caller
from services.common.errors import Conflict, NotFound
from services.common.http import ServiceClient
from services.common.lists import ListQuery, Page, filter_values, parse_uuid_list
from services.feedback import directory
from services.feedback.models import Round
from services.feedback.results import disclosure, repository
from services.feedback.rounds import repository as rounds_repo
from services.feedback.rounds import service as rounds
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


async def _visible_rounds(
    session: AsyncSession, caller: Caller, partners: ServiceClient
) -> tuple[list[Round], dict[uuid.UUID, int]]:
    """Staff: their funder's closed and published rounds. Partner: published rounds of its
    funders. With each funder's k."""
    if caller.has("funder_staff"):
        assert caller.staff_funder_id is not None
        funder_ids = [caller.staff_funder_id]
        statuses = ["closed", "published"]
    else:
        assert caller.own_partner_id is not None
        funder_ids = await directory.funder_ids_of_partner(partners, caller.own_partner_id)
        statuses = ["published"]
    found = await repository.rounds_for_results(session, funder_ids=funder_ids, statuses=statuses)
    ks = {f: await k_of(session, f) for f in funder_ids}
    return found, ks


async def list_(
    *, session: AsyncSession, caller: Caller, partners: ServiceClient, query: ListQuery
) -> Page:
    filters = query.filters
    kind = filter_values("kind", filters["kind"], KINDS)[0] if "kind" in filters else "all"
    rounds_, ks = await _visible_rounds(session, caller, partners)
    if "round_id" in filters:
        wanted = set(parse_uuid_list("round_id", filters["round_id"]))
        rounds_ = [r for r in rounds_ if r.id in wanted]
    commitment_ids = (
        parse_uuid_list("commitment_id", filters["commitment_id"])
        if "commitment_id" in filters
        else None
    )
    records: list[dict[str, Any]] = []
    for funder_id, k in ks.items():
        mine = [r for r in rounds_ if r.funder_id == funder_id]
        records += await results_for_rounds(
            session, mine, default_k=k, kind=kind, commitment_ids=commitment_ids
        )
    if "id" in filters:
        ids = set(parse_uuid_list("id", filters["id"]))
        records = [r for r in records if r["id"] in ids]
    records.sort(
        key=lambda r: (r[query.sort], r["opened_at"], r["position"]), reverse=query.descending
    )
    window = records[query.start : query.end + 1]
    return Page(window, len(records), query.start, None)


async def comments(*, session: AsyncSession, caller: Caller, round_id: uuid.UUID) -> dict[str, Any]:
    """A closed round's comments, for the funder's staff."""
    round_ = await rounds.own(session, caller, round_id)
    if round_.status not in {"closed", "published"}:
        raise Conflict("Comments can be read once the round has closed.")
    k = round_k(round_, await k_of(session, round_.funder_id))
    _, anon = (await repository.response_counts(session, [round_id])).get(round_id, (0, 0))
    named = await repository.comments(session, round_id, anonymous=False)
    withheld = disclosure.anonymous_comments_withheld(k=k, anonymous=anon)
    anonymous = (
        None
        if withheld
        else [
            {"commitment_id": c["commitment_id"], "comment": c["comment"]}
            for c in await repository.comments(session, round_id, anonymous=True)
        ]
    )
    return {
        "round_id": round_id,
        "k": k,
        "named": named,
        "anonymous": anonymous,
        "anonymous_withheld": withheld,
    }


async def round_results(
    *, session: AsyncSession, caller: Caller, partners: ServiceClient, round_id: uuid.UUID
) -> list[dict[str, Any]]:
    rounds_, ks = await _visible_rounds(session, caller, partners)
    round_ = next((r for r in rounds_ if r.id == round_id), None)
    if round_ is None:
        raise NotFound(
            "There are no results for this round: it does not exist, or it has not closed "
            "(staff) or been published (partners) yet."
        )
    return await results_for_rounds(session, [round_], default_k=ks[round_.funder_id])
