"""What the feedback service learns from the partners and funding services, over their
internal APIs."""

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


def countable(summary: dict[str, Any]) -> bool:
    """Whether a partner may be invited to a round and so count towards k: the
    organisation's own people have claimed its record and it has accepted the funder.

    A record the funder's staff added and nobody claimed is one they control; counting
    it would let them fill a round to k with answers they know (THREAT_MODEL.md)."""
    return summary.get("claimed") is True and summary.get("sharing") == "accepted"


#: Ids asked for in one request (the query string stays short).
IDS_PER_REQUEST = 100


async def partners_of_funder(
    partners: ServiceClient,
    funder_id: uuid.UUID,
    *,
    status: str | None = None,
    ids: list[uuid.UUID] | None = None,
) -> list[dict[str, Any]]:
    """Organisations in a relationship with the funder now: those in ``status`` or with
    these ``ids`` (any status), with whether each has claimed its record and accepted it."""
    path = f"/internal/funders/{funder_id}/partners"
    if ids is None:
        return list(
            await partners.get_json(path, params={"status": status} if status else None) or []
        )
    found: list[dict[str, Any]] = []
    for start in range(0, len(ids), IDS_PER_REQUEST):
        chunk = [str(i) for i in ids[start : start + IDS_PER_REQUEST]]
        found.extend(await partners.get_json(path, params={"ids": chunk}) or [])
    return found


async def pool_partner_ids(
    funding: ServiceClient, pool_id: uuid.UUID, funder_id: uuid.UUID
) -> list[uuid.UUID] | None:
    """The organisations of a pooled fund (its grants and proposals); ``None`` unless the
    funder is, or was, one of its members."""
    found = await funding.get_json(
        f"/internal/pools/{pool_id}/partners", params={"funder_id": str(funder_id)}
    )
    return None if found is None else [uuid.UUID(p["partner_id"]) for p in found]


async def relationship(
    partners: ServiceClient, funder_id: uuid.UUID, partner_id: uuid.UUID
) -> dict[str, Any] | None:
    """The partner and its relationship with the funder, or ``None`` when they have none."""
    return await partners.get_json(f"/internal/funders/{funder_id}/partners/{partner_id}")


async def funder_ids_of_partner(partners: ServiceClient, partner_id: uuid.UUID) -> list[uuid.UUID]:
    """Funders that have a relationship with the partner."""
    found = await partners.get_json(f"/internal/partners/{partner_id}/funders") or []
    return [uuid.UUID(f["id"]) for f in found]
