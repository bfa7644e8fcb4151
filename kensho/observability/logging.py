"""Structured logging: one JSON object per line, each carrying the current request id.

The request id travels in a context variable set by the request-id middleware, and a filter on
the handler copies it into every record, so code that logs never has to pass it along.
"""

from __future__ import annotations

import atexit
import logging
import select
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextvars import ContextVar
from typing import IO, Any

import orjson

from kensho.observability.tracing import current_ids

__all__ = [
    "BatchingHandler",
    "JsonFormatter",
    "RequestIdFilter",
    "configure_logging",
    "direct_json_writer",
    "flush_logging",
    "request_id_var",
]

request_id_var: ContextVar[str | None] = ContextVar("kensho_request_id", default=None)

# Attributes every LogRecord has; anything else was passed through `extra=` and is emitted.
_STANDARD = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys()
    | {"message", "asctime", "request_id"}
)


#: ".000Z" … ".999Z": the millisecond tail of a timestamp, looked up rather than formatted.
_MILLIS = tuple(f".{ms:03d}Z" for ms in range(1000))


class RequestIdFilter(logging.Filter):
    """Stamp `record.request_id` from the context unless the caller gave one; with tracing on,
    also `trace_id` and `span_id` of the current span (the request's, an actor message's, a
    job's), so a log line leads to its trace and back."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = request_id_var.get()
        ids = current_ids()  # None at once when tracing is off
        if ids is not None and getattr(record, "trace_id", None) is None:
            record.trace_id, record.span_id = ids
        return True


class JsonFormatter(logging.Formatter):
    """Render a record as one JSON line: time, level, logger, message, request id, extras.

    The timestamp caches are shared by every thread that logs (the loop, actor threads), so
    each is one immutable (key, text) tuple, read once and replaced whole: a reader sees one
    consistent pair or the other, never the key of one with the text of another. No lock: an
    attribute store is atomic, and a lock would cost more than the cache saves.
    """

    def __init__(self) -> None:
        super().__init__()
        self._second: tuple[int, str] = (-1, "")  # (epoch second, its "%Y-%m-%dT%H:%M:%S")
        self._milli: tuple[int, str] = (-1, "")  # (epoch ms, its full text): ~10 lines per ms

    def timestamp(self, created: float) -> str:
        """ISO 8601 UTC with milliseconds; one strftime per second, not per line."""
        return self.timestamp_ms(int(created * 1000))

    def timestamp_ms(self, ms: int) -> str:
        """`timestamp` of a time given in whole milliseconds since the epoch."""
        cached_ms, text = self._milli
        if ms == cached_ms:
            return text
        second, milli = divmod(ms, 1000)
        cached_second, stamp = self._second
        if second != cached_second:
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = (second, stamp)
        text = stamp + _MILLIS[milli]
        self._milli = (ms, text)
        return text

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": self.timestamp(record.created),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and key[0] != "_":
                out[key] = value
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            out["exc"] = record.exc_text
        return orjson.dumps(out, default=str).decode()


class _TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")


class BatchingHandler(logging.Handler):
    """Format on the caller's thread; write from a background thread, a batch at a time.

    Why not a `QueueListener`: it wakes its thread for every record, and on the server the two
    threads then traded the GIL on every request (the listener grabbed it whenever the loop
    released it for a socket write). Here the caller appends one formatted line to a deque
    (thread-safe, no lock, no wake-up) and the writer wakes every `interval` seconds, or at once
    for a warning or worse, to write everything pending in one call. At most `max_pending` lines
    wait; beyond that lines are dropped and counted, and the count is written when there is
    room again, so a stuck stderr cannot exhaust memory.
    """

    def __init__(
        self,
        stream: IO[str],
        *,
        interval: float = 0.05,
        max_pending: int = 100_000,
        shared: bool = False,
    ) -> None:
        super().__init__()
        self.stream = stream
        #: Other processes write to the same pipe (`kensho serve --workers N`): write whole
        #: lines in pieces of at most PIPE_BUF bytes, which the kernel never interleaves.
        self.shared = shared
        self.interval = interval
        self.max_pending = max_pending
        self.dropped = 0
        self._pending: deque[str] = deque()
        self._wake = threading.Event()
        self._closing = False
        self._write_lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="kensho-log-writer", daemon=True)
        self._thread.start()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
        except Exception:
            self.handleError(record)
            return
        if len(self._pending) >= self.max_pending:
            self.dropped += 1
            return
        self._pending.append(line)
        if record.levelno >= logging.WARNING:
            self._wake.set()

    def write_line(self, line: str) -> None:
        """Queue one finished JSON line (no newline), as `format` would have produced it.

        For `direct_json_writer` callers only: the access log writes one line per request, and
        building a `LogRecord` (or even a dict for orjson) for it cost more than the rest of it.
        """
        if len(self._pending) >= self.max_pending:
            self.dropped += 1
            return
        self._pending.append(line)

    def flush(self) -> None:
        """Write every pending line now, on the caller's thread."""
        with self._write_lock:
            pending = self._pending
            lines = [pending.popleft() for _ in range(len(pending))]
            if self.dropped:
                dropped, self.dropped = self.dropped, 0
                lines.append(self.format(_dropped_record(dropped)))
            if not lines:
                return
            try:
                for text in _pieces(lines) if self.shared else ("\n".join(lines) + "\n",):
                    self.stream.write(text)
                    self.stream.flush()
            except Exception:  # a closed or broken stderr must not kill the writer
                self.dropped += len(lines)

    def close(self) -> None:
        """Stop the writer thread after it wrote everything pending."""
        self._closing = True
        self._wake.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join()
        self.flush()
        super().close()

    def _run(self) -> None:
        while not self._closing:
            self._wake.wait(self.interval)
            self._wake.clear()
            self.flush()


def _pieces(lines: list[str]) -> Iterator[str]:
    """`lines` joined into texts of at most PIPE_BUF bytes each (a longer line alone)."""
    piece: list[str] = []
    size = 0
    for line in lines:
        n = len(line.encode()) + 1
        if piece and size + n > select.PIPE_BUF:
            yield "\n".join(piece) + "\n"
            piece, size = [], 0
        piece.append(line)
        size += n
    if piece:
        yield "\n".join(piece) + "\n"


def _dropped_record(count: int) -> logging.LogRecord:
    record = logging.makeLogRecord(
        {
            "name": __name__,
            "levelno": logging.WARNING,
            "levelname": "WARNING",
            "msg": "%d log line(s) dropped: the writer fell behind",
            "args": (count,),
        }
    )
    record.dropped = count
    return record


_writer: BatchingHandler | None = None


def _stop_writer() -> None:
    global _writer
    if _writer is not None:
        _writer.close()  # writes what is pending: no log line is lost at exit
        _writer = None


def direct_json_writer(logger: logging.Logger, level: int) -> BatchingHandler | None:
    """The server's batching JSON handler, if it is the only place `logger`'s lines can go.

    Then a caller may write `level` lines with `BatchingHandler.write_json` and skip the
    `LogRecord`; with any other handler, filter or format in the way (tests capturing logs,
    text output) it must log normally, so this returns None.
    """
    writer = _writer
    if (
        writer is None
        or not isinstance(writer.formatter, JsonFormatter)
        or not logger.isEnabledFor(level)
        or writer.level > level
        or any(not isinstance(f, RequestIdFilter) for f in writer.filters)
    ):
        return None
    node: logging.Logger | None = logger
    while node is not None:
        if node.filters or any(h is not writer for h in node.handlers):
            return None
        if not node.propagate:
            break
        node = node.parent
    return writer if writer in logging.getLogger().handlers else None


def configure_logging(
    level: str = "INFO",
    fmt: str = "json",
    stream: IO[str] | None = None,
    *,
    queued: bool = False,
    shared: bool = False,
) -> None:
    """Install one stderr handler on the root logger (replacing earlier ones).

    `queued=True` (the server) formats lines on the caller's thread and writes them in batches
    from a background thread (`BatchingHandler`), so a log line costs the event loop one format
    and a deque append instead of a write syscall. It also stops collecting the caller's source
    location, thread and process for every record (the logging HOWTO's optimisations): neither
    format prints them, and `findCaller` alone was a third of a log call. `shared=True` (the
    processes of `--workers N`, one stderr) keeps each write within PIPE_BUF, so lines of two
    workers never interleave.
    """
    _stop_writer()
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    handler: logging.Handler
    if queued:
        global _writer
        handler = _writer = BatchingHandler(stream or sys.stderr, shared=shared)
        atexit.register(_stop_writer)
        logging._srcfile = None
        logging.logThreads = False
        logging.logProcesses = False
        logging.logMultiprocessing = False
    else:
        handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter() if fmt == "json" else _TextFormatter())
    root.addHandler(handler)
    root.setLevel(level)


def flush_logging() -> None:
    """Write every pending line and stop the writer (before the process exits)."""
    _stop_writer()
