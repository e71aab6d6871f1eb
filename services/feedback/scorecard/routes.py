"""HTTP routes of the scorecard and feedback settings."""

from fastapi import APIRouter, Response

from services.common.auth import StaffDep
from services.common.concurrency import IfMatchDep, etag
from services.common.db import SessionDep
from services.common.schemas import FunderSlug
from services.common.service_app import problem_responses
from services.feedback.deps import PartnersDep
from services.feedback.scorecard import service
from services.feedback.scorecard.schemas import Scorecard, Settings, SettingsUpdate

router = APIRouter()


@router.get("/scorecards/settings", response_model=Settings, tags=["scorecards"])
async def get_settings(session: SessionDep, caller: StaffDep, response: Response) -> Settings:
    """Your funder's anonymity threshold k and whether its scorecard is public."""
    assert caller.staff_funder_id is not None
    found = await service.settings(session=session, funder_id=caller.staff_funder_id)
    response.headers["ETag"] = etag(found)
    return Settings.model_validate(found, from_attributes=True)


@router.put(
    "/scorecards/settings",
    response_model=Settings,
    tags=["scorecards"],
    responses=problem_responses(412, 422),
)
async def update_settings(
    body: SettingsUpdate,
    session: SessionDep,
    caller: StaffDep,
    if_match: IfMatchDep,
    response: Response,
) -> Settings:
    """Set k (never below 3) or publish the scorecard (``scorecard_published: true``)."""
    found = await service.update_settings(
        session=session, caller=caller, data=body, if_match=if_match
    )
    response.headers["ETag"] = etag(found)
    return Settings.model_validate(found, from_attributes=True)


@router.get("/scorecards/preview", response_model=Scorecard, tags=["scorecards"])
async def preview_scorecard(
    session: SessionDep, caller: StaffDep, partners: PartnersDep
) -> Scorecard:
    """Your funder's scorecard as the public sees it once published."""
    return Scorecard.model_validate(
        await service.preview(session=session, caller=caller, partners=partners)
    )


@router.get("/public/feedback/{funder_slug}/scorecard", response_model=Scorecard, tags=["public"])
async def public_scorecard(
    funder_slug: FunderSlug, session: SessionDep, partners: PartnersDep
) -> Scorecard:
    """A funder's published feedback scorecard: its commitments, the latest published
    results and their trend, the actions it took, and its own measured behaviour, ready
    to put on a page. No token needed."""
    return Scorecard.model_validate(
        await service.public(session=session, partners=partners, slug=funder_slug)
    )
