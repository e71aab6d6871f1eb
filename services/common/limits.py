"""Size limits at the door: request bodies and URLs.

A body larger than ``TRELLIS_MAX_BODY_BYTES`` (1 MiB by default) is refused with
413 before it is parsed, whether it says its length (``Content-Length``) or is
streamed in chunks; a URL longer than 8 KiB is refused with 414. Both answer
problem+json like every other error. ``EdgeMiddleware`` (``services.common.edge``)
applies them, in the services and in the gateway.
"""

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.exceptions import HTTPException

from services.common.errors import Problem

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Send = Callable[[Message], Awaitable[None]]

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
MAX_URL_BYTES = 8192


class BodyTooLarge(Problem, HTTPException):
    """Also an ``HTTPException``: FastAPI passes those on when raised while it reads a body
    (any other error there becomes a vague 400); the problem handler renders it."""

    status, slug, title = 413, "body-too-large", "Request body too large"

    def __init__(self, limit: int) -> None:
        HTTPException.__init__(self, status_code=413)
        Problem.__init__(
            self,
            f"The request body is larger than this API takes ({limit} bytes). "
            "Send less at once: split it into several requests.",
            extra={"limit": limit},
        )


class UrlTooLong(Problem):
    status, slug, title = 414, "uri-too-long", "URL too long"

    def __init__(self) -> None:
        super().__init__(
            f"The URL is longer than this API takes ({MAX_URL_BYTES} bytes). "
            "Ask for fewer ids at once.",
            extra={"limit": MAX_URL_BYTES},
        )


async def send_problem(
    problem: Problem,
    scope: Scope,
    send: Send,
    extra_headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    """Answer ``problem`` as problem+json straight over ASGI."""
    response = problem.to_response(scope.get("path", ""))
    await send(
        {
            "type": "http.response.start",
            "status": response.status_code,
            "headers": [*response.raw_headers, *(extra_headers or ())],
        }
    )
    await send({"type": "http.response.body", "body": response.body})
