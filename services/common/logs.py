"""Structured JSON logs: one object per line, each with the request id.

The access log (``trellis.access``: one line per request with method, path, status
and duration) is written by ``EdgeMiddleware`` (``services.common.edge``).
"""

import logging
import sys

from pythonjsonlogger.orjson import OrjsonFormatter

from services.common.requestid import current_request_id
from services.common.tracing import current_trace_id

access_logger = logging.getLogger("trellis.access")


class _ContextFilter(logging.Filter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def filter(self, record: logging.LogRecord) -> bool:
        record.service = self.service
        record.request_id = current_request_id()
        record.trace_id = current_trace_id()
        return True


def configure_logging(service: str, level: str = "INFO") -> None:
    """Send every log record to stderr as JSON with service, request id and trace id."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        OrjsonFormatter(
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
