"""The hot path: a pure ASGI reverse proxy in front of the services.

No framework routing or dependencies run here. For each request the proxy picks
the upstream by path (``routing``), checks a bearer token if one is sent (the
verifier caches good tokens until they expire), and forwards the request over a
pool of keep-alive connections per upstream (``upstream``: a lean HTTP/1.1 client
on asyncio protocols and httptools' parser; headers pass as the bytes they came
in), streaming bodies both ways. An upstream that cannot be reached or does not
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
request sent on it would fail). A request the upstream closed the connection
under before any of its answer arrived is sent once more on another connection
when that is safe: an idempotent method, or a ``POST``/``PATCH`` that carries an
``Idempotency-Key`` (the service replays or runs it once), with its body in hand.

The gateway's own fan-out (composite views, readiness, the merged OpenAPI
document) uses each upstream's ``aiohttp`` session instead; it is not hot.
"""

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from services.common.auth import TokenVerifier, bearer_token
from services.common.deadline import budget_header
from services.common.errors import NotFound, Problem, ServiceUnavailable, Unauthorized
from services.common.requestid import accept_or_make
from services.common.tracing import trace_headers
from services.gateway import routing
from services.gateway.headers import (
    Forwarded,
    finish_headers,
    forward_headers,
    response_headers,
    send_response,
)
from services.gateway.upstream import Disconnected, Pool, UpstreamError, UpstreamTimeout
from services.gateway.upstream import Response as UpstreamAnswer

# aiohttp must not add headers the caller did not send.
_SKIP_AUTO = frozenset({"User-Agent", "Accept", "Accept-Encoding", "Content-Type"})
_BODYLESS = frozenset({"GET", "HEAD", "OPTIONS", "DELETE"})
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
# Below uvicorn's 5 s keep-alive so we never reuse a socket it is closing.
KEEPALIVE_SECONDS = 4.0
# What the gateway's own problems carry.
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
    """One service behind the gateway: the proxy's connection pool to it, and an aiohttp
    session for the gateway's own calls (views, readiness, OpenAPI)."""

    name: str
    base_url: str
    session: aiohttp.ClientSession
    pool: Pool
    timeout: float
    deadline: float
    budget: tuple[bytes, bytes]
    """The ``X-Request-Timeout-Ms`` header every forwarded request carries."""
    prefix: bytes = b""
    """The path of the base URL, put before every forwarded path."""

    @property
    def read_timeout(self) -> float:
        """Seconds the upstream has to start answering, and between pieces of its body."""
        return min(self.timeout, self.deadline)

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
        """Keep-alive pools: ``connect_timeout`` to connect, ``timeout`` for the upstream to
        start answering (and between body chunks), and ``deadline`` for the whole exchange,
        body included. Call it with the event loop running."""
        connector = aiohttp.TCPConnector(
            limit=max_connections,
            keepalive_timeout=KEEPALIVE_SECONDS,
            ttl_dns_cache=300,
            enable_cleanup_closed=False,
        )
        session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(
                total=None,
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
        base_url = base_url.rstrip("/")
        pool = Pool(
            base_url,
            connect_timeout=connect_timeout,
            keepalive=KEEPALIVE_SECONDS,
            limit=max_connections,
        )
        budget_name, budget_value = budget_header(min(timeout, deadline))
        return cls(
            name=name,
            base_url=base_url,
            session=session,
            pool=pool,
            timeout=timeout,
            deadline=deadline,
            budget=(budget_name.encode(), budget_value.encode()),
            prefix=urlsplit(base_url).path.encode("latin-1"),
        )

    async def close(self) -> None:
        await self.pool.close()
        await self.session.close()

    def unavailable(self, why: str) -> ServiceUnavailable:
        """The 503 problem a caller gets when this upstream fails them."""
        return ServiceUnavailable(
            f"The {self.name} service is unavailable: {why}. Try again shortly.",
            extra={"service": self.name},
        )


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


def _request_head(
    scope: Scope, upstream: Upstream, forwarded: Forwarded, data: bytes | BodyStream | None
) -> tuple[bytes, bool]:
    """The request line and headers to send, and whether a streamed body goes chunked."""
    headers = forwarded.headers
    chunked = False
    if isinstance(data, BodyStream):
        if forwarded.length is not None:
            headers.append((b"content-length", forwarded.length))
        else:
            chunked = True
            headers.append((b"transfer-encoding", b"chunked"))
    elif data is not None or scope["method"] not in _BODYLESS:
        headers.append((b"content-length", str(len(data or b"")).encode()))
    target: bytes = upstream.prefix + (scope.get("raw_path") or scope["path"].encode())
    query: bytes = scope.get("query_string", b"")
    if query:
        target += b"?" + query
    lines = [
        scope["method"].encode(),
        b" ",
        target,
        b" HTTP/1.1\r\nhost: ",
        upstream.pool.netloc,
        b"\r\n",
    ]
    for name, value in headers:
        lines += (name, b": ", value, b"\r\n")
    lines.append(b"\r\n")
    return b"".join(lines), chunked


class Proxy:
    """Pure ASGI app that forwards routed paths to their upstream."""

    def __init__(self, upstreams: dict[str, Upstream], verifier: TokenVerifier | None) -> None:
        self.upstreams = upstreams
        self.verifier = verifier
        self.tracing = False
        """Whether spans are recorded (then their ``traceparent`` goes upstream)."""

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
            forwarded = forward_headers(scope, request_id.encode(), upstream.budget)
            tracing = trace_headers() if self.tracing else None
            if tracing:  # the gateway's span is the upstream's parent
                names = {k.encode() for k in tracing}
                forwarded.headers = [(k, v) for k, v in forwarded.headers if k not in names]
                forwarded.headers.extend((k.encode(), v.encode()) for k, v in tracing.items())
            if forwarded.authorization is not None and path.startswith(routing.API_PREFIX):
                await self._verify(forwarded.authorization)
            data = None
            if forwarded.has_body or method not in _BODYLESS:
                data = await _read_body(receive, forwarded.has_body)
            response = await self._forward(upstream, scope, forwarded, data)
        except ClientGone:
            return
        except Problem as problem:
            await send_response(problem_response(problem, path), scope, receive, send)
            return
        except Exception:
            logger.exception("the gateway failed before answering", extra={"path": path})
            problem = Problem("Something went wrong on our side. It has been logged.")
            await send_response(problem_response(problem, path), scope, receive, send)
            return
        try:
            watch = not isinstance(data, BodyStream) or data.finished
            await _relay(
                response,
                scope,
                receive if watch else None,
                send,
                method,
                started + upstream.deadline,
                upstream.read_timeout,
            )
        except (UpstreamError, TimeoutError) as exc:
            # Too late for a problem: returning without the last body message makes the
            # server close the caller's connection, so the body is visibly incomplete.
            logger.warning(
                "the %s service broke off its answer: %r", upstream.name, exc, extra={"path": path}
            )
            response.close()
        finally:
            response.release()

    async def _verify(self, authorization: bytes) -> None:
        token = bearer_token(authorization.decode("latin-1"))
        if token is None:
            return
        if self.verifier is None:
            raise Unauthorized("This gateway has no way to check tokens; none are accepted.")
        await self.verifier.verify(token)

    async def _forward(
        self,
        upstream: Upstream,
        scope: Scope,
        forwarded: Forwarded,
        data: bytes | BodyStream | None,
    ) -> UpstreamAnswer:
        """Send the request upstream; its response once the status and headers are in."""
        method: str = scope["method"]
        head, chunked = _request_head(scope, upstream, forwarded, data)
        # Sent again once if the upstream closed the connection before answering (a pooled
        # one it had just closed): safe for idempotent methods and keyed writes (the service
        # answers those once), and only with the body in hand.
        again = (method in _IDEMPOTENT or forwarded.keyed) and not isinstance(data, BodyStream)
        while True:
            try:
                connection, _ = await upstream.pool.acquire()
                return await connection.request(
                    head,
                    data,
                    chunked=chunked,
                    head_only=method == "HEAD",
                    within=upstream.read_timeout,
                )
            except UpstreamTimeout as exc:
                raise upstream.unavailable(
                    f"it did not answer within {upstream.read_timeout:g} seconds"
                ) from exc
            except Disconnected as exc:
                if again and exc.before_answer:
                    again = False
                    continue
                raise upstream.unavailable("it closed the connection without answering") from exc
            except UpstreamError as exc:
                raise upstream.unavailable("it could not be reached") from exc


async def _relay(
    response: UpstreamAnswer,
    scope: Scope,
    receive: Receive | None,
    send: Send,
    method: str,
    deadline: float,
    read_timeout: float,
) -> None:
    """Send the upstream's answer to the caller, streaming the body until ``deadline``
    (``time.monotonic()``); past it, ``TimeoutError``.

    While a body that comes in more than one piece is relayed, ``receive`` (when
    the caller's own body has been read) is watched: if the caller goes away, the
    upstream connection is closed so the upstream stops producing the body.
    """
    start: Message = {
        "type": "http.response.start",
        "status": response.status,
        "headers": finish_headers(scope, response_headers(response)),
    }
    await send(start)
    if method == "HEAD":
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        return
    chunk = await response.read(read_timeout)
    done = not chunk or response.at_eof
    await send({"type": "http.response.body", "body": chunk, "more_body": not done})
    if done:
        return
    watcher = asyncio.ensure_future(_close_when_gone(receive, response)) if receive else None
    try:
        async with asyncio.timeout(deadline - time.monotonic()):
            while True:
                chunk = await response.read(read_timeout)
                done = not chunk or response.at_eof
                await send({"type": "http.response.body", "body": chunk, "more_body": not done})
                if done:
                    return
    except UpstreamError:
        if watcher is not None and watcher.done():
            return  # the caller went away and we stopped reading
        raise
    finally:
        if watcher is not None:
            watcher.cancel()


async def _close_when_gone(receive: Receive, response: UpstreamAnswer) -> None:
    """Wait for the caller to disconnect; then drop the upstream connection."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            response.close()
            return
