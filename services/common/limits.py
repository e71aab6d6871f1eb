"""Size limits at the door: request bodies and URLs.

A body larger than ``TRELLIS_MAX_BODY_BYTES`` (1 MiB by default) is refused with
413 before it is parsed, whether it says its length (``Content-Length``) or is
streamed in chunks; a URL longer than 8 KiB is refused with 414. Both answer
problem+json like every other error. Pure ASGI, so the gateway uses it as well.
"""

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.exceptions import HTTPException

from services.common.errors import Problem

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

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


async def _send_problem(problem: Problem, scope: Scope, send: Send) -> None:
    response = problem.to_response(scope.get("path", ""))
    await send(
        {
            "type": "http.response.start",
            "status": response.status_code,
            "headers": response.raw_headers,
        }
    )
    await send({"type": "http.response.body", "body": response.body})


class SizeLimitMiddleware:
    """Refuses over-long URLs (414) and bodies over ``max_body_bytes`` (413)."""

    def __init__(self, app: ASGIApp, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        url_bytes = len(scope.get("raw_path") or scope["path"].encode()) + len(
            scope.get("query_string", b"")
        )
        if url_bytes > MAX_URL_BYTES:
            await _send_problem(UrlTooLong(), scope, send)
            return
        limit = self.max_body_bytes
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > limit:
                    await _send_problem(BodyTooLarge(limit), scope, send)
                    return
        received = 0
        started = False
        exceeded: BodyTooLarge | None = None

        async def limited_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = BodyTooLarge(limit)
                    raise exceeded
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded is not None and not started:
                # Whatever the app made of the cut-off body (the gateway's proxy calls it an
                # upstream failure), the caller is told the body was too large.
                if message["type"] == "http.response.start":
                    started = True
                    await _send_problem(exceeded, scope, send)
                return
            if exceeded is not None:
                return  # the rest of the app's own answer, replaced above
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except BodyTooLarge as exc:
            # Raised while something below read the body without a handler of its own:
            # answer here unless an answer has begun.
            if started:
                raise
            await _send_problem(exc, scope, send)
