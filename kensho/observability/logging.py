"""Structured logging: one JSON object per line, each carrying the current request id.

The request id travels in a context variable set by the request-id middleware, and a filter on
the handler copies it into every record, so code that logs never has to pass it along.
"""

from __future__ import annotations

import atexit
import logging
import logging.handlers
import queue
import sys
import time
from contextvars import ContextVar
from typing import IO, Any

import orjson

__all__ = [
    "JsonFormatter",
    "RequestIdFilter",
    "configure_logging",
    "flush_logging",
    "request_id_var",
]

request_id_var: ContextVar[str | None] = ContextVar("kensho_request_id", default=None)

# Attributes every LogRecord has; anything else was passed through `extra=` and is emitted.
_STANDARD = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys()
    | {"message", "asctime", "request_id"}
)


class RequestIdFilter(logging.Filter):
    """Stamp `record.request_id` from the context unless the caller gave one."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = request_id_var.get()
        return True


class JsonFormatter(logging.Formatter):
    """Render a record as one JSON line: time, level, logger, message, request id, extras."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            out["exc"] = record.exc_text
        return orjson.dumps(out, default=str).decode()


class _TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")


class _DeferredQueueHandler(logging.handlers.QueueHandler):
    """Hand records to the writer thread without formatting them on the event loop.

    The stock `prepare()` formats in the caller's thread; here the caller only freezes the
    message text and the request id (both depend on the caller's context), and the listener
    thread does the JSON encoding and the write.
    """

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        record.msg = record.getMessage()
        record.args = None
        if getattr(record, "request_id", None) is None:
            record.request_id = request_id_var.get()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        record.exc_info = None
        return record


_listener: logging.handlers.QueueListener | None = None


def _stop_listener() -> None:
    global _listener
    if _listener is not None:
        _listener.stop()  # drains the queue: no log line is lost at exit
        _listener = None


def configure_logging(
    level: str = "INFO", fmt: str = "json", stream: IO[str] | None = None, *, queued: bool = False
) -> None:
    """Install one stderr handler on the root logger (replacing earlier ones).

    `queued=True` (the server) writes from a background thread, so a log line costs the event
    loop a queue put instead of JSON encoding plus a write syscall.
    """
    _stop_listener()
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter() if fmt == "json" else _TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    if queued:
        global _listener
        records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
        _listener = logging.handlers.QueueListener(records, handler, respect_handler_level=True)
        _listener.start()
        atexit.register(_stop_listener)
        root.addHandler(_DeferredQueueHandler(records))
    else:
        root.addHandler(handler)
    root.setLevel(level)


def flush_logging() -> None:
    """Write every queued line now (before the process exits or after a test)."""
    _stop_listener()
