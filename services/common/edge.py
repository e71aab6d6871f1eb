"""``EdgeMiddleware``: the request-level work of every service and of the gateway, in one layer.

One pure-ASGI layer instead of five, each of which wrapped ``send`` and saw every
message of every response. For each HTTP request, in this order:

- its request id, accepted from ``X-Request-ID`` or made (``requestid``), put in
  the log context and echoed in the answer;
- its deadline from ``X-Request-Timeout-Ms`` (``deadline``; services only: the
  gateway sets deadlines rather than taking them);
- size limits (``limits``): a URL over 8 KiB is 414, a body over ``max_body_bytes``
  413, whether declared or streamed;
- once answered, one access log line (``logs``) and the request counted and timed in
  the metrics (``metrics``), by route template or by ``route(scope)``.

Refusals (413, 414) carry the request id, are logged and counted like any answer;
``wrap_refusal`` lets the gateway pass them through its CORS handling.
"""

import time
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.common.deadline import HEADER, deadline_var, parse_budget
from services.common.limits import MAX_URL_BYTES, BodyTooLarge, UrlTooLong, send_problem
from services.common.logs import log_access
from services.common.metrics import UNMATCHED, Metrics, route_template
from services.common.requestid import accept_or_make, request_id_var

DEADLINE_HEADER = HEADER.encode()
_REQUEST_ID = b"x-request-id"
_CONTENT_LENGTH = b"content-length"
_START = "http.response.start"
_REFUSAL = "trellis.refusal"


async def _refuse(scope: Scope, receive: Receive, send: Send) -> None:
    await send_problem(scope[_REFUSAL], scope, send)


class EdgeMiddleware:
    """Request id, deadline, size limits, access log and metrics, as one ASGI layer."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        metrics: Metrics | None,
        max_body_bytes: int | None,
        deadlines: bool = True,
        route: Callable[[Scope], str | None] | None = None,
        wrap_refusal: Callable[[ASGIApp], ASGIApp] | None = None,
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes
        self.deadlines = deadlines
        self.route = route
        self.refuse = wrap_refusal(_refuse) if wrap_refusal else _refuse

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        incoming = budget = None
        declared = 0
        for name, value in scope["headers"]:
            if name == _REQUEST_ID:
                incoming = value
            elif name == DEADLINE_HEADER:
                budget = value
            elif name == _CONTENT_LENGTH:
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
        request_id = accept_or_make(incoming)
        raw_id = request_id.encode()
        scope.setdefault("state", {})["request_id"] = request_id
        id_token = request_id_var.set(request_id)
        seconds = parse_budget(budget) if self.deadlines and budget is not None else None
        deadline_token = (
            deadline_var.set(time.monotonic() + seconds) if seconds is not None else None
        )
        status = 500
        limit = self.max_body_bytes
        received = 0
        started_answer = False
        exceeded: BodyTooLarge | None = None

        async def edge_send(message: Message) -> None:
            nonlocal status, started_answer
            if message["type"] == _START:
                if exceeded is not None:
                    if started_answer:
                        return
                    # Whatever the app made of the cut-off body, the caller is told the body
                    # was too large (with the CORS headers the app's answer had).
                    started_answer = True
                    kept = [
                        (k, v)
                        for k, v in message.get("headers", ())
                        if k.startswith(b"access-control-") or k == b"vary"
                    ]
                    await send_problem(exceeded, scope, edge_send_raw, extra_headers=kept)
                    return
                started_answer = True
                status = message["status"]
                headers = [(k, v) for k, v in message.get("headers", ()) if k != _REQUEST_ID]
                headers.append((_REQUEST_ID, raw_id))
                message["headers"] = headers
            elif exceeded is not None:
                return  # the rest of the app's own answer, replaced above
            await send(message)

        async def edge_send_raw(message: Message) -> None:
            nonlocal status
            if message["type"] == _START:
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), (_REQUEST_ID, raw_id)]
            await send(message)

        async def limited_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:  # type: ignore[operator]
                    exceeded = BodyTooLarge(limit)  # type: ignore[arg-type]
                    raise exceeded
            return message

        try:
            refusal = None
            if limit is not None:
                url_bytes = len(scope.get("raw_path") or scope["path"].encode()) + len(
                    scope.get("query_string", b"")
                )
                if url_bytes > MAX_URL_BYTES:
                    refusal = UrlTooLong()
                elif declared > limit:
                    refusal = BodyTooLarge(limit)
            if refusal is not None:
                scope[_REFUSAL] = refusal
                await self.refuse(scope, receive, edge_send)
                return
            try:
                await self.app(scope, receive if limit is None else limited_receive, edge_send)
            except BodyTooLarge as exc:
                # Raised while something below read the body without a handler of its
                # own: answer here unless an answer has begun.
                if started_answer:
                    raise
                started_answer = True
                await send_problem(exc, scope, edge_send_raw)
        finally:
            elapsed = time.perf_counter() - started
            if self.metrics is not None:
                route = (self.route(scope) if self.route else None) or route_template(scope)
                self.metrics.observe(scope["method"], route or UNMATCHED, str(status), elapsed)
            log_access(scope["method"], scope["path"], status, round(elapsed * 1000, 2))
            if deadline_token is not None:
                deadline_var.reset(deadline_token)
            request_id_var.reset(id_token)
