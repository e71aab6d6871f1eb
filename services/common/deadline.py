"""Request deadlines, end to end.

The gateway gives every request a time budget and passes it on in the
``X-Request-Timeout-Ms`` header: the milliseconds the service has, counted from
when it receives the request, to decide it. A relative budget rather than an
absolute time, so clocks that disagree between machines don't matter (as gRPC's
``grpc-timeout``).

In a service, ``EdgeMiddleware`` (``services.common.edge``) turns the header into a deadline on this
process's monotonic clock; the session dependency refuses to commit once it has
passed (the caller has been told the request failed, so nothing may be kept),
and calls to other services pass on what is left, minus a margin, so the
service that is slow is the one that runs out and gets named.

Without the header (a direct call, a test) there is no deadline.
"""

import time
from contextvars import ContextVar

from services.common.errors import ServiceUnavailable

HEADER = "x-request-timeout-ms"
_HEADER = HEADER.encode()

deadline_var: ContextVar[float | None] = ContextVar("deadline", default=None)


def margin(budget: float) -> float:
    """What a caller keeps back from a budget it passes on (seconds).

    The callee must have given up (and not committed) before its caller does:
    a tenth of the budget, between 50 ms and half a second.
    """
    return min(0.5, max(0.05, budget / 10))


def budget_header(seconds: float) -> tuple[str, str]:
    """The header that gives a callee ``seconds`` (kept back: ``margin``)."""
    left = max(0.0, seconds - margin(seconds))
    return HEADER, str(int(left * 1000))


def remaining() -> float | None:
    """Seconds left before this request's deadline; ``None`` without one."""
    deadline = deadline_var.get()
    return None if deadline is None else deadline - time.monotonic()


def expired() -> bool:
    deadline = deadline_var.get()
    return deadline is not None and time.monotonic() >= deadline


class DeadlineExceeded(ServiceUnavailable):
    """The request ran out of the time its caller gave it; nothing was kept."""

    slug = "deadline-exceeded"

    def __init__(self, service: str, detail: str | None = None) -> None:
        super().__init__(
            detail
            or (
                f"The {service} service ran out of the time this request was given, so it "
                "kept nothing. Try again; send an Idempotency-Key to retry writes safely."
            ),
            extra={"service": service},
        )


def parse_budget(value: bytes) -> float | None:
    """The budget a header carries, in seconds; ``None`` if it is not a number."""
    try:
        millis = int(value)
    except ValueError:
        return None
    return max(0, millis) / 1000
