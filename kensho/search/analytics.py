"""Search analytics: record every query in memory, write them to PostgreSQL in batches.

`record()` is what a request pays: one append to a bounded deque, no I/O, no await. A
background task on the event loop wakes when a batch is full or every `interval` seconds and
hands the rows to `write` (one multi-row INSERT). When the buffer is full, new events are
dropped and counted rather than slowing requests or growing memory; a failed write drops its
batch and is counted too. `close()` writes what is left at shutdown.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

__all__ = ["AnalyticsRecorder", "SearchEvent"]

log = logging.getLogger(__name__)

Writer = Callable[[Sequence["SearchEvent"]], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class SearchEvent:
    """One query as analytics sees it; `query` is the normalised text."""

    at: datetime
    query: str
    kind: str | None
    genre: str | None
    result_count: int
    latency_ms: float
    paged: bool = False

    def as_row(self) -> tuple[Any, ...]:
        return (
            self.at,
            self.query,
            self.kind,
            self.genre,
            self.result_count,
            self.latency_ms,
            self.paged,
        )


class AnalyticsRecorder:
    """Bounded in-memory buffer plus the loop task that drains it in batches."""

    def __init__(
        self,
        write: Writer,
        *,
        batch_size: int = 500,
        interval: float = 1.0,
        max_buffer: int = 10_000,
    ) -> None:
        if batch_size < 1 or max_buffer < batch_size or not interval > 0:
            raise ValueError("need batch_size >= 1, max_buffer >= batch_size, interval > 0")
        self._write = write
        self.batch_size = batch_size
        self.interval = interval
        self._buffer: collections.deque[SearchEvent] = collections.deque()
        self._max = max_buffer
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self.counters = dict.fromkeys(("recorded", "written", "dropped", "write_errors"), 0)

    # -- request path -------------------------------------------------------------------------
    def record(self, event: SearchEvent) -> None:
        """Buffer one event; never blocks. Over capacity the event is dropped and counted."""
        if len(self._buffer) >= self._max:
            self.counters["dropped"] += 1
            return
        self._buffer.append(event)
        self.counters["recorded"] += 1
        if len(self._buffer) >= self.batch_size:
            self._wake.set()

    @property
    def pending(self) -> int:
        return len(self._buffer)

    # -- background ---------------------------------------------------------------------------
    def start(self) -> None:
        """Start the flushing task on the running loop (idempotent)."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name="search-analytics"
            )

    async def flush(self) -> int:
        """Write everything buffered now, batch by batch; return how many rows were written."""
        written = 0
        async with self._lock:  # one writer at a time keeps batches in order
            while self._buffer:
                n = min(self.batch_size, len(self._buffer))
                batch = [self._buffer.popleft() for _ in range(n)]
                try:
                    await self._write(batch)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    self.counters["write_errors"] += 1
                    self.counters["dropped"] += len(batch)
                    log.exception("search analytics: a batch of %d events was lost", len(batch))
                    continue
                written += len(batch)
                self.counters["written"] += len(batch)
        return written

    async def close(self) -> None:
        """Stop the task and write what is left (shutdown)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.flush()

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval)
            self._wake.clear()
            await self.flush()

    def stats(self) -> dict[str, int]:
        return {**self.counters, "pending": len(self._buffer)}
