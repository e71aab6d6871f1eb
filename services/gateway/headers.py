"""Headers on the proxy's path: what goes upstream, what comes back, and what the layers
in front of the proxy add to its answers (through the scope, not by wrapping ``send``)."""

from dataclasses import dataclass

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from services.common.deadline import HEADER as DEADLINE_HEADER
from services.gateway.upstream import Response as UpstreamAnswer

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
    b"content-length",  # set again for the body as it is sent
    b"expect",  # the gateway's server answered it; the upstream gets the body at once
    DEADLINE_HEADER.encode(),
}
# Not passed back: the gateway's server adds its own date and server headers.
_DROP_RESPONSE = HOP_BY_HOP | {b"date", b"server", b"x-request-id"}
_SCHEMES = {"http": b"http", "https": b"https"}
# What every answer carries unless the upstream chose otherwise (public data may be cached).
NOSNIFF = (b"x-content-type-options", b"nosniff")
_NO_STORE = (b"cache-control", b"no-store")

#: Scope keys through which the layers in front of the proxy add to its answers rather
#: than each wrapping ``send``: headers to add, and whether ``Origin`` joins ``Vary``.
EXTRA_HEADERS = "trellis.extra_headers"
VARY_ORIGIN = "trellis.vary_origin"
_VARY_ORIGIN = (b"vary", b"Origin")


def vary_origin(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """``headers`` with ``Origin`` added to ``Vary`` (one ``Vary`` header, as Starlette)."""
    varies = [v for n, v in headers if n == b"vary"]
    if not varies:
        return [*headers, _VARY_ORIGIN]
    kept = [(n, v) for n, v in headers if n != b"vary"]
    kept.append((b"vary", b", ".join([*varies, b"Origin"])))
    return kept


def finish_headers(scope: Scope, headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """An answer's headers with what the layers in front asked for (``EXTRA_HEADERS``,
    ``VARY_ORIGIN``)."""
    extra = scope.get(EXTRA_HEADERS)
    if extra:
        headers.extend(extra)
    if scope.get(VARY_ORIGIN):
        headers = vary_origin(headers)
    return headers


async def send_response(response: Response, scope: Scope, receive: Receive, send: Send) -> None:
    """Send one of the gateway's own answers (a problem) on the proxy's path."""
    response.raw_headers = finish_headers(scope, list(response.raw_headers))
    await response(scope, receive, send)


@dataclass(slots=True)
class Forwarded:
    """What the proxy sends upstream, read from the caller's request in one pass."""

    headers: list[tuple[bytes, bytes]]
    authorization: bytes | None
    has_body: bool
    keyed: bool
    length: bytes | None
    """The caller's ``Content-Length``, if it sent one."""


def forward_headers(scope: Scope, request_id: bytes, budget: tuple[bytes, bytes]) -> Forwarded:
    """Headers to send upstream (as the bytes they came in, less hop-by-hop ones and those
    the gateway sets itself) and what the proxy needs to know of the rest."""
    headers: list[tuple[bytes, bytes]] = []
    authorization = length = host = forwarded_for = None
    has_body = keyed = False
    raw = scope["headers"]
    drop = _DROP_REQUEST
    for name, value in raw:
        if name == b"connection":
            drop = drop | {t.strip().lower() for t in value.split(b",")}
    for name, value in raw:
        if name in drop:
            if name == b"host":
                host = value
            elif name == b"x-forwarded-for":
                forwarded_for = value
            elif name == b"transfer-encoding":
                has_body = True
            elif name == b"content-length":
                length = value.strip()
                has_body = length not in (b"", b"0")
            continue
        if name == b"authorization":
            authorization = value
        elif name == b"idempotency-key":
            keyed = True
        headers.append((name, value))
    headers.append((b"x-request-id", request_id))
    headers.append(budget)
    client = scope.get("client")
    if client:
        address = client[0].encode("latin-1")
        headers.append(
            (b"x-forwarded-for", forwarded_for + b", " + address if forwarded_for else address)
        )
    headers.append((b"x-forwarded-proto", _SCHEMES.get(scope.get("scheme", "http"), b"http")))
    if host:
        headers.append((b"x-forwarded-host", host))
    return Forwarded(headers, authorization, has_body, keyed, length)


def response_headers(response: UpstreamAnswer) -> list[tuple[bytes, bytes]]:
    """The upstream's headers for the caller: hop-by-hop ones dropped (and those its
    ``Connection`` names), ``nosniff`` and ``no-store`` added unless it set its own."""
    raw = response.headers
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
    return headers
