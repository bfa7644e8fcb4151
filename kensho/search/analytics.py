"""Search analytics: counts per normalised query per minute, aggregated in memory, written in
batches.

`count(key)` is all a request pays: a clock read and one dict increment, no I/O, no await, no
object made (the key is a tuple the caller made once, e.g. memoised with a cached page). A loop
task writes the counts every `interval` seconds (sooner when `batch_size` distinct keys are
waiting) through `write`, which adds them to what the store holds (an upsert), so the admin
view sums exact counts whatever the batching. Memory is bounded by the number of distinct
(minute, key) pairs waiting (`max_keys`): beyond it, searches with a new key are dropped and
counted (those with a key already waiting are still counted); a failed write drops its batch
and is counted too. `close()` writes what is left at shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

__all__ = ["AnalyticsRecorder", "QueryKey", "QueryMinute"]

log = logging.getLogger(__name__)


class QueryKey(NamedTuple):
    """What analytics tells searches apart by; `query` is the normalised text."""

    query: str
    kind: str | None
    genre: str | None
    paged: bool  # a follow-up page (cursor): the top-query view leaves these out
    result_count: int  # items on the page; 0 = a zero-result query


@dataclass(frozen=True, slots=True)
class QueryMinute:
    """`searches` searches with `key` in the minute starting at `minute` (UTC)."""

    minute: datetime
    key: QueryKey
    searches: int


Writer = Callable[[Sequence[QueryMinute]], Awaitable[Any]]


class AnalyticsRecorder:
    """Per-minute counters plus the loop task that writes them in batches."""

    def __init__(
        self,
        write: Writer,
        *,
        batch_size: int = 500,
        interval: float = 1.0,
        max_keys: int = 20_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if batch_size < 1 or max_keys < batch_size or not interval > 0:
            raise ValueError("need batch_size >= 1, max_keys >= batch_size, interval > 0")
        self._write = write
        self.batch_size = batch_size
        self.interval = interval
        self._max = max_keys
        self._clock = clock
        #: minute (Unix time // 60) -> key -> searches, waiting to be written
        self._minutes: dict[int, dict[QueryKey, int]] = {}
        self._keys = 0  # distinct (minute, key) pairs in `_minutes`
        self._minute = -1
        self._current: dict[QueryKey, int] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._lock = asyncio.Lock()
        self.counters = dict.fromkeys(
            ("recorded", "written", "rows_written", "dropped", "write_errors"), 0
        )

    # -- request path -------------------------------------------------------------------------
    def count(self, key: QueryKey) -> None:
        """Count one search; never blocks. A new key over capacity is dropped and counted."""
        minute = int(self._clock() // 60)
        current = self._current
        if minute != self._minute:
            current = self._roll(minute)
        n = current.get(key)
        if n is not None:
            current[key] = n + 1
        elif self._keys >= self._max:
            self.counters["dropped"] += 1
            return
        else:
            current[key] = 1
            self._keys += 1
            if self._keys >= self.batch_size:
                self._wake.set()
        self.counters["recorded"] += 1

    def _roll(self, minute: int) -> dict[QueryKey, int]:
        current = self._minutes.get(minute)
        if current is None:
            current = self._minutes[minute] = {}
        self._minute, self._current = minute, current
        return current

    @property
    def pending(self) -> int:
        """Searches counted and not written yet."""
        return sum(sum(m.values()) for m in self._minutes.values())

    # -- background ---------------------------------------------------------------------------
    def start(self) -> None:
        """Start the writing task on the running loop (idempotent)."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name="search-analytics"
            )

    def _take(self) -> list[QueryMinute]:
        """Everything counted so far, as rows; the counters start afresh (no await here)."""
        taken, self._minutes, self._keys = self._minutes, {}, 0
        self._minute, self._current = -1, {}
        return [
            QueryMinute(datetime.fromtimestamp(m * 60, UTC), key, n)
            for m, counts in sorted(taken.items())
            for key, n in counts.items()
        ]

    async def flush(self) -> int:
        """Write everything counted now, batch by batch; return how many searches were written."""
        written = 0
        async with self._lock:  # one writer at a time: a later flush never overtakes
            rows = self._take()
            for start in range(0, len(rows), self.batch_size):
                batch = rows[start : start + self.batch_size]
                searches = sum(r.searches for r in batch)
                try:
                    await self._write(batch)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    self.counters["write_errors"] += 1
                    self.counters["dropped"] += searches
                    log.exception("search analytics: a batch of %d searches was lost", searches)
                    continue
                written += searches
                self.counters["written"] += searches
                self.counters["rows_written"] += len(batch)
        return written

    async def close(self) -> None:
        """Stop the task and write what is left (shutdown). The task is asked to stop, not
        cancelled, so a batch being written is never cut off half way."""
        task, self._task = self._task, None
        self._stopping = True
        self._wake.set()
        if task is not None:
            await task
        await self.flush()

    async def _run(self) -> None:
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval)
            self._wake.clear()
            try:
                await self.flush()
            except Exception:  # pragma: no cover - flush logs and counts its own failures
                log.exception("search analytics: flush failed")

    def stats(self) -> dict[str, int]:
        return {**self.counters, "pending": self.pending, "pending_keys": self._keys}
