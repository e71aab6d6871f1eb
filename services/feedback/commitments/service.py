"""The rules of commitments: versioned words, publish, retire. Flush, never commit."""

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.common import audit
from services.common.auth import Caller
from services.common.concurrency import check_if_match
from services.common.db import utcnow
from services.common.errors import Conflict, NotFound
from services.common.http import ServiceClient
from services.common.lists import ListQuery, Page
from services.feedback import directory
from services.feedback.commitments import repository
from services.feedback.commitments.schemas import CommitmentCreate, CommitmentUpdate
from services.feedback.models import Commitment, CommitmentVersion

WORDS = ("title", "description")


def out(commitment: Commitment, current: CommitmentVersion) -> dict[str, Any]:
    """A commitment with the words of its current version, as the API shows it."""
    return {
        "id": commitment.id,
        "funder_id": commitment.funder_id,
        "title": current.title,
        "description": current.description,
        "position": commitment.position,
        "status": commitment.status,
        "current_version": commitment.current_version,
        "measure": commitment.measure,
        "promised_days": commitment.promised_days,
        "published_at": commitment.published_at,
        "retired_at": commitment.retired_at,
        "created_at": commitment.created_at,
        "updated_at": commitment.updated_at,
        "version": commitment.version,
    }


async def with_words(session: AsyncSession, commitments: list[Commitment]) -> list[dict[str, Any]]:
    current = await repository.current_versions(session, commitments)
    return [out(c, current[c.id]) for c in commitments]


async def create(
    *, session: AsyncSession, caller: Caller, data: CommitmentCreate
) -> dict[str, Any]:
    assert caller.staff_funder_id is not None
    now = utcnow()
    published = data.status == "published"
    commitment = Commitment(
        funder_id=caller.staff_funder_id,
        position=data.position,
        status=data.status,
        current_version=1,
        measure=data.measure,
        promised_days=data.promised_days,
        published_at=now if published else None,
        version=1,
    )
    session.add(commitment)
    await session.flush()
    words = CommitmentVersion(
        commitment_id=commitment.id,
        number=1,
        title=data.title,
        description=data.description,
        created_at=now,
        published_at=now if published else None,
    )
    session.add(words)
    await session.flush()
    audit.record(
        session,
        caller=caller,
        action="create",
        entity_type="commitment",
        entity_id=commitment.id,
        changes=data.model_dump(),
    )
    return out(commitment, words)


async def _own(session: AsyncSession, caller: Caller, commitment_id: uuid.UUID) -> Commitment:
    assert caller.staff_funder_id is not None
    commitment = await repository.get(session, commitment_id, funder_id=caller.staff_funder_id)
    if commitment is None:
        raise NotFound("There is no commitment with this id.")
    return commitment


async def _visible(
    session: AsyncSession, caller: Caller, partners: ServiceClient, commitment_id: uuid.UUID
) -> Commitment:
    """Staff see their funder's commitments; a partner sees its funders' published ones."""
    if caller.has("funder_staff"):
        return await _own(session, caller, commitment_id)
    assert caller.own_partner_id is not None
    for funder_id in await directory.funder_ids_of_partner(partners, caller.own_partner_id):
        commitment = await repository.get(session, commitment_id, funder_id=funder_id)
        if commitment is not None and commitment.status != "draft":
            return commitment
    raise NotFound("There is no commitment with this id.")


async def get(
    *, session: AsyncSession, caller: Caller, partners: ServiceClient, commitment_id: uuid.UUID
) -> tuple[Commitment, dict[str, Any]]:
    commitment = await _visible(session, caller, partners, commitment_id)
    return commitment, (await with_words(session, [commitment]))[0]


async def list_(
    *, session: AsyncSession, caller: Caller, partners: ServiceClient, query: ListQuery
) -> tuple[Page, list[dict[str, Any]]]:
    """Staff: all their funder's commitments. Partner: its funders' published and retired ones."""
    if caller.has("funder_staff"):
        assert caller.staff_funder_id is not None
        page = await repository.list_page(session, query, funder_ids=[caller.staff_funder_id])
    else:
        assert caller.own_partner_id is not None
        funder_ids = await directory.funder_ids_of_partner(partners, caller.own_partner_id)
        page = await repository.list_page(
            session, query, funder_ids=funder_ids, statuses=["published", "retired"]
        )
    return page, await with_words(session, page.items)


async def versions(
    *, session: AsyncSession, caller: Caller, partners: ServiceClient, commitment_id: uuid.UUID
) -> list[CommitmentVersion]:
    commitment = await _visible(session, caller, partners, commitment_id)
    found = await repository.versions(session, commitment.id)
    if commitment.status != "draft" and not caller.has("funder_staff"):
        found = [v for v in found if v.published_at is not None]
    return found


async def update(
    *,
    session: AsyncSession,
    caller: Caller,
    commitment_id: uuid.UUID,
    data: CommitmentUpdate,
    if_match: str | None,
) -> tuple[Commitment, dict[str, Any]]:
    """Change a commitment. New words on a published one make a new version, so ratings
    already given stay attached to the words that were rated."""
    commitment = await _own(session, caller, commitment_id)
    check_if_match(if_match, commitment)
    if commitment.status == "retired":
        raise Conflict("This commitment is retired; write a new commitment instead.")
    changes = data.changes()
    current = await repository.version(session, commitment.id, commitment.current_version)
    assert current is not None
    new_words = {k: v for k, v in changes.items() if k in WORDS and v != getattr(current, k)}
    if "title" in new_words and new_words["title"] is None:
        new_words.pop("title")
    if new_words:
        if commitment.status == "draft":
            for field, value in new_words.items():
                setattr(current, field, value)
        else:
            now = utcnow()
            current = CommitmentVersion(
                commitment_id=commitment.id,
                number=commitment.current_version + 1,
                title=new_words.get("title", current.title),
                description=new_words.get("description", current.description),
                created_at=now,
                published_at=now,
            )
            session.add(current)
            commitment.current_version = current.number
    if changes.get("position") is not None:
        commitment.position = changes["position"]
    if "measure" in changes:
        commitment.measure = changes["measure"]
    if "promised_days" in changes:
        commitment.promised_days = changes["promised_days"]
    commitment.updated_at = utcnow()
    await session.flush()
    audit.record(
        session,
        caller=caller,
        action="update",
        entity_type="commitment",
        entity_id=commitment.id,
        changes={**changes, "current_version": commitment.current_version},
    )
    return commitment, out(commitment, current)


async def publish(
    *, session: AsyncSession, caller: Caller, commitment_id: uuid.UUID, if_match: str | None
) -> tuple[Commitment, dict[str, Any]]:
    commitment = await _own(session, caller, commitment_id)
    check_if_match(if_match, commitment)
    if commitment.status == "retired":
        raise Conflict("This commitment is retired; write a new commitment instead.")
    current = await repository.version(session, commitment.id, commitment.current_version)
    assert current is not None
    if commitment.status == "draft":
        now = utcnow()
        commitment.status = "published"
        commitment.published_at = now
        current.published_at = now
        await session.flush()
        audit.record(
            session,
            caller=caller,
            action="publish",
            entity_type="commitment",
            entity_id=commitment.id,
            changes={"current_version": commitment.current_version},
        )
    return commitment, out(commitment, current)


async def retire(
    *, session: AsyncSession, caller: Caller, commitment_id: uuid.UUID, if_match: str | None
) -> tuple[Commitment, dict[str, Any]]:
    """Retire a commitment: it leaves the charter; its history and ratings stay."""
    commitment = await _own(session, caller, commitment_id)
    check_if_match(if_match, commitment)
    current = await repository.version(session, commitment.id, commitment.current_version)
    assert current is not None
    if commitment.status != "retired":
        commitment.status = "retired"
        commitment.retired_at = utcnow()
        await session.flush()
        audit.record(
            session,
            caller=caller,
            action="retire",
            entity_type="commitment",
            entity_id=commitment.id,
        )
    return commitment, out(commitment, current)


async def public_list(
    *, session: AsyncSession, partners: ServiceClient, slug: str
) -> list[dict[str, Any]]:
    """A funder's current commitments, for anyone."""
    funder = await directory.funder_by_slug(partners, slug)
    commitments = await repository.published_of_funder(session, uuid.UUID(funder["id"]))
    return await with_words(session, commitments)
