"""Event-loop lag measured by a ticker task: the liveness signal that the loop is not blocked."""

from __future__ import annotations

import asyncio
import contextlib

__all__ = ["LoopMonitor"]


class LoopMonitor:
    """Sleeps `interval` seconds in a loop and records how late each wake-up was."""

    def __init__(self, interval: float = 0.25) -> None:
        self.interval = interval
        self.last_lag = 0.0
        self.max_lag = 0.0
        self.ticks = 0
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        if not self.running:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="loop-monitor")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            expected = loop.time() + self.interval
            await asyncio.sleep(self.interval)
            lag = max(0.0, loop.time() - expected)
            self.last_lag = lag
            self.max_lag = max(self.max_lag, lag)
            self.ticks += 1
