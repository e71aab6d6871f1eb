"""Requests for anonymous answers arrive with no correlation a client could carry over.

A partner's client that sends the same ``X-Request-ID`` or trace context
(``traceparent``) when it takes its ballot (signed in) and when it casts its answer
(without a token) would tie the two together in every log line and trace. This
middleware, outermost in the feedback app, drops those headers from requests to the
anonymous routes before the kit's request-id and tracing middlewares read them: the
request gets a fresh id and a fresh trace.
"""

import re

from starlette.types import ASGIApp, Receive, Scope, Send

ANONYMOUS_PATHS = re.compile(
    r"^/api/v1/(rounds/[^/]+/anonymous-responses(/mine)?|public/feedback/rounds/[^/]+/ballot-key)/?$"
)
CORRELATION_HEADERS = {b"x-request-id", b"traceparent", b"tracestate", b"baggage"}


class UncorrelatedAnonymousRequests:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and ANONYMOUS_PATHS.match(scope["path"]):
            scope = dict(scope)
            scope["headers"] = [
                (name, value)
                for name, value in scope["headers"]
                if name.lower() not in CORRELATION_HEADERS and not name.startswith(b"x-b3-")
            ]
        await self.app(scope, receive, send)
