"""The rules of results: who reads which round's figures (``release.py`` computes them,
with the round's own k, and no figure, filter, breakdown or difference of two releases that
shows a group below k: ``disclosure.py``)."""

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Caller
from services.common.errors import Conflict, NotFound
from services.common.http import ServiceClient
from services.common.lists import ListQuery, Page, filter_values, parse_uuid_list
from services.feedback import directory
from services.feedback.models import Round
from services.feedback.results import disclosure, release, repository
from services.feedback.results.release import CLOSED, KINDS, results_for_rounds, round_k
from services.feedback.results.release import RESULT_NAMESPACE as RESULT_NAMESPACE
from services.feedback.results.schemas import Result
from services.feedback.rounds import service as rounds
from services.feedback.scorecard.repository import k_of

__all__ = ["KINDS", "RESULT_NAMESPACE", "comments", "list_", "results_for_rounds", "round_k"]


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


async def _may_read(caller: Caller, partners: ServiceClient, round_: Any) -> bool:
    """Whether the caller reads this round's results: its funder's staff once it has
    closed, the funder's partners once it is published."""
    if caller.has("funder_staff"):
        return round_.funder_id == caller.staff_funder_id and round_.status in CLOSED
    assert caller.own_partner_id is not None
    return (
        round_.status == "published"
        and round_.funder_id
        in await directory.funder_ids_of_partner(partners, caller.own_partner_id)
    )


async def round_results(
    *, session: AsyncSession, caller: Caller, partners: ServiceClient, round_id: uuid.UUID
) -> list[Result]:
    """One round's results in charter order: a closed round's stored release (one row),
    or, for a round closed before releases were stored, its summaries."""
    found = await repository.release_of(session, round_id)
    if found is not None and await _may_read(caller, partners, found):
        return release.released(found, found.body)
    rounds_, ks = await _visible_rounds(session, caller, partners)
    round_ = next((r for r in rounds_ if r.id == round_id), None)
    if round_ is None:
        raise NotFound(
            "There are no results for this round: it does not exist, or it has not closed "
            "(staff) or been published (partners) yet."
        )
    records = await results_for_rounds(session, [round_], default_k=ks[round_.funder_id])
    return [Result.model_validate(r) for r in records]
