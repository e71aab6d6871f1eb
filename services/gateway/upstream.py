"""A lean keep-alive HTTP/1.1 client for the proxy's hot path.

aiohttp's client builds a request object, a URL, case-insensitive header
dictionaries, timers and a response object of some weight for every request;
behind the gateway that was a third of the CPU a proxied request cost. This
client does what the proxy needs and no more: one ``asyncio.Protocol`` per
connection, httptools' (llhttp) response parser, raw ``bytes`` headers passed
through as they came, and a pool of idle connections per upstream.

- ``Pool.acquire`` hands out an idle connection (most recently used first) or
  opens one, at most ``limit`` open at once (the rest wait); an idle connection
  older than ``keepalive`` seconds is closed rather than reused (below uvicorn's
  5 s, so a socket the server is closing is not written to).
- ``Connection.request`` writes the request (a body in one piece, or streamed:
  as it is, under the caller's ``Content-Length``, else chunked) and returns the
  ``Response`` once its status and headers are in, within ``within`` seconds.
- ``Response.read`` gives the body as it arrives (``within`` seconds at most
  between pieces); reading pauses the socket while more than ``HIGH_WATER``
  bytes wait, so a slow caller slows the upstream rather than filling memory.
- ``Response.release`` pools the connection if the answer was read to its end,
  both sides keep it alive and the status is below 500 (a server that failed
  may close the connection right after answering); anything else closes it.

``UpstreamError`` (and ``UpstreamTimeout``) is all that is raised for the
upstream's failures; ``Disconnected.before_answer`` says whether any of the
answer had arrived, which decides whether a request may be sent again.
"""

import asyncio
import ssl
import time
from collections import deque
from collections.abc import AsyncIterable
from urllib.parse import urlsplit

import httptools

#: Bytes of body buffered before the upstream socket stops being read.
HIGH_WATER = 256 * 1024
LOW_WATER = 64 * 1024
_CRLF = b"\r\n"
_LAST_CHUNK = b"0\r\n\r\n"


class UpstreamError(Exception):
    """The upstream could not be reached, broke the connection or sent no valid answer."""


class ConnectFailed(UpstreamError):
    """No connection could be opened."""


class Disconnected(UpstreamError):
    """The connection closed (or was closed) before the answer was complete."""

    def __init__(self, message: str, *, before_answer: bool) -> None:
        super().__init__(message)
        self.before_answer = before_answer


class UpstreamTimeout(UpstreamError, TimeoutError):
    """The upstream did not answer, or did not send more of its answer, in time."""


def _expire(waiter: asyncio.Future) -> None:
    if not waiter.done():
        waiter.set_exception(UpstreamTimeout("no answer in time"))


class Response:
    """One answer: its status and raw headers, then its body piece by piece."""

    __slots__ = (
        "_buffered",
        "_chunks",
        "_paused",
        "_waiter",
        "complete",
        "connection",
        "error",
        "head",
        "head_only",
        "headers",
        "interim",
        "keep_alive",
        "status",
    )

    def __init__(self, connection: "Connection", head_only: bool) -> None:
        self.connection = connection
        self.head_only = head_only
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.head: asyncio.Future[None] = connection.loop.create_future()
        self.complete = False
        self.keep_alive = False
        self.interim = False
        self.error: UpstreamError | None = None
        self._chunks: deque[bytes] = deque()
        self._buffered = 0
        self._paused = False
        self._waiter: asyncio.Future[None] | None = None

    # httptools' callbacks -------------------------------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        status = self.connection.parser.get_status_code()
        if 100 <= status < 200:  # an interim answer (103 Early Hints): the real one follows
            self.interim = True
            self.headers = []
            return
        self.status = status
        if self.head_only:  # a HEAD answer has no body whatever its headers say
            self._finish()
        if not self.head.done():
            self.head.set_result(None)

    def on_body(self, body: bytes) -> None:
        self._chunks.append(body)
        self._buffered += len(body)
        if self._buffered > HIGH_WATER and not self._paused:
            self._paused = True
            self.connection.transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        if self.interim:
            self.interim = False
            return
        self._finish()

    # ----------------------------------------------------------------------------------------

    def _finish(self) -> None:
        if not self.complete:
            self.complete = True
            self.keep_alive = self.connection.parser.should_keep_alive()
            self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def fail(self, error: UpstreamError) -> None:
        """The exchange is over without a complete answer: wake whoever waits for it."""
        if self.complete or self.error is not None:
            return
        self.error = error
        if not self.head.done():
            self.head.set_exception(error)
            self.head.exception()  # retrieved here: nobody may be waiting for the head any more
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(error)

    @property
    def at_eof(self) -> bool:
        """The whole body has arrived and been read."""
        return self.complete and not self._chunks

    async def read(self, within: float) -> bytes:
        """The next piece of the body (all that is buffered), within ``within`` seconds;
        ``b""`` at its end."""
        while True:
            chunks = self._chunks
            if chunks:
                if len(chunks) == 1:
                    chunk = chunks.popleft()
                else:
                    chunk = b"".join(chunks)
                    chunks.clear()
                self._buffered = 0
                if self._paused:
                    self._paused = False
                    if not self.connection.closed:
                        self.connection.transport.resume_reading()
                return chunk
            if self.complete:
                return b""
            if self.error is not None:
                raise self.error
            loop = self.connection.loop
            waiter = self._waiter = loop.create_future()
            timer = loop.call_later(within, _expire, waiter)
            try:
                await waiter
            finally:
                timer.cancel()
                self._waiter = None

    def close(self) -> None:
        """Drop the connection (the caller went away, or the body was broken off)."""
        self.connection.close()

    def release(self) -> None:
        """Pool the connection if it can carry another request; otherwise close it."""
        connection = self.connection
        if connection.response is not self:
            return
        connection.response = None
        reusable = self.complete and self.keep_alive and self.status < 500
        if reusable and not connection.closed and connection.writer is None:
            connection.pool.put(connection)
        else:
            connection.close()


class Connection(asyncio.Protocol):
    """One keep-alive connection to an upstream, carrying one exchange at a time."""

    def __init__(self, pool: "Pool") -> None:
        self.pool = pool
        self.loop = pool.loop
        self.transport: asyncio.Transport = None  # type: ignore[assignment]
        self.parser: httptools.HttpResponseParser = None  # type: ignore[assignment]
        self.response: Response | None = None
        self.closed = False
        self.received = False
        self.idle_since = 0.0
        self._drain: asyncio.Future[None] | None = None
        self._paused = False
        self.writer: asyncio.Task | None = None
        """A streamed request body still being sent (the connection is not reused until
        it is done)."""

    # asyncio.Protocol -----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        response = self.response
        if response is None or response.complete:  # a server talking out of turn
            self.close()
            return
        self.received = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            response.fail(
                Disconnected(f"its answer is not valid HTTP ({exc})", before_answer=False)
            )
            self.close()

    def eof_received(self) -> bool | None:
        return None  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.pool.forget(self)
        response = self.response
        if response is not None:
            if not response.complete and response.head.done() and not response.head_only:
                if not self._delimited(response):
                    response._finish()  # an answer that ends when the connection does
            response.fail(
                Disconnected(
                    "the connection closed before the answer was complete",
                    before_answer=not self.received,
                )
            )
        self._wake_writer()

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        self._wake_writer()

    # ----------------------------------------------------------------------------------------

    @staticmethod
    def _delimited(response: Response) -> bool:
        for name, value in response.headers:
            lowered = name.lower()
            if lowered == b"content-length" or (
                lowered == b"transfer-encoding" and b"chunked" in value.lower()
            ):
                return True
        return False

    def _wake_writer(self) -> None:
        drain = self._drain
        if drain is not None and not drain.done():
            drain.set_result(None)

    async def _drained(self) -> None:
        if self._paused and not self.closed:
            self._drain = self.loop.create_future()
            try:
                await self._drain
            finally:
                self._drain = None
        if self.closed:
            raise Disconnected("the connection closed while the body was sent", before_answer=True)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.transport.close()

    async def request(
        self,
        head: bytes,
        body: bytes | AsyncIterable[bytes] | None,
        *,
        chunked: bool,
        head_only: bool,
        within: float,
    ) -> Response:
        """Send a request; its ``Response`` once the status and headers are in.

        ``head`` is the request line and headers, ending with the blank line; the status
        and headers must arrive ``within`` seconds. A
        streamed ``body`` is written while the answer is awaited (an upstream may
        answer before it has read all of it); ``chunked`` frames its pieces.
        """
        if self.closed:
            raise Disconnected("the connection had closed", before_answer=True)
        response = self.response = Response(self, head_only)
        self.parser = httptools.HttpResponseParser(response)
        self.received = False
        writer = None
        if body is None or isinstance(body, bytes):
            self.transport.write(head + body if body else head)
        else:
            self.transport.write(head)
            writer = self.writer = self.loop.create_task(self._send_body(body, chunked))
            writer.add_done_callback(self._body_sent)
        timer = self.loop.call_later(within, _expire, response.head)
        try:
            if writer is None:
                await response.head
            else:
                await asyncio.wait((writer, response.head), return_when=asyncio.FIRST_COMPLETED)
                if writer.done() and writer.exception() is not None:
                    raise writer.exception()  # type: ignore[misc]
                if not response.head.done():
                    await writer
                    await response.head
                response.head.result()
        except BaseException:
            timer.cancel()
            if writer is not None and not writer.done():
                writer.cancel()
            self.response = None
            self.close()
            raise
        timer.cancel()
        return response

    def _body_sent(self, writer: asyncio.Task) -> None:
        self.writer = None
        if writer.cancelled() or writer.exception() is not None:
            self.close()  # the request is incomplete: nothing more can be sent on it

    async def _send_body(self, body: AsyncIterable[bytes], chunked: bool) -> None:
        write = self.transport.write
        async for piece in body:
            if self.closed:
                raise Disconnected(
                    "the connection closed while the body was sent", before_answer=True
                )
            if chunked:
                write(b"%x\r\n%b\r\n" % (len(piece), piece))
            else:
                write(piece)
            await self._drained()
        if chunked and not self.closed:
            write(_LAST_CHUNK)


class Pool:
    """Keep-alive connections to one upstream (``http://host:port`` or ``https://``)."""

    def __init__(
        self, base_url: str, *, connect_timeout: float, keepalive: float, limit: int
    ) -> None:
        parts = urlsplit(base_url)
        self.host = parts.hostname or "127.0.0.1"
        self.ssl = ssl.create_default_context() if parts.scheme == "https" else None
        self.port = parts.port or (443 if self.ssl else 80)
        self.netloc = parts.netloc.encode("latin-1")
        self.connect_timeout = connect_timeout
        self.keepalive = keepalive
        self.limit = max(1, limit)
        self.loop = asyncio.get_running_loop()
        self.idle: list[Connection] = []
        self.open = 0
        self._all: set[Connection] = set()
        self._waiters: deque[asyncio.Future[Connection | None]] = deque()
        self.closing = False

    async def acquire(self) -> tuple[Connection, bool]:
        """A connection to send on, and whether it was used before (so may have been closed
        by the server while it sat idle)."""
        idle = self.idle
        while True:
            now = time.monotonic()
            while idle:
                connection = idle.pop()
                if connection.closed:
                    continue
                if now - connection.idle_since > self.keepalive:
                    connection.close()
                    continue
                return connection, True
            if self.open < self.limit:
                return await self._connect(), False
            waiter = self.loop.create_future()
            self._waiters.append(waiter)
            try:
                handed = await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled() and waiter.result() is not None:
                    self.put(waiter.result())  # type: ignore[arg-type]
                raise
            if handed is not None:
                return handed, True

    async def _connect(self) -> Connection:
        self.open += 1
        try:
            async with asyncio.timeout(self.connect_timeout):
                _, connection = await self.loop.create_connection(
                    lambda: Connection(self), self.host, self.port, ssl=self.ssl
                )
        except TimeoutError as exc:
            self._closed_one()
            raise UpstreamTimeout("it did not accept a connection in time") from exc
        except OSError as exc:
            self._closed_one()
            raise ConnectFailed(str(exc)) from exc
        except BaseException:
            self._closed_one()
            raise
        self._all.add(connection)
        return connection

    def put(self, connection: Connection) -> None:
        """An idle connection back in the pool (or straight to a request waiting for one)."""
        if self.closing:
            connection.close()
            return
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(connection)
                return
        connection.idle_since = time.monotonic()
        self.idle.append(connection)

    def forget(self, connection: Connection) -> None:
        """A connection has closed: its place may be taken by a new one."""
        if connection in self._all:
            self._all.discard(connection)
            self._closed_one()

    def _closed_one(self) -> None:
        self.open -= 1
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    async def close(self) -> None:
        """Close every connection."""
        self.closing = True
        for connection in list(self._all):
            connection.close()
        self.idle.clear()
        await asyncio.sleep(0)
