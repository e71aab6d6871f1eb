"""The HTTP server's own answers, as problem+json like every other error.

uvicorn answers a request it cannot parse itself, before any app sees it, with a
plain-text ``400 Invalid HTTP request received.``: a URL longer than its parser
takes (httptools reads at most 64 KiB of URL), a header line it cannot read, a
request that is not HTTP/1.1 at all. ``ProblemHttpToolsProtocol`` is uvicorn's
httptools protocol with those answers made problem+json, saying what to fix:

- a URL over ``MAX_SERVER_URL_BYTES`` (32 KiB, under the parser's own limit): 414
  ``uri-too-long``, refused as soon as the URL passes it, without reading the rest;
- headers over ``MAX_HEADER_BYTES`` in all: 431 ``headers-too-large`` (httptools sets
  no limit of its own);
- anything else unreadable: 400 ``malformed-request``.

URLs between the app's limit (``limits.MAX_URL_BYTES``, 8 KiB) and the server's reach
the app, whose ``SizeLimitMiddleware`` answers the same 414. ``trellis serve`` (so
``trellis up`` and the containers) runs every service and the gateway with this
protocol; with uvicorn's own command line, pass
``--http services.common.server:ProblemHttpToolsProtocol``.
"""

import orjson
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from services.common.errors import PROBLEM_MEDIA_TYPE, BadRequest, Problem
from services.common.limits import UrlTooLong

MAX_SERVER_URL_BYTES = 32 * 1024
MAX_HEADER_BYTES = 64 * 1024


class HeadersTooLarge(Problem):
    status, slug, title = 431, "headers-too-large", "Request headers too large"

    def __init__(self) -> None:
        super().__init__(
            f"The request's headers are larger than this API takes ({MAX_HEADER_BYTES} bytes "
            "in all). Send fewer or shorter headers (cookies of other sites, for instance).",
            extra={"limit": MAX_HEADER_BYTES},
        )


class MalformedRequest(BadRequest):
    slug, title = "malformed-request", "Malformed HTTP request"

    def __init__(self) -> None:
        super().__init__(
            "The request is not valid HTTP/1.1: its request line or a header could not be "
            "read. Send `METHOD /path HTTP/1.1` with a percent-encoded URL, then `Name: value` "
            "header lines."
        )


class _Refused(Exception):
    """Raised from a parser callback to stop reading a request over a limit."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.detail)
        self.problem = problem


def problem_bytes(problem: Problem, default_headers: list[tuple[bytes, bytes]]) -> bytes:
    """A whole HTTP/1.1 answer carrying ``problem``; the connection closes after it."""
    body = orjson.dumps(problem.body(""))
    lines = [STATUS_LINE[problem.status]]
    for name, value in default_headers:
        lines += [name, b": ", value, b"\r\n"]
    lines += [
        b"content-type: " + PROBLEM_MEDIA_TYPE.encode() + b"\r\n",
        b"content-length: " + str(len(body)).encode() + b"\r\n",
        b"cache-control: no-store\r\n",
        b"x-content-type-options: nosniff\r\n",
        b"connection: close\r\n\r\n",
        body,
    ]
    return b"".join(lines)


class ProblemHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, whose own refusals are problem+json (see the module)."""

    _refused: Problem | None = None
    _header_bytes = 0

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._refused = None
        self._header_bytes = 0

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        if len(self.url) > MAX_SERVER_URL_BYTES:
            self._refuse(UrlTooLong())

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_bytes += len(name) + len(value) + 4
        if self._header_bytes > MAX_HEADER_BYTES:
            self._refuse(HeadersTooLarge())
        super().on_header(name, value)

    def _refuse(self, problem: Problem) -> None:
        self._refused = problem
        raise _Refused(problem)  # the parser stops; ``send_400_response`` answers

    def send_400_response(self, msg: str) -> None:
        problem = self._refused or MalformedRequest()
        self.transport.write(problem_bytes(problem, self.server_state.default_headers))
        self.transport.close()
