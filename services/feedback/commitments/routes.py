"""HTTP routes of commitments: the funder's published promises about its own behaviour."""

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response

from services.common.auth import StaffDep, StaffOrPartnerDep
from services.common.concurrency import IfMatchDep
from services.common.db import SessionDep
from services.common.errors import NotFound
from services.common.idempotency import IdempotencyDep
from services.common.lists import ListQuery, list_query, page_of
from services.common.schemas import FunderSlug
from services.common.service_app import problem_responses
from services.feedback.commitments import service
from services.feedback.commitments.schemas import (
    Commitment,
    CommitmentCreate,
    CommitmentUpdate,
    CommitmentVersion,
    PublicCommitment,
)
from services.feedback.deps import PartnersDep

router = APIRouter(tags=["commitments"])

CommitmentListQuery = Annotated[
    ListQuery,
    Depends(
        list_query(
            "commitments",
            sortable=["position", "status", "created_at", "updated_at"],
            filterable=["funder_id", "status", "measure"],
            default_sort=("position", "ASC"),
        )
    ),
]


VersionListQuery = Annotated[
    ListQuery,
    Depends(
        list_query(
            "versions",
            sortable=["number", "created_at", "published_at"],
            filterable=["commitment_id"],
            default_sort=("number", "ASC"),
        )
    ),
]
PublicCommitmentListQuery = Annotated[
    ListQuery,
    Depends(
        list_query(
            "commitments",
            sortable=["position", "published_at", "title"],
            filterable=["measure"],
            default_sort=("position", "ASC"),
        )
    ),
]


def _etag(record: dict[str, Any]) -> str:
    return f'"v{record["version"]}"'


@router.post(
    "/commitments", status_code=201, response_model=Commitment, responses=problem_responses(409)
)
async def create_commitment(
    body: CommitmentCreate, session: SessionDep, caller: StaffDep, idem: IdempotencyDep
) -> Response:
    """Write a commitment: a promise your funder makes about its own behaviour.

    Create it as a draft and publish it later, or with ``status: "published"``
    at once. Link it to a ``measure`` when the system can evidence it.
    """
    out = await service.create(session=session, caller=caller, data=body)
    return await idem.respond(
        session,
        Commitment.model_validate(out),
        headers={"Location": f"/api/v1/commitments/{out['id']}", "ETag": _etag(out)},
    )


@router.get("/commitments", response_model=list[Commitment])
async def list_commitments(
    session: SessionDep,
    caller: StaffOrPartnerDep,
    partners: PartnersDep,
    query: CommitmentListQuery,
    response: Response,
) -> list[Commitment]:
    """Your funder's commitments (staff), or the published commitments of your funders (partner).

    Filters: ``funder_id``, ``status``, ``measure``, ``id``.
    """
    page, items = await service.list_(
        session=session, caller=caller, partners=partners, query=query
    )
    page.apply(response, "commitments")
    return [Commitment.model_validate(i) for i in items]


@router.get("/commitments/{commitment_id}", response_model=Commitment)
async def get_commitment(
    commitment_id: uuid.UUID,
    session: SessionDep,
    caller: StaffOrPartnerDep,
    partners: PartnersDep,
    response: Response,
) -> Commitment:
    """One commitment with the words of its current version."""
    _, out = await service.get(
        session=session, caller=caller, partners=partners, commitment_id=commitment_id
    )
    response.headers["ETag"] = _etag(out)
    return Commitment.model_validate(out)


@router.get("/commitments/{commitment_id}/versions", response_model=list[CommitmentVersion])
async def list_commitment_versions(
    commitment_id: uuid.UUID,
    session: SessionDep,
    caller: StaffOrPartnerDep,
    partners: PartnersDep,
    query: VersionListQuery,
    response: Response,
) -> list[CommitmentVersion]:
    """Every version of a commitment's words, oldest first. Ratings name the version rated."""
    found = await service.versions(
        session=session, caller=caller, partners=partners, commitment_id=commitment_id
    )
    page = page_of(
        [CommitmentVersion.model_validate(v, from_attributes=True) for v in found], query
    )
    page.apply(response, "versions")
    return page.items


@router.get(
    "/commitments/{commitment_id}/versions/{version_id}",
    response_model=CommitmentVersion,
    responses=problem_responses(404),
)
async def get_commitment_version(
    commitment_id: uuid.UUID,
    version_id: uuid.UUID,
    session: SessionDep,
    caller: StaffOrPartnerDep,
    partners: PartnersDep,
) -> CommitmentVersion:
    """One version of a commitment's words."""
    found = await service.versions(
        session=session, caller=caller, partners=partners, commitment_id=commitment_id
    )
    for version in found:
        if version.id == version_id:
            return CommitmentVersion.model_validate(version, from_attributes=True)
    raise NotFound("There is no version with this id of this commitment.")


@router.put(
    "/commitments/{commitment_id}",
    response_model=Commitment,
    responses=problem_responses(409, 412),
)
async def update_commitment(
    commitment_id: uuid.UUID,
    body: CommitmentUpdate,
    session: SessionDep,
    caller: StaffDep,
    if_match: IfMatchDep,
    response: Response,
) -> Commitment:
    """Change a commitment. New words on a published commitment make a new version;
    ratings already given stay with the version that was rated."""
    _, out = await service.update(
        session=session, caller=caller, commitment_id=commitment_id, data=body, if_match=if_match
    )
    response.headers["ETag"] = _etag(out)
    return Commitment.model_validate(out)


@router.post(
    "/commitments/{commitment_id}/publish",
    response_model=Commitment,
    responses=problem_responses(409, 412),
)
async def publish_commitment(
    commitment_id: uuid.UUID,
    session: SessionDep,
    caller: StaffDep,
    if_match: IfMatchDep,
    response: Response,
) -> Commitment:
    """Publish a draft commitment: anyone can read it from now on."""
    _, out = await service.publish(
        session=session, caller=caller, commitment_id=commitment_id, if_match=if_match
    )
    response.headers["ETag"] = _etag(out)
    return Commitment.model_validate(out)


@router.post(
    "/commitments/{commitment_id}/retire",
    response_model=Commitment,
    responses=problem_responses(412),
)
async def retire_commitment(
    commitment_id: uuid.UUID,
    session: SessionDep,
    caller: StaffDep,
    if_match: IfMatchDep,
    response: Response,
) -> Commitment:
    """Retire a commitment. It leaves the current charter; its versions and ratings stay."""
    _, out = await service.retire(
        session=session, caller=caller, commitment_id=commitment_id, if_match=if_match
    )
    response.headers["ETag"] = _etag(out)
    return Commitment.model_validate(out)


@router.get(
    "/public/feedback/{funder_slug}/commitments",
    response_model=list[PublicCommitment],
    tags=["public"],
)
async def public_commitments(
    funder_slug: FunderSlug,
    session: SessionDep,
    partners: PartnersDep,
    query: PublicCommitmentListQuery,
    response: Response,
) -> list[PublicCommitment]:
    """A funder's current commitments, in charter order. No token needed."""
    items = await service.public_list(session=session, partners=partners, slug=funder_slug)
    page = page_of(
        [PublicCommitment(**{**i, "version": i["current_version"]}) for i in items], query
    )
    page.apply(response, "commitments")
    return page.items


@router.get(
    "/public/feedback/{funder_slug}/commitments/{commitment_id}",
    response_model=PublicCommitment,
    tags=["public"],
    responses=problem_responses(404),
)
async def public_commitment(
    funder_slug: FunderSlug, commitment_id: uuid.UUID, session: SessionDep, partners: PartnersDep
) -> PublicCommitment:
    """One of a funder's current commitments. No token needed."""
    items = await service.public_list(session=session, partners=partners, slug=funder_slug)
    for item in items:
        if str(item["id"]) == str(commitment_id):
            return PublicCommitment(**{**item, "version": item["current_version"]})
    raise NotFound("This funder publishes no commitment with this id.")
