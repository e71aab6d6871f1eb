"""HTTP routes of open data: funder settings, the 360Giving export and its public form."""

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse

from services.common.auth import StaffDep
from services.common.concurrency import IfMatchDep, etag
from services.common.db import Database, SessionDep
from services.common.http import ServiceClient
from services.common.schemas import FunderSlug
from services.common.service_app import problem_responses
from services.funding.opendata import service
from services.funding.opendata.models import FunderSetting
from services.funding.opendata.schemas import FunderSettings, FunderSettingsUpdate

router = APIRouter()

FormatQuery = Annotated[
    Literal["json", "csv"], Query(description="json (a 360Giving package) or csv (flattened)")
]
MEDIA = {"json": "application/json", "csv": "text/csv; charset=utf-8"}


def settings_out(settings: FunderSetting) -> FunderSettings:
    public = (
        f"/api/v1/public/funding/{settings.funder_slug}/360giving"
        if settings.publish_360giving and settings.funder_slug
        else None
    )
    return FunderSettings(
        id=settings.funder_id,
        funder_id=settings.funder_id,
        funder_slug=settings.funder_slug,
        publish_360giving=settings.publish_360giving,
        public_url=public,
        version=settings.version,
        updated_at=settings.updated_at,
    )


async def _export_response(
    request: Request, funder_id: object, fmt: Literal["json", "csv"], filename: str
) -> StreamingResponse:
    db: Database = request.app.state.db
    partners: ServiceClient = request.app.state.services["partners"]
    export = service.Export(db=db, partners=partners, funder_id=funder_id, fmt=fmt)  # type: ignore[arg-type]
    stream = await export.open()
    return StreamingResponse(
        stream,
        media_type=MEDIA[fmt],
        headers={"Content-Disposition": f'inline; filename="{filename}.{fmt}"'},
    )


@router.get("/funder-settings", response_model=FunderSettings, tags=["open data"])
async def get_funder_settings(
    session: SessionDep, caller: StaffDep, response: Response
) -> FunderSettings:
    """Your funder's funding settings: whether its grants are published as open data."""
    settings = await service.get_settings(session=session, caller=caller)
    response.headers["ETag"] = etag(settings)
    return settings_out(settings)


@router.put(
    "/funder-settings",
    response_model=FunderSettings,
    tags=["open data"],
    responses=problem_responses(412, 503),
)
async def update_funder_settings(
    body: FunderSettingsUpdate,
    session: SessionDep,
    caller: StaffDep,
    if_match: IfMatchDep,
    request: Request,
    response: Response,
) -> FunderSettings:
    """Choose to publish (or stop publishing) your awarded grants as 360Giving open data.

    Once published, anyone can read them without a token at
    ``/api/v1/public/funding/{your funder's slug}/360giving``.
    """
    settings = await service.update_settings(
        session=session,
        caller=caller,
        partners=request.app.state.services["partners"],
        data=body,
        if_match=if_match,
    )
    response.headers["ETag"] = etag(settings)
    return settings_out(settings)


EXPORT_DOC = """Your funder's awarded grants as 360Giving open data (Data Standard 1.4).

JSON: a package ``{"grants": [...]}`` valid against the standard's schema, with
recipient org-ids from the partners service, ``amountAwarded`` in major units,
``awardDate``, planned dates and the funding organisation(s). CSV: the same,
flattened with the standard's column titles. The answer streams, in award order.
"""


@router.get(
    "/exports/360giving",
    tags=["open data"],
    responses={**problem_responses(404, 503), 200: {"content": {"text/csv": {}}}},
    description=EXPORT_DOC,
)
async def export_360giving(
    request: Request, caller: StaffDep, format: FormatQuery = "json"
) -> StreamingResponse:
    assert caller.staff_funder_id is not None
    return await _export_response(request, caller.staff_funder_id, format, "360giving")


@router.get(
    "/exports/360giving.csv",
    tags=["open data"],
    responses={**problem_responses(404, 503), 200: {"content": {"text/csv": {}}}},
)
async def export_360giving_csv(request: Request, caller: StaffDep) -> StreamingResponse:
    """Your funder's awarded grants as 360Giving CSV."""
    assert caller.staff_funder_id is not None
    return await _export_response(request, caller.staff_funder_id, "csv", "360giving")


@router.get(
    "/public/funding/{funder_slug}/360giving",
    tags=["open data"],
    responses={**problem_responses(404, 503), 200: {"content": {"text/csv": {}}}},
)
async def public_360giving(
    funder_slug: FunderSlug, request: Request, session: SessionDep, format: FormatQuery = "json"
) -> StreamingResponse:
    """A funder's published grants as 360Giving open data. No token needed; 404 unless the
    funder has chosen to publish."""
    funder_id = await service.published_funder(session=session, slug=funder_slug)
    return await _export_response(request, funder_id, format, funder_slug)


@router.get(
    "/public/funding/{funder_slug}/360giving.csv",
    tags=["open data"],
    responses={**problem_responses(404, 503), 200: {"content": {"text/csv": {}}}},
)
async def public_360giving_csv(
    funder_slug: FunderSlug, request: Request, session: SessionDep
) -> StreamingResponse:
    """A funder's published grants as 360Giving CSV. No token needed."""
    funder_id = await service.published_funder(session=session, slug=funder_slug)
    return await _export_response(request, funder_id, "csv", funder_slug)
