"""`RankingPool`: where an uncached search is ranked, with a bounded queue in front.

Ranking is bounded (`kensho.search.index`: postings and scoring budgets, ~1–2 ms CPU for the
worst query), but a burst of long common-trigram queries must not stall the loop for the sum of
them, and a health probe behind them must not wait for all of them. Two placements, chosen with
`KENSHO_SEARCH_THREADS`:

- `0` (the default): on the loop, **one ranking per loop turn** in arrival order (an
  `asyncio.Lock`, then a yield so what became ready meanwhile — a probe, a socket read — runs
  first): the loop's latency is one bounded ranking, never a queue of them.
- `n > 0`: on `n` dedicated threads (not the loop's default executor, which the supervisor needs
  for starting and stopping actors).

Measured in the same run on an idle 2-core machine (`bench/loop.py`, docs/benchmarks.md,
2026-11-30): on the loop the probe's p99 was 5.5 ms and 568 searches/s; on one ranking thread the
probe's p99 was 14.9 ms and 489 searches/s — a thread shares the GIL with the loop and holds it
for up to the 5 ms switch interval at a time, which delays the loop more than one bounded ranking
does. (On a machine overloaded by other processes the two were within noise of each other.)

Either way at most `max_waiting` rankings wait; beyond that, 503 with `Retry-After`, so a flood
sheds load instead of growing a queue. The index is an immutable snapshot, safe to read from any
thread (ARCHITECTURE rule 3).
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
    """Runs CPU-bound ranking calls one per loop turn (`threads=0`) or on dedicated threads."""

    def __init__(self, threads: int = 0, max_waiting: int = 64) -> None:
        if threads < 0 or max_waiting < 0:
            raise ValueError("need threads >= 0 and max_waiting >= 0")
        self.threads = threads
        self.max_waiting = max_waiting
        self.pending = 0  # submitted and not finished (running or queued)
        self.shed = 0  # calls refused because the queue was full
        self.ranked = 0
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._turn: asyncio.Lock | None = None  # on the loop: one ranking per turn

    async def run(self, fn: Callable[..., T], /, *args: object, **kwargs: object) -> T:
        """`fn(*args, **kwargs)` in its turn; `ServiceUnavailable` when the queue is full."""
        if self.pending >= max(self.threads, 1) + self.max_waiting:
            self.shed += 1
            raise ServiceUnavailable("Too many searches are waiting; try again.", retry_after=1)
        self.pending += 1
        try:
            if self.threads == 0:
                return await self._on_loop(fn, *args, **kwargs)
            if self._executor is None:
                self._executor = concurrent.futures.ThreadPoolExecutor(
                    self.threads, thread_name_prefix="search-rank"
                )
            future = self._executor.submit(fn, *args, **kwargs)
            return await asyncio.wrap_future(future)
        finally:
            self.pending -= 1
            self.ranked += 1

    async def _on_loop(self, fn: Callable[..., T], /, *args: object, **kwargs: object) -> T:
        if self._turn is None:
            self._turn = asyncio.Lock()
        async with self._turn:
            # The lock wakes its next waiter in a later loop iteration; this yield lets what
            # became ready meanwhile (a probe, a cached search) run before the ranking.
            await asyncio.sleep(0)
            return fn(*args, **kwargs)

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
