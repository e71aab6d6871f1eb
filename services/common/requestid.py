"""Request ids: accepted from ``X-Request-ID`` or made, echoed, and put in every log line.

``EdgeMiddleware`` (``services.common.edge``) sets and echoes them.
"""

import os
import random
import re
from contextvars import ContextVar

HEADER = "x-request-id"
_VALID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")

# The version and variant bits of a random UUID (RFC 9562), as ``uuid.UUID(version=4)`` sets.
_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_VERSION_4 = (4 << 76) | (0x8000 << 48)

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)

# A generator of its own, not the ``random`` module's: code that watches the shared one
# (Hypothesis does, while it draws test cases) sees no draws it did not make. Seeded from
# the operating system, and again in every forked child, as the shared one is.
_ids = random.Random()
os.register_at_fork(after_in_child=_ids.seed)


def current_request_id() -> str | None:
    """The id of the request being handled, if any."""
    return request_id_var.get()


def accept_or_make(value: bytes | None) -> str:
    """Keep a caller's id when it is a sane token; otherwise make a new one."""
    if value:
        text = value.decode("latin-1")
        if _VALID.match(text):
            return text
    # A random version-4 UUID like ``uuid4()``'s, from a seeded generator: ``uuid4`` reads
    # the operating system's (a system call per request). Request ids correlate log
    # lines; they are not secrets.
    return f"{_ids.getrandbits(128) & _CLEAR | _VERSION_4:032x}"
