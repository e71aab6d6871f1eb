"""The rules of results: figures computed in the database, any figure based on fewer than
k responses withheld, and no filter or breakdown below k."""

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
from services.feedback.results import repository
from services.feedback.rounds import repository as rounds_repo
from services.feedback.rounds import service as rounds
from services.feedback.scorecard.repository import k_of

KINDS = ("all", "named", "anonymous")
RESULT_NAMESPACE = uuid.UUID("0b0e7c58-6a63-4bb4-9e35-2c7d1f5f0a11")
TWO_PLACES = Decimal("0.01")


def mean_of(total: int, rated: int) -> Decimal:
    """The exact mean, rounded half up to 2 places."""
    return (Decimal(total) / Decimal(rated)).quantize(TWO_PLACES, rounding=ROUND_HALF_UP)


def withheld_reasons(*, k: int, kind: str, responses: int, anonymous: int) -> list[str]:
    """Why a round's figures for ``kind`` cannot be shown (empty when they can).

    A group smaller than k is never shown. And when a round has some, but fewer than k,
    anonymous responses, no figure over all responses is shown: named answers can be
    read one by one, so subtracting them would reveal the anonymous few.
    """
    named = responses - anonymous
    size = {"all": responses, "named": named, "anonymous": anonymous}[kind]
    reasons = []
    if size < k:
        which = {"all": "", "named": "named ", "anonymous": "anonymous "}[kind]
        reasons.append(
            f"Fewer than {k} {which}responses: figures are withheld so no answer can be picked out."
        )
    if kind == "all" and 0 < anonymous < k:
        reasons.append(
            f"Fewer than {k} anonymous responses: with the named answers known, these figures "
            "would reveal them."
        )
    return reasons


def figures(*, k: int, reasons: list[str], agg: dict[str, int] | None) -> dict[str, Any]:
    """Count, don't-know count, mean and distribution, or nulls with the reasons."""
    if reasons or agg is None:
        return {
            "responses": None,
            "dont_know": None,
            "mean": None,
            "distribution": None,
            "withheld": reasons or [f"Fewer than {k} responses."],
        }
    out: dict[str, Any] = {
        "responses": agg["n"],
        "dont_know": agg["n"] - agg["rated"],
        "mean": None,
        "distribution": None,
        "withheld": [],
    }
    if agg["rated"] < k:
        out["withheld"] = [
            f'Fewer than {k} ratings other than "don\'t know": the mean and distribution are '
            "withheld."
        ]
    else:
        out["mean"] = mean_of(agg["total"], agg["rated"])
        out["distribution"] = {str(i): agg[str(i)] for i in range(1, 6)}
    return out


async def results_for_rounds(
    session: AsyncSession,
    rounds_: list[Round],
    *,
    k: int,
    kind: str = "all",
    commitment_ids: list[uuid.UUID] | None = None,
) -> list[dict[str, Any]]:
    """Result records of ``rounds_`` (oldest first), in round then charter order."""
    ids = [r.id for r in rounds_]
    counts = await repository.response_counts(session, ids)
    anonymous = None if kind == "all" else kind == "anonymous"
    aggs = await repository.aggregates(
        session, ids, commitment_ids=commitment_ids, anonymous=anonymous
    )
    asked = await rounds_repo.commitments_of(session, ids)
    records = []
    for r in rounds_:
        n, anon = counts.get(r.id, (0, 0))
        reasons = withheld_reasons(k=k, kind=kind, responses=n, anonymous=anon)
        for rc, version in asked.get(r.id, []):
            if commitment_ids is not None and rc.commitment_id not in commitment_ids:
                continue
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
                    **figures(k=k, reasons=reasons, agg=aggs.get((r.id, rc.commitment_id))),
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
            session, mine, k=k, kind=kind, commitment_ids=commitment_ids
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
    k = await k_of(session, round_.funder_id)
    n, anon = (await repository.response_counts(session, [round_id])).get(round_id, (0, 0))
    named = await repository.comments(session, round_id, anonymous=False)
    withheld = None
    anonymous = None
    if anon:
        if n < k or anon < k:
            withheld = (
                f"Comments from anonymous responses are released when the round has at least {k} "
                f"responses, at least {k} of them anonymous."
            )
        else:
            anonymous = [
                {"commitment_id": c["commitment_id"], "comment": c["comment"]}
                for c in await repository.comments(session, round_id, anonymous=True)
            ]
    return {
        "round_id": round_id,
        "k": k,
        "named": named,
        "anonymous": anonymous if anon else [],
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
    return await results_for_rounds(session, [round_], k=ks[round_.funder_id])
