"""Where a webhook may go: only public addresses over HTTPS, unless the operator allows more.

A name is resolved, every address it resolves to is checked, and the request is
then made to the checked address (the name still goes in ``Host`` and in TLS's
SNI, so certificates are verified against it). A name that resolves to a public
address at registration and to ``127.0.0.1`` at delivery time (DNS rebinding)
is refused at delivery time.
"""

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from services.common.errors import Unprocessable

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class RefusedDestination(Exception):
    """The URL points somewhere webhooks may not go."""


@dataclass(frozen=True, slots=True)
class Target:
    """A checked destination: connect to ``address``, present ``host``."""

    scheme: str
    host: str
    port: int
    address: IPAddress
    path: str

    @property
    def connect_url(self) -> str:
        ip = f"[{self.address}]" if self.address.version == 6 else str(self.address)
        return f"{self.scheme}://{ip}:{self.port}{self.path}"

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        return self.host if self.port == default else f"{self.host}:{self.port}"


def is_public(address: IPAddress) -> bool:
    """Global unicast only: not loopback, private, link-local, shared, multicast or reserved."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return is_public(address.ipv4_mapped)
    return address.is_global and not address.is_multicast


async def lookup(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to now (the system resolver, off the event loop)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]).split("%")[0] for info in infos]


def check_url_shape(url: str, *, allow_private: bool) -> None:
    """Refuse what is wrong with a URL before any resolution (registration's 422)."""
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise RefusedDestination("This is not a valid URL.") from exc
    allowed = {"https", "http"} if allow_private else {"https"}
    if parts.scheme not in allowed:
        raise RefusedDestination("A webhook URL must use https://.")
    if not parts.hostname:
        raise RefusedDestination("A webhook URL needs a host name.")
    if parts.username or parts.password:
        raise RefusedDestination("A webhook URL may not carry a user name or password.")
    if parts.fragment:
        raise RefusedDestination("A webhook URL may not have a #fragment.")
    try:
        parts.port  # noqa: B018 - raises on an invalid port
    except ValueError as exc:
        raise RefusedDestination("The port of this webhook URL is not valid.") from exc


async def resolve(url: str, *, allow_private: bool) -> Target:
    """Resolve the URL's host and check every address; answer the one to connect to."""
    check_url_shape(url, allow_private=allow_private)
    parts = urlsplit(url)
    host = (parts.hostname or "").rstrip(".")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        literal: IPAddress | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [literal]
    else:
        try:
            addresses = [ipaddress.ip_address(a) for a in await lookup(host, port)]
        except (OSError, UnicodeError, ValueError) as exc:
            raise RefusedDestination(f"The host {host} could not be resolved.") from exc
        if not addresses:
            raise RefusedDestination(f"The host {host} could not be resolved.")
    if not allow_private:
        refused = [a for a in addresses if not is_public(a)]
        if refused:
            raise RefusedDestination(
                f"The host {host} resolves to {refused[0]}, a loopback, private, link-local "
                "or otherwise non-public address; webhooks only go to public addresses."
            )
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(scheme=parts.scheme, host=host, port=port, address=addresses[0], path=path)


async def check_registration(url: str, *, allow_private: bool) -> None:
    """Registration's check: the same as at delivery time, answered as a 422."""
    try:
        await resolve(url, allow_private=allow_private)
    except RefusedDestination as exc:
        raise Unprocessable(str(exc), errors={"url": [str(exc)]}) from exc
