"""The loop ticker keeps the liveness answer current: ok while it ticks on time, failing else."""

from __future__ import annotations

import asyncio
import time

import orjson

from kensho.http.loop_monitor import LoopMonitor


async def _ticks(monitor: LoopMonitor, n: int) -> None:
    """Wait (on the loop, not a fixed time) until the ticker ticked `n` more times."""
    target = monitor.ticks + n
    for _ in range(2000):
        if monitor.ticks >= target:
            return
        await asyncio.sleep(monitor.interval / 4)
    raise AssertionError("the ticker did not tick")


async def test_liveness_fails_before_start_and_after_stop() -> None:
    monitor = LoopMonitor(interval=0.01, uptime=lambda: 42.0)
    status, body = monitor.liveness
    assert status == 503 and orjson.loads(body)["status"] == "failing"
    monitor.start()
    status, body = monitor.liveness
    assert status == 200 and orjson.loads(body) == {
        "status": "ok",
        "loop_lag_ms": 0.0,
        "uptime_s": 42.0,
    }
    await monitor.stop()
    assert monitor.liveness[0] == 503


async def test_a_blocked_loop_fails_liveness_until_it_ticks_on_time_again() -> None:
    monitor = LoopMonitor(interval=0.01, max_lag=0.1)
    monitor.start()
    try:
        await _ticks(monitor, 1)
        time.sleep(0.3)  # noqa: ASYNC251 - block the loop on purpose: liveness must catch it
        await _ticks(monitor, 1)
        status, body = monitor.liveness
        assert status == 503 and orjson.loads(body)["loop_lag_ms"] >= 100
        await _ticks(monitor, 2)
        assert monitor.liveness[0] == 200
    finally:
        await monitor.stop()


async def test_a_ticker_that_dies_fails_liveness_at_once() -> None:
    monitor = LoopMonitor(interval=0.01)
    monitor.start()
    assert monitor._task is not None
    monitor._task.cancel()  # as if it crashed: nobody restarts it
    await asyncio.wait([monitor._task])
    assert monitor.liveness[0] == 503
    await monitor.stop()


async def test_the_body_follows_the_uptime_at_each_tick() -> None:
    clock = [1.0]
    monitor = LoopMonitor(interval=0.01, uptime=lambda: clock[0])
    monitor.start()
    try:
        clock[0] = 7.5
        await _ticks(monitor, 1)
        assert orjson.loads(monitor.liveness[1])["uptime_s"] == 7.5
    finally:
        await monitor.stop()
