"""Event-loop lag measured by a ticker task: the liveness signal that the loop is not blocked."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

import orjson

__all__ = ["LIVE_MAX_LAG", "LoopMonitor"]

#: A loop that woke this late has been blocked; liveness fails so the orchestrator can act.
LIVE_MAX_LAG = 5.0


class LoopMonitor:
    """Sleeps `interval` seconds in a loop and records how late each wake-up was.

    It also keeps the liveness answer (`liveness`: status and JSON body) current, re-rendered
    at every tick, at start and when the ticker stops: probes and load balancers call
    /health/live far more often than the loop ticks, and the answer only changes at a tick.
    """

    def __init__(
        self,
        interval: float = 0.25,
        uptime: Callable[[], float] | None = None,
        max_lag: float = LIVE_MAX_LAG,
        observe: Callable[[float], None] | None = None,
    ) -> None:
        self.interval = interval
        #: gets each tick's lag (the `event_loop_lag_seconds` histogram)
        self._observe = observe
        self.lag_limit = max_lag
        self.last_lag = 0.0
        self.max_lag = 0.0
        self.ticks = 0
        self._task: asyncio.Task[None] | None = None
        started = time.monotonic()
        self._uptime = uptime or (lambda: time.monotonic() - started)
        self.liveness: tuple[int, bytes] = self._render()

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        if not self.running:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="loop-monitor")
            self._task.add_done_callback(self._stopped)
            self.liveness = self._render()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self.liveness = self._render()

    def _stopped(self, _task: asyncio.Task[None]) -> None:
        self.liveness = self._render()  # a ticker that died (or was stopped) fails liveness

    def _render(self) -> tuple[int, bytes]:
        ok = self.running and self.last_lag < self.lag_limit
        body = {
            "status": "ok" if ok else "failing",
            "loop_lag_ms": round(self.last_lag * 1000, 3),
            "uptime_s": round(self._uptime(), 3),
        }
        return (200 if ok else 503), orjson.dumps(body)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            expected = loop.time() + self.interval
            await asyncio.sleep(self.interval)
            lag = max(0.0, loop.time() - expected)
            self.last_lag = lag
            self.max_lag = max(self.max_lag, lag)
            if self._observe is not None:
                self._observe(lag)
            self.ticks += 1
            self.liveness = self._render()
