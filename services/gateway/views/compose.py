"""The kit composite views are made with: calls to the services as the caller, and sections.

``Calls`` makes ``GET`` requests to a service over the gateway's pooled upstream
session, with the caller's ``Authorization`` header and the request id, so each
service applies its own access rules. ``section`` runs one part of a view and turns
a service that cannot answer into a section that says so.
"""

import asyncio
import logging
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson

from services.gateway.proxy import Upstream

logger = logging.getLogger("trellis.gateway.views")

#: Rows a view reads at most from one list (pages of 100), so a view stays bounded.
MAX_ROWS = 1000
PAGE = 100


class Unavailable(Exception):
    """A service could not give a section what it needs."""

    def __init__(self, service: str, why: str) -> None:
        super().__init__(f"{service}: {why}")
        self.service = service
        self.why = why


class Refused(Exception):
    """A service answered 4xx: the caller may not see this (or it does not exist)."""

    def __init__(self, service: str, status: int, body: Any) -> None:
        super().__init__(f"{service} answered {status}")
        self.service = service
        self.status = status
        self.body = body


@dataclass(frozen=True, slots=True)
class Answer:
    """What a service answered: the decoded body and the headers a view may need."""

    body: Any
    content_range: str | None
    next_cursor: str | None = None

    @property
    def total(self) -> int | None:
        """The total of a list page's ``Content-Range`` (``things 0-24/319`` -> 319)."""
        if not self.content_range:
            return None
        _, _, total = self.content_range.rpartition("/")
        return int(total) if total.isdigit() else None


def _json_params(params: Mapping[str, Any]) -> dict[str, str]:
    return {
        key: value if isinstance(value, str) else orjson.dumps(value).decode()
        for key, value in params.items()
    }


class Calls:
    """The services, as one caller sees them."""

    def __init__(
        self,
        upstreams: Mapping[str, Upstream],
        *,
        authorization: str,
        request_id: str,
        timeout: float,
    ) -> None:
        self.upstreams = upstreams
        self.headers = {"Authorization": authorization, "X-Request-ID": request_id}
        self.timeout = aiohttp.ClientTimeout(total=timeout)

    async def get(self, service: str, path: str, **params: Any) -> Answer:
        """``GET /api/v1/<path>`` at ``service``; list parameters may be given as Python values
        (``filter={"partner_id": ...}``, ``range=[0, 9]``, ``sort=["due_date", "ASC"]``)."""
        return await self.get_url(service, f"/api/v1/{path}", **params)

    async def get_url(self, service: str, path: str, **params: Any) -> Answer:
        """``GET <path>`` (a full API path) at ``service``, as the caller."""
        upstream = self.upstreams.get(service)
        if upstream is None:
            raise Unavailable(service, "it is not configured")
        url = upstream.base_url + path
        try:
            async with upstream.session.get(
                url, params=_json_params(params), headers=self.headers, timeout=self.timeout
            ) as response:
                raw = await response.read()
                status = response.status
                content_range = response.headers.get("Content-Range")
                next_cursor = response.headers.get("X-Next-Cursor")
        except TimeoutError as exc:
            raise Unavailable(service, "it did not answer in time") from exc
        except aiohttp.ClientError as exc:
            raise Unavailable(service, "it could not be reached") from exc
        try:
            body = orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError as exc:
            raise Unavailable(
                service, f"it answered {status} with something that is not JSON"
            ) from exc
        if status >= 500:
            why = body.get("detail") if isinstance(body, dict) else None
            raise Unavailable(service, why or f"it answered {status}")
        if status >= 400:
            raise Refused(service, status, body)
        return Answer(body, content_range, next_cursor)

    async def get_all(self, service: str, path: str, **params: Any) -> tuple[list[Any], bool]:
        """Every row of a list (up to ``MAX_ROWS``) and whether that was all of them."""
        rows: list[Any] = []
        while True:
            answer = await self.get(
                service, path, range=[len(rows), len(rows) + PAGE - 1], **params
            )
            page = answer.body or []
            rows.extend(page)
            total = answer.total
            complete = total is not None and len(rows) >= total
            if complete or not page or len(page) < PAGE:
                return rows, True
            if len(rows) >= MAX_ROWS:
                return rows, False


async def section(coro: Awaitable[dict[str, Any]]) -> dict[str, Any]:
    """One part of a view: ``{"status": "ok", ...}``, or what kept it from answering.

    A service that is down says ``unavailable``; one that refuses this caller says
    ``not_permitted`` (the view shows the caller nothing it could not get itself).
    """
    try:
        return {"status": "ok", **await coro}
    except Unavailable as exc:
        return {
            "status": "unavailable",
            "service": exc.service,
            "detail": f"The {exc.service} service is unavailable: {exc.why}.",
        }
    except Refused as exc:
        return {
            "status": "not_permitted",
            "service": exc.service,
            "service_status": exc.status,
            "detail": f"The {exc.service} service does not show you this ({exc.status}).",
        }


async def sections(**parts: Awaitable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Run every section at once; a view's answer, keyed by section name."""
    names = list(parts)
    done = await asyncio.gather(*(section(parts[name]) for name in names))
    return dict(zip(names, done, strict=True))
