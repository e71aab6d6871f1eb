"""The hot path: a pure ASGI reverse proxy in front of the services.

No framework routing or dependencies run here. For each request the proxy picks
the upstream by path (``routing``), checks a bearer token if one is sent (the
verifier caches good tokens until they expire), and forwards the request over
one long-lived ``aiohttp`` session per upstream (keep-alive connection pool),
streaming bodies both ways. An upstream that cannot be reached or does not
answer in time becomes a 503 problem naming it; nothing ever hangs.

Deadlines: each request has ``request_deadline`` seconds end to end, the body
included: the answer must start within ``min(timeout, deadline)``, and a body
that comes in several pieces is relayed under a timer that ends at the
deadline, so an upstream that drips its body is cut off then. The upstream is
told how long it has to decide in ``X-Request-Timeout-Ms`` (less than the
gateway waits, so it gives up and keeps nothing before the caller is told the
request failed; see ``services.common.deadline``). A 503 the upstream answers
itself (naming the service behind it that was slow) is passed on unchanged.

Connections: after an answer of 500 or more the connection is closed rather
than pooled (a server that failed may close it right after answering, and a
request sent on it would fail); aiohttp itself retries idempotent methods once
on a pooled connection the server had closed, and the proxy does the same for
a ``POST``/``PATCH`` that carries an ``Idempotency-Key`` (the service replays
or runs it once).
"""

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send
from yarl import URL

from services.common.auth import TokenVerifier, bearer_token
from services.common.deadline import HEADER as DEADLINE_HEADER
from services.common.deadline import budget_header
from services.common.errors import NotFound, Problem, ServiceUnavailable, Unauthorized
from services.common.requestid import accept_or_make
from services.common.tracing import trace_headers
from services.gateway import routing

HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"trailers",
        b"transfer-encoding",
        b"upgrade",
    }
)
# Not forwarded upstream: the upstream's own host is used, and the request id is set below.
# The deadline is the gateway's to set: a caller's own is not passed on.
_DROP_REQUEST = HOP_BY_HOP | {
    b"host",
    b"x-request-id",
    b"x-forwarded-for",
    b"x-forwarded-host",
    DEADLINE_HEADER.encode(),
}
# Not passed back: the gateway's server adds its own date and server headers.
_DROP_RESPONSE = HOP_BY_HOP | {b"date", b"server", b"x-request-id"}
# aiohttp must not add headers the caller did not send.
_SKIP_AUTO = frozenset({"User-Agent", "Accept", "Accept-Encoding", "Content-Type"})
_BODYLESS = frozenset({"GET", "HEAD", "OPTIONS", "DELETE"})
# What every answer carries unless the upstream chose otherwise (public data may be cached).
NOSNIFF = (b"x-content-type-options", b"nosniff")
_NO_STORE = (b"cache-control", b"no-store")
PROBLEM_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}

logger = logging.getLogger("trellis.gateway")


class UpstreamResponse(aiohttp.ClientResponse):
    """An upstream's answer; after a server error its connection is closed, not pooled.

    A server whose handler failed may close the connection right after answering
    (uvicorn does when the app raised), and that close can arrive after the next
    request was written on the pooled connection. aiohttp hands the connection
    back to the pool the moment the body has been read (often inside
    ``start()``), so it is marked here, at that moment.
    """

    _eof_in_start = False

    async def start(self, connection: Any) -> "UpstreamResponse":
        await super().start(connection)
        if self._eof_in_start:
            self._response_eof()
        return self

    def _response_eof(self) -> None:
        status = self.status
        if status is None:  # a body that ended inside start(), before the status was set
            self._eof_in_start = True
            return
        if status >= 500:
            connection = self._connection
            protocol = connection.protocol if connection is not None else None
            if protocol is not None:
                protocol.force_close()
        super()._response_eof()


@dataclass
class Upstream:
    """One service behind the gateway and the pooled HTTP session that reaches it."""

    name: str
    base_url: str
    session: aiohttp.ClientSession
    timeout: float
    deadline: float
    budget: tuple[str, str]
    """The ``X-Request-Timeout-Ms`` header every forwarded request carries."""

    @classmethod
    def open(
        cls,
        name: str,
        base_url: str,
        *,
        connect_timeout: float,
        timeout: float,
        max_connections: int,
        deadline: float = 30.0,
    ) -> "Upstream":
        """A session with a keep-alive pool: ``connect_timeout`` to connect, ``timeout``
        for the upstream to start answering (and between body chunks), and ``deadline``
        for the whole exchange, body included."""
        connector = aiohttp.TCPConnector(
            limit=max_connections,
            # Below uvicorn's 5 s keep-alive so we never reuse a socket it is closing.
            keepalive_timeout=4.0,
            ttl_dns_cache=300,
            enable_cleanup_closed=False,
        )
        session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(
                total=None,  # the deadline over a streamed body is kept by _relay, more cheaply
                connect=connect_timeout,
                sock_connect=connect_timeout,
                sock_read=min(timeout, deadline),
            ),
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=False,
            skip_auto_headers=_SKIP_AUTO,
            raise_for_status=False,
            response_class=UpstreamResponse,
        )
        return cls(
            name=name,
            base_url=base_url.rstrip("/"),
            session=session,
            timeout=timeout,
            deadline=deadline,
            budget=budget_header(min(timeout, deadline)),
        )

    async def close(self) -> None:
        await self.session.close()

    def unavailable(self, why: str) -> ServiceUnavailable:
        """The 503 problem a caller gets when this upstream fails them."""
        return ServiceUnavailable(
            f"The {self.name} service is unavailable: {why}. Try again shortly.",
            extra={"service": self.name},
        )


def _forward_headers(
    scope: Scope, request_id: str, budget: tuple[str, str]
) -> tuple[list[tuple[str, str]], str | None, bool, bool]:
    """Headers to send upstream, the Authorization value, whether a body follows, and
    whether the request carries an ``Idempotency-Key`` (so it may be sent again)."""
    headers: list[tuple[str, str]] = []
    authorization = None
    has_body = False
    keyed = False
    host = None
    forwarded_for = None
    connection_tokens: set[bytes] = set()
    raw = scope["headers"]
    for name, value in raw:
        if name == b"connection":
            connection_tokens.update(t.strip().lower() for t in value.split(b","))
    for name, value in raw:
        if name in _DROP_REQUEST or name in connection_tokens:
            if name == b"host":
                host = value.decode("latin-1")
            elif name == b"x-forwarded-for":
                forwarded_for = value.decode("latin-1")
            elif name == b"transfer-encoding":
                has_body = True
            continue
        text = value.decode("latin-1")
        if name == b"authorization":
            authorization = text
        elif name == b"content-length":
            has_body = text.strip() not in ("", "0")
        elif name == b"idempotency-key":
            keyed = True
        headers.append((name.decode("latin-1"), text))
    headers.append(("x-request-id", request_id))
    headers.append(budget)
    client = scope.get("client")
    if client:
        chain = f"{forwarded_for}, {client[0]}" if forwarded_for else client[0]
        headers.append(("x-forwarded-for", chain))
    headers.append(("x-forwarded-proto", scope.get("scheme", "http")))
    if host:
        headers.append(("x-forwarded-host", host))
    return headers, authorization, has_body, keyed


class ClientGone(Exception):
    """The caller disconnected before its request was forwarded."""


def problem_response(problem: Problem, instance: str) -> Response:
    response = problem.to_response(instance)
    for name, value in PROBLEM_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


class BodyStream:
    """The caller's body, forwarded piece by piece as it arrives."""

    def __init__(self, receive: Receive, first: bytes) -> None:
        self.receive = receive
        self.first = first
        self.finished = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        if self.first:
            yield self.first
        while True:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                raise ClientGone()
            chunk = message.get("body", b"")
            if chunk:
                yield chunk
            if not message.get("more_body", False):
                self.finished = True
                return


async def _read_body(receive: Receive, has_body: bool) -> bytes | BodyStream | None:
    """The body to forward: bytes when it came in one piece, else a stream."""
    message = await receive()
    if message["type"] == "http.disconnect":
        raise ClientGone()
    chunk: bytes = message.get("body", b"")
    if not message.get("more_body", False):
        return chunk if (chunk or has_body) else None
    return BodyStream(receive, chunk)


class Proxy:
    """Pure ASGI app that forwards routed paths to their upstream."""

    def __init__(self, upstreams: dict[str, Upstream], verifier: TokenVerifier | None) -> None:
        self.upstreams = upstreams
        self.verifier = verifier

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.monotonic()
        path: str = scope["path"]
        method: str = scope["method"]
        try:
            service = routing.service_for(path)
            if service is None:
                raise NotFound(
                    f"There is no resource called '{routing.resource_of(path)}' in this API. "
                    "See /docs for the resources there are."
                )
            upstream = self.upstreams[service]
            state = scope.get("state") or {}
            request_id = state.get("request_id") or accept_or_make(None)
            headers, authorization, has_body, keyed = _forward_headers(
                scope, request_id, upstream.budget
            )
            tracing = trace_headers()
            if tracing:  # the gateway's span is the upstream's parent
                headers = [(k, v) for k, v in headers if k not in tracing]
                headers.extend(tracing.items())
            if authorization is not None and path.startswith(routing.API_PREFIX):
                await self._verify(authorization)
            data = None
            if has_body or method not in _BODYLESS:
                data = await _read_body(receive, has_body)
            response = await self._forward(upstream, scope, headers, data, keyed)
        except ClientGone:
            return
        except Problem as problem:
            await problem_response(problem, path)(scope, receive, send)
            return
        except Exception:
            logger.exception("the gateway failed before answering", extra={"path": path})
            problem = Problem("Something went wrong on our side. It has been logged.")
            await problem_response(problem, path)(scope, receive, send)
            return
        try:
            watch = not isinstance(data, BodyStream) or data.finished
            await _relay(
                response, receive if watch else None, send, method, started + upstream.deadline
            )
        except (aiohttp.ClientError, TimeoutError) as exc:
            # Too late for a problem: returning without the last body message makes the
            # server close the caller's connection, so the body is visibly incomplete.
            logger.warning(
                "the %s service broke off its answer: %r", upstream.name, exc, extra={"path": path}
            )
            response.close()
        finally:
            response.release()

    async def _verify(self, authorization: str) -> None:
        token = bearer_token(authorization)
        if token is None:
            return
        if self.verifier is None:
            raise Unauthorized("This gateway has no way to check tokens; none are accepted.")
        await self.verifier.verify(token)

    async def _forward(
        self,
        upstream: Upstream,
        scope: Scope,
        headers: list[tuple[str, str]],
        data: bytes | BodyStream | None,
        keyed: bool,
    ) -> aiohttp.ClientResponse:
        """Send the request upstream; its response once the status and headers are in."""
        method: str = scope["method"]
        raw_path: bytes = scope.get("raw_path") or scope["path"].encode()
        target = upstream.base_url + raw_path.decode("latin-1")
        query: bytes = scope.get("query_string", b"")
        if query:
            target += "?" + query.decode("latin-1")
        url = URL(target, encoded=True)
        # aiohttp sends idempotent methods again itself when a pooled connection turns out
        # closed; a keyed write may be sent again too (the service answers it once).
        again = keyed and not isinstance(data, BodyStream)
        while True:
            try:
                return await upstream.session.request(
                    method, url, headers=headers, data=data, allow_redirects=False
                )
            except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
                raise upstream.unavailable(
                    f"it did not answer within {min(upstream.timeout, upstream.deadline):g} seconds"
                ) from exc
            except aiohttp.ClientConnectorError as exc:
                raise upstream.unavailable("it could not be reached") from exc
            except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError) as exc:
                if again:
                    again = False
                    continue
                raise upstream.unavailable("it closed the connection without answering") from exc
            except aiohttp.ClientError as exc:
                raise upstream.unavailable("it could not be reached") from exc


async def _relay(
    response: aiohttp.ClientResponse,
    receive: Receive | None,
    send: Send,
    method: str,
    deadline: float,
) -> None:
    """Send the upstream's answer to the caller, streaming the body until ``deadline``
    (``time.monotonic()``); past it, ``TimeoutError``.

    While a body that comes in more than one piece is relayed, ``receive`` (when
    the caller's own body has been read) is watched: if the caller goes away, the
    upstream connection is closed so the upstream stops producing the body.
    """
    raw = response.raw_headers
    drop = _DROP_RESPONSE
    for name, value in raw:
        if name.lower() == b"connection":
            drop = drop | {t.strip().lower() for t in value.split(b",")}
    headers = []
    nosniff = no_store = True
    for name, value in raw:
        name = name.lower()
        if name in drop:
            continue
        if name == b"cache-control":
            no_store = False
        elif name == b"x-content-type-options":
            nosniff = False
        headers.append((name, value))
    if nosniff:
        headers.append(NOSNIFF)
    if no_store:
        headers.append(_NO_STORE)
    start: Message = {"type": "http.response.start", "status": response.status, "headers": headers}
    await send(start)
    if method == "HEAD":
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        return
    content = response.content
    chunk = await content.readany()
    done = not chunk or content.at_eof()
    await send({"type": "http.response.body", "body": chunk, "more_body": not done})
    if done:
        return
    watcher = asyncio.ensure_future(_close_when_gone(receive, response)) if receive else None
    try:
        async with asyncio.timeout(deadline - time.monotonic()):
            while True:
                chunk = await content.readany()
                done = not chunk or content.at_eof()
                await send({"type": "http.response.body", "body": chunk, "more_body": not done})
                if done:
                    return
    except aiohttp.ClientError:
        if watcher is not None and watcher.done():
            return  # the caller went away and we stopped reading
        raise
    finally:
        if watcher is not None:
            watcher.cancel()


async def _close_when_gone(receive: Receive, response: aiohttp.ClientResponse) -> None:
    """Wait for the caller to disconnect; then drop the upstream connection."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            response.close()
            return
