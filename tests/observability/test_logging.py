"""The batching log writer: every line arrives, in order, without a write per record."""

from __future__ import annotations

import io
import json
import logging
import select
import threading
from typing import Any

import pytest

from kensho.observability import logging as klog
from kensho.observability.logging import (
    BatchingHandler,
    JsonFormatter,
    configure_logging,
    direct_json_writer,
    flush_logging,
    request_id_var,
)


class _Stream(io.StringIO):
    """Counts writes and signals each one, so tests wait for an event instead of sleeping."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0
        self.chunks: list[str] = []
        self.written = threading.Event()

    def write(self, s: str) -> int:
        self.writes += 1
        self.chunks.append(s)
        n = super().write(s)
        self.written.set()
        return n


class _Broken(io.StringIO):
    def write(self, s: str) -> int:
        raise OSError("stderr is gone")


def _lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def _handler(stream: io.StringIO, **kw: Any) -> BatchingHandler:
    h = BatchingHandler(stream, interval=3600, **kw)  # only explicit flushes or warnings write
    h.setFormatter(JsonFormatter())
    return h


def _record(msg: str, level: int = logging.INFO, **extra: Any) -> logging.LogRecord:
    record = logging.makeLogRecord({"name": "t", "levelno": level, "msg": msg, **extra})
    record.levelname = logging.getLevelName(level)
    return record


def test_lines_are_batched_into_one_write_and_keep_their_order() -> None:
    stream = _Stream()
    h = _handler(stream)
    for i in range(500):
        h.handle(_record(f"line {i}", n=i))
    assert stream.writes == 0  # nothing on the caller's thread per record
    h.close()
    assert stream.writes == 1
    assert [r["n"] for r in _lines(stream)] == list(range(500))


def test_shared_stream_writes_whole_lines_within_pipe_buf() -> None:
    """`--workers N`: processes share one stderr pipe; writes of at most PIPE_BUF bytes are
    never interleaved by the kernel, so no write may exceed it or split a line."""
    stream = _Stream()
    h = _handler(stream, shared=True)
    for i in range(500):
        h.handle(_record(f"line {i} " + "é" * 40, n=i))
    h.handle(_record("long " + "x" * 10_000, n=500))  # longer than PIPE_BUF: written alone
    h.close()
    assert stream.writes > 1
    assert all(len(w.encode()) <= select.PIPE_BUF for w in stream.chunks[:-1])
    assert all(w.endswith("\n") for w in stream.chunks)
    assert [r["n"] for r in _lines(stream)] == list(range(501))


def test_a_warning_wakes_the_writer_at_once() -> None:
    stream = _Stream()
    h = _handler(stream)
    h.handle(_record("quiet"))
    h.handle(_record("loud", logging.WARNING))
    assert stream.written.wait(10)  # the interval is an hour: only the wake-up can write
    assert [r["msg"] for r in _lines(stream)] == ["quiet", "loud"]
    h.close()


def test_overflow_drops_and_reports_the_count() -> None:
    stream = _Stream()
    h = _handler(stream, max_pending=3)
    for i in range(10):
        h.handle(_record(f"line {i}"))
    h.close()
    lines = _lines(stream)
    assert [r["msg"] for r in lines[:3]] == ["line 0", "line 1", "line 2"]
    assert lines[3]["level"] == "WARNING" and lines[3]["dropped"] == 7


def test_a_broken_stream_does_not_kill_the_writer() -> None:
    h = _handler(_Broken())
    h.handle(_record("lost"))
    h.flush()
    assert h.dropped == 1
    h.stream = _Stream()
    h.handle(_record("after"))
    h.close()
    assert [r["msg"] for r in _lines(h.stream)] == [
        "after",
        "1 log line(s) dropped: the writer fell behind",
    ]


@pytest.mark.parametrize(
    "value", ["x" * 100_000, '\x00\n\r"}{', "ünïcode ✓", object(), b"\xff\xfe"]
)
def test_hostile_values_stay_one_json_line(value: object) -> None:
    stream = _Stream()
    h = _handler(stream)
    h.handle(_record("%s", args=(value,), field=value))
    h.close()
    (line,) = stream.getvalue().splitlines()
    assert json.loads(line)["msg"] == str(value)


@pytest.mark.usefixtures("restore_logging")
def test_queued_configuration_stamps_the_request_id_of_the_caller() -> None:
    stream = _Stream()
    configure_logging("INFO", "json", stream, queued=True)
    token = request_id_var.set("rid-7")
    try:
        logging.getLogger("kensho.t").info("inside", extra={"k": 1})
    finally:
        request_id_var.reset(token)
    logging.getLogger("kensho.t").info("outside")
    flush_logging()
    inside, outside = _lines(stream)
    assert inside["request_id"] == "rid-7" and inside["k"] == 1
    assert outside["request_id"] is None


@pytest.mark.usefixtures("restore_logging")
def test_direct_writer_only_when_it_is_the_sole_destination() -> None:
    access = logging.getLogger("kensho.t.access")
    assert direct_json_writer(access, logging.INFO) is None  # not configured
    configure_logging("INFO", "json", _Stream(), queued=True)
    writer = direct_json_writer(access, logging.INFO)
    assert writer is klog._writer
    assert direct_json_writer(access, logging.DEBUG) is None  # level off
    extra = logging.StreamHandler(io.StringIO())
    logging.getLogger("kensho.t").addHandler(extra)
    try:
        assert direct_json_writer(access, logging.INFO) is None  # someone else listens too
    finally:
        logging.getLogger("kensho.t").removeHandler(extra)
    configure_logging("INFO", "text", _Stream(), queued=True)
    assert direct_json_writer(access, logging.INFO) is None  # not JSON


def test_write_line_queues_finished_lines_and_drops_beyond_the_bound() -> None:
    stream = _Stream()
    h = _handler(stream, max_pending=2)
    for n in range(3):
        h.write_line(json.dumps({"n": n}))
    h.close()
    lines = _lines(stream)
    assert [line.get("n") for line in lines[:2]] == [0, 1]
    assert lines[2]["dropped"] == 1  # the third waited for room, and is counted


def test_timestamps_are_iso_utc_with_milliseconds() -> None:
    f = JsonFormatter()
    assert f.timestamp(0.0) == "1970-01-01T00:00:00.000Z"
    assert f.timestamp(1_800_000_000.9994) == "2027-01-15T08:00:00.999Z"
    assert f.timestamp(1_800_000_001.0) == "2027-01-15T08:00:01.000Z"  # the second changes


class _Preempted(JsonFormatter):
    """Runs another thread's formatting right after the first cache store of a call: the
    moment a thread switch would be most harmful (free-threaded builds, or a future
    interpreter switching between any two bytecodes)."""

    def __init__(self) -> None:
        super().__init__()
        self.other_ms: int | None = None
        self.other_text: str | None = None

    def __setattr__(self, name: str, value: Any) -> None:
        super().__setattr__(name, value)
        other = self.__dict__.get("other_ms")
        if other is not None and name.startswith("_"):
            self.__dict__["other_ms"] = None
            self.__dict__["other_text"] = self.timestamp_ms(other)


def test_the_timestamp_cache_is_never_seen_half_updated() -> None:
    f = _Preempted()
    assert f.timestamp_ms(1_800_000_000_123) == "2027-01-15T08:00:00.123Z"  # primes the caches
    f.other_ms = 1_800_000_000_456  # the other thread is still in the old second …
    assert f.timestamp_ms(1_800_000_001_789) == "2027-01-15T08:00:01.789Z"  # … when this moves
    assert f.other_text == "2027-01-15T08:00:00.456Z"  # before: "…08:00:01.456Z"
    assert f.timestamp_ms(1_800_000_000_456) == "2027-01-15T08:00:00.456Z"
