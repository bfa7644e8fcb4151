"""`RankingPool`: uncached search ranking off the event loop, on a few threads of its own.

Ranking is bounded (`kensho.search.index`: postings and scoring budgets), but a burst of long
common-trigram queries would still queue several milliseconds each on the loop, and a health
probe behind them would wait for all of them. So a miss is ranked here: on `threads` dedicated
threads (not the loop's default executor, which the supervisor needs for starting and stopping
actors), with at most `max_waiting` rankings queued; beyond that, 503 with `Retry-After`, so a
flood sheds load instead of growing a queue. The index is an immutable snapshot, safe to read
from any thread (ARCHITECTURE rule 3).

Why not bounded work on the loop, one ranking per loop iteration: measured in the same run
(`bench/loop.py`, docs/benchmarks.md), a health probe's median was 3x lower and its worst 2x
lower off the loop, with equal p99s and 24 % more searches per second. A worker thread shares
the GIL with the loop, but the interpreter hands it back every switch interval, and the loop's
socket work overlaps the ranking.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Callable
from typing import TypeVar

from kensho.errors import ServiceUnavailable

__all__ = ["RankingPool"]

T = TypeVar("T")


class RankingPool:
    """Runs CPU-bound ranking calls on dedicated threads, with a bounded queue."""

    def __init__(self, threads: int = 1, max_waiting: int = 64) -> None:
        if threads < 1 or max_waiting < 0:
            raise ValueError("need at least one thread and max_waiting >= 0")
        self.threads = threads
        self.max_waiting = max_waiting
        self.pending = 0  # submitted and not finished (running or queued)
        self.shed = 0  # calls refused because the queue was full
        self.ranked = 0
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None

    async def run(self, fn: Callable[..., T], /, *args: object, **kwargs: object) -> T:
        """`fn(*args, **kwargs)` on a ranking thread; `ServiceUnavailable` when full."""
        if self.pending >= self.threads + self.max_waiting:
            self.shed += 1
            raise ServiceUnavailable("Too many searches are waiting; try again.", retry_after=1)
        if self._executor is None:
            self._executor = concurrent.futures.ThreadPoolExecutor(
                self.threads, thread_name_prefix="search-rank"
            )
        self.pending += 1
        try:
            future = self._executor.submit(fn, *args, **kwargs)
            return await asyncio.wrap_future(future)
        finally:
            self.pending -= 1
            self.ranked += 1

    def close(self) -> None:
        """Stop the threads; queued calls are cancelled, a running one finishes on its own."""
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)

    def stats(self) -> dict[str, int]:
        return {
            "threads": self.threads,
            "pending": self.pending,
            "shed": self.shed,
            "ranked": self.ranked,
        }
