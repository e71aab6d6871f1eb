"""``GET /api/v1/audit``: the audit trails of the three services as one list.

Each service answers the caller's own entries (its funder's, or its organisation's);
the gateway asks each for the first ``end + 1`` entries in the caller's order, merges
them and answers the caller's window with the list contract (``Content-Range`` totals
the three). Reading deeper than ``MAX_DEPTH`` asks the caller to narrow by filters or
time instead. A service that cannot answer makes the whole list a 503 naming it: an
audit trail with a part silently missing would mislead.

``GET /api/v1/audit/{id}`` asks the three services for the entry at once and answers
the one that has it (an entry lives in one service); 404 if none does, and a 503 naming
a service that could not answer while no other had it.
"""

import asyncio
from datetime import datetime
from typing import Any

from services.common.errors import BadRequest, Forbidden, NotFound, ServiceUnavailable
from services.common.listparams import json_param
from services.gateway.views.compose import Calls, Refused, Unavailable

SERVICES = ("partners", "funding", "feedback")
SORTABLE = ("occurred_at", "id")
MAX_DEPTH = 10_000
DEFAULT_WINDOW = (0, 24)
MAX_PAGE = 100


def _parse(raw: str | None, name: str, example: str) -> Any:
    return None if raw is None else json_param(name, raw, example)


def window(raw_sort: str | None, raw_range: str | None) -> tuple[str, bool, int, int]:
    """The sort field, whether descending, and the window the caller asked for."""
    field, direction = "occurred_at", "DESC"
    sort = _parse(raw_sort, "sort", '["occurred_at","DESC"]')
    if sort is not None:
        if not (
            isinstance(sort, list) and len(sort) == 2 and all(isinstance(v, str) for v in sort)
        ):
            raise BadRequest(
                'The \'sort\' parameter must be a JSON pair like ["occurred_at","DESC"].',
                slug="bad-list-parameter",
                errors={"sort": ["must be a pair of field and direction"]},
            )
        field, direction = sort
        if field not in SORTABLE or direction.upper() not in {"ASC", "DESC"}:
            raise BadRequest(
                f"audit is sorted by {' or '.join(SORTABLE)}, ASC or DESC.",
                slug="bad-list-parameter",
                errors={"sort": ["sort by occurred_at or id, ASC or DESC"]},
            )
    start, end = DEFAULT_WINDOW
    bounds = _parse(raw_range, "range", "[0,24]")
    if bounds is not None:
        if not (
            isinstance(bounds, list)
            and len(bounds) == 2
            and all(isinstance(v, int) and not isinstance(v, bool) for v in bounds)
            and 0 <= bounds[0] <= bounds[1]
        ):
            raise BadRequest(
                "The 'range' parameter must be a JSON pair of whole numbers [start,end] "
                "with 0 <= start <= end, like [0,24].",
                slug="bad-list-parameter",
                errors={"range": ["must be [start,end] with 0 <= start <= end"]},
            )
        start, end = bounds
    end = min(end, start + MAX_PAGE - 1)
    if end >= MAX_DEPTH:
        raise BadRequest(
            f"The merged audit trail reads its first {MAX_DEPTH:,} entries at most; narrow it "
            "with filters (occurred_at_lte, entity_type, actor, ...) to go further back.",
            slug="bad-list-parameter",
            errors={"range": [f"must end before {MAX_DEPTH}"]},
        )
    return field, direction.upper() == "DESC", start, end


def _key(field: str) -> Any:
    """How the services order entries: by the field, then by id (times compared as times)."""
    if field == "occurred_at":
        return lambda row: (
            datetime.fromisoformat(row["occurred_at"].replace("Z", "+00:00")),
            row["id"],
        )
    return lambda row: row["id"]


async def merged(
    calls: Calls, *, field: str, descending: bool, start: int, end: int, raw_filter: str | None
) -> tuple[list[dict[str, Any]], int]:
    """The caller's window of the merged trail and the total across the services."""
    params: dict[str, Any] = {
        "sort": [field, "DESC" if descending else "ASC"],
        "range": [0, end],
    }
    if raw_filter is not None:
        params["filter"] = raw_filter

    async def read(service: str) -> tuple[list[dict[str, Any]], int]:
        rows: list[dict[str, Any]] = []
        total = 0
        while len(rows) <= end:
            answer = await calls.get(service, "audit", **{**params, "range": [len(rows), end]})
            page = answer.body or []
            rows += page
            total = answer.total or len(rows)
            if not page or len(rows) >= total:
                break
        return rows, total

    try:
        parts = await asyncio.gather(*(read(s) for s in SERVICES))
    except Unavailable as exc:
        raise ServiceUnavailable(
            f"The audit trail is incomplete without the {exc.service} service ({exc.why}); "
            "try again shortly.",
            extra={"service": exc.service},
        ) from exc
    except Refused as exc:
        if exc.status == 400 and isinstance(exc.body, dict):
            raise BadRequest(
                exc.body.get("detail") or "The list parameters are not right.",
                slug="bad-list-parameter",
                errors=exc.body.get("errors"),
            ) from exc
        raise
    rows = sorted((row for part, _ in parts for row in part), key=_key(field), reverse=descending)
    return rows[start : end + 1], sum(total for _, total in parts)


async def one(calls: Calls, entry_id: str) -> dict[str, Any]:
    """The caller's audit entry ``entry_id``, from whichever service holds it."""
    answers = await asyncio.gather(
        *(calls.get(service, f"audit/{entry_id}") for service in SERVICES),
        return_exceptions=True,
    )
    down = None
    for answer in answers:
        if isinstance(answer, BaseException):
            if isinstance(answer, Unavailable):
                down = answer
            elif isinstance(answer, Refused) and answer.status == 403:
                raise Forbidden(
                    "The audit trail is read by a funder's staff or an organisation's people."
                )
            elif not isinstance(answer, Refused):
                raise answer
            continue
        return dict(answer.body)
    if down is not None:
        raise ServiceUnavailable(
            f"The {down.service} service could not be asked for this audit entry "
            f"({down.why}); try again shortly.",
            extra={"service": down.service},
        )
    raise NotFound("There is no audit entry with this id.")
