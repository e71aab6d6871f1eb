"""What the feedback service learns from the partners service, over its internal API."""

import uuid
from typing import Any
from urllib.parse import quote

from services.common.errors import NotFound
from services.common.http import ServiceClient


async def funder_by_slug(partners: ServiceClient, slug: str) -> dict[str, Any]:
    """The funder with this slug; 404 when there is none."""
    funder = await partners.get_json(f"/internal/funders/by-slug/{quote(slug, safe='')}")
    if funder is None:
        raise NotFound(f"There is no funder with the slug '{slug}'.")
    return funder


async def funder(partners: ServiceClient, funder_id: uuid.UUID) -> dict[str, Any] | None:
    return await partners.get_json(f"/internal/funders/{funder_id}")


async def active_partners(partners: ServiceClient, funder_id: uuid.UUID) -> list[dict[str, Any]]:
    """Partners in an active relationship with the funder now."""
    found = await partners.get_json(
        f"/internal/funders/{funder_id}/partners", params={"status": "active"}
    )
    return list(found or [])


async def relationship(
    partners: ServiceClient, funder_id: uuid.UUID, partner_id: uuid.UUID
) -> dict[str, Any] | None:
    """The partner and its relationship with the funder, or ``None`` when they have none."""
    return await partners.get_json(f"/internal/funders/{funder_id}/partners/{partner_id}")


async def funder_ids_of_partner(partners: ServiceClient, partner_id: uuid.UUID) -> list[uuid.UUID]:
    """Funders that have a relationship with the partner."""
    found = await partners.get_json(f"/internal/partners/{partner_id}/funders") or []
    return [uuid.UUID(f["id"]) for f in found]
