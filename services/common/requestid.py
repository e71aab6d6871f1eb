"""Request ids: accepted from ``X-Request-ID`` or made, echoed, and put in every log line.

``EdgeMiddleware`` (``services.common.edge``) sets and echoes them.
"""

import re
import uuid
from contextvars import ContextVar

HEADER = "x-request-id"
_VALID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)


def current_request_id() -> str | None:
    """The id of the request being handled, if any."""
    return request_id_var.get()


def accept_or_make(value: bytes | None) -> str:
    """Keep a caller's id when it is a sane token; otherwise make a new one."""
    if value:
        text = value.decode("latin-1")
        if _VALID.match(text):
            return text
    return uuid.uuid4().hex
