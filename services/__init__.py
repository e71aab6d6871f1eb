"""Trellis: the partners, funding and feedback services and the gateway in front of them."""

import sys

# httpx imports its command line (click, rich, pygments) with itself whenever those are
# installed, as they are beside the test tools: a tenth of each process's start, for a
# command no service runs. Without it httpx defines a stub `httpx.main` instead.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
