"""Takeout routes, served by the gateway itself: start, follow, download, delete."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from starlette.responses import FileResponse

from services.common.auth import Caller, StaffOrPartnerDep
from services.common.errors import Conflict, NotFound, ServiceUnavailable
from services.common.lists import ListQuery, list_query, page_of
from services.common.service_app import problem_responses
from services.gateway.takeout.jobs import Job, TakeoutStore, owner_of
from services.gateway.takeout.schemas import Takeout
from services.gateway.views.routes import calls_for

router = APIRouter(prefix="/api/v1/exports/takeout", tags=["takeout"])
NOT_FOUND = "There is no takeout with this id among yours."


def _out(job: Job) -> Takeout:
    url = f"/api/v1/exports/takeout/{job.id}/download" if job.status == "done" else None
    return Takeout(
        **{k: v for k, v in vars(job).items() if k not in {"owner", "boot"}}, download_url=url
    )


def _store(request: Request) -> TakeoutStore:
    return request.app.state.takeouts


def _who(caller: Caller) -> str:
    if caller.has("funder_staff"):
        return "your funder's staff"
    return "your organisation"


async def _own(request: Request, caller: Caller, takeout_id: str) -> Job:
    job = await _store(request).get(takeout_id, owner_of(caller))
    if job is None:
        raise NotFound(NOT_FOUND)
    return job


@router.post(
    "", status_code=202, response_model=Takeout, responses=problem_responses(401, 403, 503)
)
async def start_takeout(request: Request, caller: StaffOrPartnerDep, response: Response) -> Takeout:
    """Start a takeout of everything you can read: every list of the API (and the lists
    nested in each row), as JSON Lines and CSV per list with a README, in one zip.

    Funder staff get their funder's data; a partner organisation's people or systems get
    their organisation's. It runs in the background: follow ``Location`` until
    ``status`` is ``done``, then download. A takeout is kept for a day.
    """
    document = await request.app.state.openapi.document()
    missing = document.get("x-trellis-missing") or []
    if missing:
        names = " and ".join(missing)
        raise ServiceUnavailable(
            f"The {names} service{'s are' if len(missing) > 1 else ' is'} unavailable, and a "
            "takeout holds everything or nothing; start it again shortly.",
            extra={"missing": missing},
        )
    job = await _store(request).start(
        owner=owner_of(caller), calls=calls_for(request), document=document, who=_who(caller)
    )
    response.headers["Location"] = f"/api/v1/exports/takeout/{job.id}"
    return _out(job)


TakeoutListQuery = Annotated[
    ListQuery,
    Depends(
        list_query(
            "takeouts",
            sortable=["created_at", "status"],
            filterable=["status"],
            default_sort=("created_at", "DESC"),
        )
    ),
]


@router.get("", response_model=list[Takeout])
async def list_takeouts(
    request: Request, caller: StaffOrPartnerDep, query: TakeoutListQuery, response: Response
) -> list[Takeout]:
    """Your takeouts, newest first, with the list contract (``range``, ``sort`` by
    ``created_at`` or ``status``, filters ``status`` and ``id``)."""
    jobs = await _store(request).of_owner(owner_of(caller))
    page = page_of([_out(job) for job in jobs], query)
    page.apply(response, "takeouts")
    return page.items


@router.get("/{takeout_id}", response_model=Takeout, responses=problem_responses(404))
async def get_takeout(takeout_id: str, request: Request, caller: StaffOrPartnerDep) -> Takeout:
    """One of your takeouts: running, done or failed."""
    return _out(await _own(request, caller, takeout_id))


@router.get(
    "/{takeout_id}/download",
    response_class=FileResponse,
    responses={200: {"content": {"application/zip": {}}}, **problem_responses(404, 409)},
)
async def download_takeout(
    takeout_id: str, request: Request, caller: StaffOrPartnerDep
) -> FileResponse:
    """The zip of a finished takeout."""
    job = await _own(request, caller, takeout_id)
    if job.status != "done":
        raise Conflict(f"This takeout is {job.status}; download it once its status is done.")
    return FileResponse(
        _store(request).archive(job.id),
        media_type="application/zip",
        filename=f"trellis-takeout-{job.created_at[:10]}.zip",
        headers={"Cache-Control": "no-store"},
    )


@router.delete("/{takeout_id}", response_model=Takeout, responses=problem_responses(404))
async def delete_takeout(takeout_id: str, request: Request, caller: StaffOrPartnerDep) -> Takeout:
    """Delete one of your takeouts (and stop it if it is still running)."""
    job = await _own(request, caller, takeout_id)
    await _store(request).delete(job)
    return _out(job)
