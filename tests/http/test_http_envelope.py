"""The request envelope's parts: deadlines, minted ids, the access log, the duration histogram."""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

import pytest
from httpkit import LogCapture, access_log_client
from prometheus_client.parser import text_string_to_metric_families

from kensho.errors import ServiceUnavailable, Timeout
from kensho.http.access_log import JsonAccessLogger
from kensho.http.middlewares.request_id import RequestIds
from kensho.http.middlewares.timeout import Deadlines
from kensho.observability.metrics import Metrics


class _Request:
    """The two attributes `Deadlines.call` passes through."""


async def _run(deadlines: Deadlines, limit: float, gate: asyncio.Event) -> str:
    async def handler(_request: Any) -> Any:
        await gate.wait()
        return "done"

    result = await deadlines.call(limit, _Request(), handler)  # type: ignore[arg-type]
    assert isinstance(result, str)
    return result


async def test_deadline_turns_into_timeout_and_leaves_no_entry() -> None:
    deadlines = Deadlines(resolution=0.005)
    with pytest.raises(Timeout, match=r"within 0\.02 s"):
        await _run(deadlines, 0.02, asyncio.Event())
    assert len(deadlines) == 0
    assert asyncio.current_task().cancelling() == 0  # type: ignore[union-attr]


async def test_requests_that_finish_in_time_are_forgotten() -> None:
    deadlines = Deadlines()
    gate = asyncio.Event()
    gate.set()
    results = await asyncio.gather(*(_run(deadlines, 5, gate) for _ in range(100)))
    assert results == ["done"] * 100
    assert len(deadlines) == 0


async def test_an_outside_cancel_stays_a_cancel() -> None:
    deadlines = Deadlines()
    task = asyncio.create_task(_run(deadlines, 5, asyncio.Event()))
    await asyncio.sleep(0)  # let it reach the gate
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert len(deadlines) == 0


async def test_cut_all_answers_running_requests_with_a_retryable_503() -> None:
    """At the end of the shutdown budget, running requests get 503 instead of a dropped socket."""
    deadlines = Deadlines()
    tasks = [asyncio.create_task(_run(deadlines, 60, asyncio.Event())) for _ in range(3)]
    await asyncio.sleep(0)  # let them reach the gate
    assert len(deadlines) == 3
    assert deadlines.cut_all() == 3
    for task in tasks:
        with pytest.raises(ServiceUnavailable, match="shutting down") as caught:
            await task
        assert caught.value.headers["Retry-After"] == "1"
    assert len(deadlines) == 0 and deadlines.cut_all() == 0


@pytest.mark.parametrize("bad", [0, -1, float("nan")])
def test_deadlines_reject_nonsense_resolution(bad: float) -> None:
    with pytest.raises(ValueError, match="resolution"):
        Deadlines(bad)


def test_minted_ids_are_32_hex_and_unique_per_app() -> None:
    a, b = RequestIds(), RequestIds()
    ids = {a.mint() for _ in range(1000)} | {b.mint() for _ in range(1000)}
    assert len(ids) == 2000
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)


async def _access_lines(logs: LogCapture, n: int) -> list[dict[str, Any]]:
    """The access log is written after the response went out: wait for it, not for a time."""
    for _ in range(1000):
        lines = [r for r in logs.records() if r.get("event") == "access"]
        if len(lines) >= n:
            return lines
        await asyncio.sleep(0)
    raise AssertionError(f"expected {n} access lines, got {logs.records()}")


async def test_access_log_fields(aiohttp_client: Any, logs: LogCapture) -> None:
    client = await access_log_client(aiohttp_client)
    resp = await client.get("/t/items/secret-42", headers={"X-Request-ID": "acc-1"})
    assert resp.status == 200
    (line,) = await _access_lines(logs, 1)
    assert line["route"] == "/t/items/{id}" and "secret-42" not in str(line)
    assert line["status"] == 200 and line["bytes"] >= 10  # head and body, as sent
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert line["request_id"] == "acc-1" and line["method"] == "GET"
    assert line["logger"] == "aiohttp.access" and line["remote"] == "127.0.0.1"


@pytest.mark.parametrize("method", ["X" * 200, "PROPFIND"])
async def test_access_log_bounds_hostile_methods_and_paths(
    aiohttp_client: Any, logs: LogCapture, method: str
) -> None:
    client = await access_log_client(aiohttp_client)
    resp = await client.request(method, "/nowhere/" + "%2e" * 2000)
    assert resp.status in (400, 404, 405)  # aiohttp may refuse the request line itself
    (line,) = await _access_lines(logs, 1)
    assert len(line["method"]) <= 16 and line["route"] == "unmatched"
    if resp.status == 400:  # refused before any middleware ran: there is no request id yet
        assert line["request_id"] is None
    else:
        assert re.fullmatch(r"[0-9a-f]{32}", line["request_id"])


async def test_access_log_is_skipped_when_info_is_off(logs: LogCapture) -> None:
    logger = logging.getLogger("kensho.t.quiet")
    logger.setLevel(logging.WARNING)
    try:
        assert not JsonAccessLogger(logger, "").enabled
    finally:
        logger.setLevel(logging.NOTSET)


def test_duration_histogram_buckets_are_cumulative() -> None:
    metrics = Metrics()
    for seconds in (0.0001, 0.0007, 0.003, 0.003, 20.0):
        metrics.observe_request("/a/{id}", "GET", 200, seconds)
    metrics.observe_request("/a/{id}", "BREW", 418, 0.1)
    families = {f.name: f for f in text_string_to_metric_families(metrics.render().decode())}
    samples = {
        (s.name, s.labels.get("le"), s.labels["method"]): s.value
        for s in families["request_duration_seconds"].samples
    }
    assert samples[("request_duration_seconds_bucket", "0.0005", "GET")] == 1
    assert samples[("request_duration_seconds_bucket", "0.001", "GET")] == 2
    assert samples[("request_duration_seconds_bucket", "0.005", "GET")] == 4
    assert samples[("request_duration_seconds_bucket", "10.0", "GET")] == 4
    assert samples[("request_duration_seconds_bucket", "+Inf", "GET")] == 5
    assert samples[("request_duration_seconds_count", None, "GET")] == 5
    assert samples[("request_duration_seconds_sum", None, "GET")] == pytest.approx(20.0068)
    assert samples[("request_duration_seconds_count", None, "OTHER")] == 1
