"""Container health check: ask the running service's ``/healthz``.

The image runs any of the four services (``trellis serve <name>``), so this
reads the command of PID 1 to know which one and on which port
(``--port``, else ``TRELLIS_<NAME>_PORT``, else the default port). A container
that is not serving (``trellis migrate``) is healthy by definition. Exit 0 when
healthy, 1 when not. Standard library only: it runs every few seconds.
"""

import os
import sys
import urllib.request
from pathlib import Path

DEFAULT_PORTS = {"gateway": 8000, "partners": 8001, "funding": 8002, "feedback": 8003}


def served(argv: list[str]) -> tuple[str, int] | None:
    """``(service, port)`` when ``argv`` is a ``serve`` command, else ``None``."""
    if "serve" not in argv:
        return None
    rest = argv[argv.index("serve") + 1 :]
    name = next((a for a in rest if a in DEFAULT_PORTS), None)
    if name is None:
        return None
    port: str | None = None
    for i, arg in enumerate(rest):
        if arg == "--port" and i + 1 < len(rest):
            port = rest[i + 1]
        elif arg.startswith("--port="):
            port = arg.split("=", 1)[1]
    port = port or os.environ.get(f"TRELLIS_{name.upper()}_PORT") or str(DEFAULT_PORTS[name])
    return name, int(port)


def main() -> int:
    try:
        raw = Path("/proc/1/cmdline").read_bytes()
    except OSError:
        raw = b""
    argv = [part.decode(errors="replace") for part in raw.split(b"\0") if part]
    target = served(argv)
    if target is None:
        return 0
    _, port = target
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
            return 0 if response.status == 200 else 1
    except OSError:
        return 1


if __name__ == "__main__":
    sys.exit(main())
