"""The access log's direct path (`kensho serve`): template lines that stay valid JSON."""

from __future__ import annotations

import io
import json
import logging
from typing import Any

import pytest
from httpkit import access_log_client
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from kensho.http.access_log import JsonAccessLogger
from kensho.observability.logging import configure_logging, flush_logging
from kensho.observability.tracing import Tracing


@pytest.fixture
def json_stream(restore_logging: None) -> io.StringIO:
    """The server's logging set-up (queued JSON, the access log writes lines directly)."""
    stream = io.StringIO()
    configure_logging("INFO", "json", stream, queued=True)
    return stream


def _only_ours() -> None:
    """Take pytest's log-capturing handler off the root logger for this test's call phase:
    with it there, the access log (rightly) falls back to `logging` records."""
    root = logging.getLogger()
    for h in list(root.handlers):
        if type(h).__module__.startswith("_pytest"):
            root.removeHandler(h)


def _access(stream: io.StringIO) -> list[dict[str, Any]]:
    flush_logging()  # writes every pending line (and stops the writer)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    return [line for line in lines if line.get("event") == "access"]


async def test_direct_lines_carry_every_field_as_json(
    aiohttp_client: Any, json_stream: io.StringIO
) -> None:
    _only_ours()
    client = await access_log_client(aiohttp_client)
    assert JsonAccessLogger(logging.getLogger("aiohttp.access"), "")._direct is not None
    await client.get("/t/items/7", headers={"X-Request-ID": "acc-7"})
    await client.request("PROPFIND", "/t/items/8")
    await client.get("/missing")
    get, other, missing = _access(json_stream)
    assert list(get) == [
        "ts", "level", "logger", "msg", "request_id", "event",
        "method", "route", "status", "duration_ms", "bytes", "remote",
    ]  # fmt: skip
    assert get["request_id"] == "acc-7" and get["route"] == "/t/items/{id}"
    assert get["status"] == 200 and get["method"] == "GET" and get["bytes"] > 10
    assert get["logger"] == "aiohttp.access" and get["remote"] == "127.0.0.1"
    assert isinstance(get["duration_ms"], float) and get["ts"].endswith("Z")
    assert other["method"] == "PROPFIND" and len(other["request_id"]) == 32
    assert missing["route"] == "unmatched" and missing["status"] == 404


@pytest.mark.parametrize(
    "hostile",
    ['acc"},"admin":true,"x":"', "a\\b", "é" * 3, "x" * 500, "a b"],
)
async def test_hostile_request_ids_cannot_break_a_line(
    aiohttp_client: Any, json_stream: io.StringIO, hostile: str
) -> None:
    _only_ours()
    client = await access_log_client(aiohttp_client)
    headers = {"X-Request-ID": hostile.encode("utf-8").decode("latin-1")}
    resp = await client.get("/t/items/1", headers=headers)
    assert resp.status == 200
    (line,) = _access(json_stream)
    assert "admin" not in line and len(line["request_id"]) == 32  # replaced by a minted id
    assert line["request_id"] == resp.headers["X-Request-ID"]


async def test_a_traced_requests_line_carries_its_server_spans_ids(
    aiohttp_client: Any, json_stream: io.StringIO
) -> None:
    """The line is written after the server span ended: the ids come from the request."""
    _only_ours()
    exporter = InMemorySpanExporter()
    client = await access_log_client(aiohttp_client, Tracing("acc", exporter=exporter))
    await client.get("/t/items/7", headers={"X-Request-ID": "acc-traced"})
    await client.get("/health/live")  # excluded from tracing: no ids
    traced, probe = _access(json_stream)
    (span,) = exporter.get_finished_spans()
    assert traced["request_id"] == "acc-traced"
    assert traced["trace_id"] == format(span.context.trace_id, "032x")
    assert traced["span_id"] == format(span.context.span_id, "016x")
    assert "trace_id" not in probe and "span_id" not in probe


async def test_the_logging_fallback_carries_the_ids_too(
    aiohttp_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    exporter = InMemorySpanExporter()
    client = await access_log_client(aiohttp_client, Tracing("acc", exporter=exporter))
    with caplog.at_level(logging.INFO, "aiohttp.access"):
        await client.get("/t/items/8")
        await client.close()  # the access line is written once the response went out
    (record,) = [r for r in caplog.records if getattr(r, "event", None) == "access"]
    (span,) = exporter.get_finished_spans()
    assert getattr(record, "trace_id", None) == format(span.context.trace_id, "032x")
    assert getattr(record, "span_id", None) == format(span.context.span_id, "016x")
