"""``trellis up``'s fork server: what every service imports, loaded once, then forked.

The four processes of ``trellis up`` each imported FastAPI, SQLAlchemy, pydantic, alembic,
uvicorn and ``services.common`` (about 1 CPU second each, most of their start on two
cores). ``trellis up`` loads this module by name (services/cli.py), so its own process
imports them once, then forks each service from itself: a child imports only its own
service's modules, migrates its database and serves. Only a first start is forked; a
service restarted after a crash is started afresh (``python -m services.cli serve``), as the
parent may have done other work by then.

Forking is safe only from a process with one thread, no event loop and no open
connection: the parent imports modules, nothing more, before it forks (``can_fork``).
Each child is renamed ``trellis serve NAME`` (what ``ps`` shows and tests look for).
"""

import gc
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable

from setproctitle import setproctitle

from services import cli_serve
from services.cli import CliError
from services.common import service_app

#: Loaded here to be shared: what each service's app module builds on.
SHARED = (cli_serve, service_app)


def title(name: str) -> str:
    """A forked service's process title."""
    return f"trellis serve {name}"


def can_fork(name: str) -> bool:
    """Whether ``name`` may be forked from this process rather than started afresh.

    On Linux only (on macOS a fork without exec may crash in the system's frameworks),
    with one thread only (a fork copies a lock another thread holds, held for ever), and
    room for the child's title where the kernel keeps this process's command line (the
    title is written there; a longer one would be cut, and the child not known by its name).
    """
    room = sum(len(os.fsencode(arg)) + 1 for arg in sys.orig_argv)
    linux = sys.platform.startswith("linux")
    return linux and threading.active_count() == 1 and room > len(title(name))


class Forked:
    """A forked service: what ``subprocess.Popen`` offers the supervisor, for a child pid."""

    def __init__(self, pid: int, name: str) -> None:
        self.pid = pid
        self.name = name
        self.returncode: int | None = None

    def poll(self) -> int | None:
        """The exit code (negative: the signal that ended it), or None while it runs."""
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while (code := self.poll()) is None:
            if deadline is not None and time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired(title(self.name), timeout or 0.0)
            time.sleep(0.02)
        return code

    def send_signal(self, signum: int) -> None:
        if self.poll() is None:
            os.kill(self.pid, signum)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


def fork_serve(name: str, in_child: Callable[[], None]) -> Forked:
    """Fork a child that runs ``trellis --make-keys serve NAME``; ``in_child`` runs first in it.

    The child is a session of its own, as ``start_new_session`` makes one, with the signal
    handlers the parent set back to those a new interpreter has. It never returns into the parent's code:
    it leaves by ``os._exit`` with the code ``trellis serve`` would have exited with.
    """
    # What the parent imported stays out of every collection in the child: each would
    # otherwise walk (and, touching their counts, copy) the shared objects again.
    gc.freeze()
    pid = os.fork()
    if pid:
        return Forked(pid, name)
    code = 1
    try:
        os.setsid()
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        in_child()
        # Without it setproctitle would write over the environment too, which tests (and
        # operators) read in /proc to know whose process this is.
        os.environ["SPT_NOENV"] = "1"
        setproctitle(title(name))
        sys.argv = [sys.argv[0], "--make-keys", "serve", name]
        cli_serve.serve(name, None, None, make_keys=True)
        code = 0
    except CliError as exc:
        print(f"trellis: {exc}", file=sys.stderr)
        code = 2
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    except BaseException:
        traceback.print_exc()
    finally:
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
