"""The access log's direct path (`kensho serve`): template lines that stay valid JSON."""

from __future__ import annotations

import io
import json
import logging
from typing import Any

import pytest
from httpkit import access_log_client

from kensho.http.access_log import JsonAccessLogger
from kensho.observability.logging import configure_logging, flush_logging


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
