"""Structured JSON logs: one object per line, each with the request id.

The access log (``trellis.access``: one line per request with method, path, status
and duration) is written by ``EdgeMiddleware`` (``services.common.edge``).
"""

import asyncio
import logging
import sys
import time
from typing import Any, TextIO

import orjson
from pythonjsonlogger.orjson import OrjsonFormatter

from services.common.requestid import current_request_id
from services.common.tracing import current_trace_id

access_logger = logging.getLogger("trellis.access")

#: The fields of an access log line beyond the ones every line has.
ACCESS_FIELDS = ("method", "path", "status", "duration_ms")


def log_access(method: str, path: str, status: int, duration_ms: float) -> None:
    """One access log line (``trellis.access``), if INFO is on: the request's method, path,
    status and duration.

    Made without ``Logger.info``'s search of the call stack for its caller (the line names
    none), and written by ``_JsonFormatter``'s short path."""
    if not access_logger.isEnabledFor(logging.INFO):
        return
    record = access_logger.makeRecord(access_logger.name, logging.INFO, "", 0, "request", (), None)
    record.method = method
    record.path = path
    record.status = status
    record.duration_ms = duration_ms
    access_logger.handle(record)


class _JsonFormatter(OrjsonFormatter):
    """python-json-logger's JSON lines; access log lines (one per request) by a short path
    that writes the same object: its generic field handling costs more than the request's
    own work in a fast read."""

    _second = -1
    _stamp = ""

    def _time(self, created: float) -> str:
        second = int(created)
        if second != self._second:
            self._stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(second))
            self._second = second
        return f"{self._stamp},{int((created - second) * 1000):03d}"

    def format(self, record: logging.LogRecord) -> str:
        if record.name != access_logger.name or record.exc_info or record.stack_info:
            return super().format(record)
        line: dict[str, Any] = {
            "time": self._time(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "service": getattr(record, "service", None),
            "request_id": getattr(record, "request_id", None),
            "trace_id": getattr(record, "trace_id", None),
        }
        for name in ACCESS_FIELDS:
            line[name] = getattr(record, name, None)
        return orjson.dumps(line, default=str).decode()


class _ContextFilter(logging.Filter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def filter(self, record: logging.LogRecord) -> bool:
        record.service = self.service
        record.request_id = current_request_id()
        record.trace_id = current_trace_id()
        return True


class TickWriter(logging.StreamHandler):  # type: ignore[type-arg]
    """A stream written once per turn of the event loop, not once per line.

    A serving process writes an access line per request, and each write to stderr is a
    system call (it is line-buffered); at many requests at once those calls cost more
    than some requests' own work (an eighth of a fast read's CPU at 32 connections).
    Lines below WARNING logged on a thread running an event loop wait, in order, until
    the loop has run what it was doing (``call_soon``: microseconds), and go in one
    write. A warning or an error, a line from a thread without a loop, ``flush()`` and
    the interpreter's exit (``logging.shutdown``) write at once, after the lines waiting.
    A process killed outright loses at most the lines of the turn it was killed in."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__(stream)
        self._waiting: list[str] = []
        # The loop a write is due on (a line logged under another loop schedules its own).
        self._due_on: asyncio.AbstractEventLoop | None = None

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._waiting.append(self.format(record) + self.terminator)
            if record.levelno < logging.WARNING:
                try:
                    loop = asyncio.get_running_loop()
                except RuntimeError:
                    loop = None
                if loop is not None:
                    if self._due_on is not loop:
                        self._due_on = loop
                        loop.call_soon(self._write_due)
                    return
            self._write_waiting()
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)

    def _write_due(self) -> None:
        with self.lock:  # type: ignore[union-attr]
            self._due_on = None
            self._write_waiting()

    def _write_waiting(self) -> None:
        if self._waiting:
            text = "".join(self._waiting)
            self._waiting.clear()
            self.stream.write(text)
            self.stream.flush()

    def flush(self) -> None:
        with self.lock:  # type: ignore[union-attr]
            self._write_waiting()
            super().flush()


def configure_logging(service: str, level: str = "INFO") -> None:
    """Send every log record to stderr as JSON with service, request id and trace id
    (written once per turn of the event loop: ``TickWriter``)."""
    handler = TickWriter(sys.stderr)
    handler.setFormatter(
        _JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s %(service)s %(request_id)s %(trace_id)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            timestamp=False,
        )
    )
    handler.addFilter(_ContextFilter(service))
    # Nothing logged names the thread, process or source line: not looked up for each record
    # (the logging HOWTO's "Optimization"; the access log writes a record per request).
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    logging._srcfile = None
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    logging.getLogger("uvicorn.access").disabled = True
    # Debug lines of the SQLite driver carry every statement's parameters: the data itself
    # (anonymous answers included) would reach the logs. Never below INFO.
    logging.getLogger("aiosqlite").setLevel(logging.INFO)
