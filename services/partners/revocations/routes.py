"""Internal route: the revocations other services and the gateway poll."""

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query

from services.common.auth import ServiceCallerDep
from services.common.db import SessionDep, utcnow
from services.common.errors import BadRequest
from services.common.revocation import INTERNAL_PATH
from services.partners.revocations import service
from services.partners.revocations.schemas import RevocationList, RevokedKey

router = APIRouter(include_in_schema=False)


@router.get(INTERNAL_PATH, response_model=RevocationList)
async def revocations_since(
    session: SessionDep,
    _: ServiceCallerDep,
    since: Annotated[datetime, Query(description="Revocations after this time (ISO 8601).")],
) -> RevocationList:
    """Keys revoked after ``since``; ask again with ``as_of`` (minus a margin) next time."""
    if since.tzinfo is None:
        raise BadRequest("'since' needs a time zone (e.g. 2026-01-01T00:00:00+00:00).")
    as_of = utcnow()
    rows = await service.revoked_since(session=session, since=since.astimezone(UTC))
    return RevocationList(
        revocations=[RevokedKey(key=key, revoked_at=at) for key, at in rows], as_of=as_of
    )
