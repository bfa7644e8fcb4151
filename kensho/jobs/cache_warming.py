"""Cache warming: load the most popular anime into the cache at start and after each sync.

The first visitors of the most-read pages should not pay for a cold cache, and neither should the
database after a deploy. The job is told which ids to warm (`top_ids(n)`, the popularity order
from PostgreSQL) and how to warm one (`warm_one(id)`, the same layered load a request does), so
it warms exactly what requests will read. Loads run with bounded concurrency; one failing id is
logged and skipped, never fatal.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from kensho.jobs.stopping import cancel_within
from kensho.observability.tracing import job_span

__all__ = ["CacheWarmer", "WarmResult"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class WarmResult:
    """What one warming pass did."""

    requested: int
    warmed: int
    failed: int


class CacheWarmer:
    """Warms the `count` most popular anime; `start()` once, `after_sync()` after each sync."""

    def __init__(
        self,
        top_ids: Callable[[int], Awaitable[Sequence[str]]],
        warm_one: Callable[[str], Awaitable[object]],
        *,
        count: int,
        concurrency: int = 8,
        invalidate: Callable[[str], Awaitable[object]] | None = None,
    ) -> None:
        self._top_ids = top_ids
        self._warm_one = warm_one
        self._invalidate = invalidate
        self._count = count
        self._concurrency = max(1, concurrency)
        self._task: asyncio.Task[WarmResult] | None = None
        self.last: WarmResult | None = None

    async def warm(self) -> WarmResult:
        """One pass: load every top id (already cached ones cost an L1 lookup)."""
        if self._count <= 0:
            return WarmResult(0, 0, 0)
        with job_span("cache_warming", run_id=uuid.uuid4().hex, count=self._count):
            return await self._warm()

    async def _warm(self) -> WarmResult:
        ids = list(await self._top_ids(self._count))
        sem = asyncio.Semaphore(self._concurrency)
        failed = 0

        async def one(anime_id: str) -> None:
            nonlocal failed
            async with sem:
                try:
                    await self._warm_one(anime_id)
                except Exception as exc:
                    failed += 1
                    log.warning("cache warming: %s failed: %r", anime_id, exc)

        await asyncio.gather(*(one(i) for i in ids))
        self.last = WarmResult(len(ids), len(ids) - failed, failed)
        log.info("cache warming: %d of %d anime loaded", self.last.warmed, len(ids))
        return self.last

    def start(self) -> asyncio.Task[WarmResult]:
        """Warm in the background (at start-up: serving does not wait for it)."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._guarded(), name="warm")
        return self._task

    async def after_sync(self, changed: bool = True) -> WarmResult:
        """The catalog sync's hook: drop catalog entries if rows changed, then warm again."""
        if changed and self._invalidate is not None:
            for pattern in ("anime:*", "browse:*"):
                await self._invalidate(pattern)
        return await self._guarded()

    async def stop(self, budget: float | None = None) -> bool:
        """Cancel a warming pass and wait for it at most `budget` s (`cancel_within`)."""
        task, self._task = self._task, None
        return await cancel_within(task, budget, "cache warming")

    async def _guarded(self) -> WarmResult:
        try:
            return await self.warm()
        except Exception as exc:  # the database may be down at start: warming is optional
            log.warning("cache warming skipped: %r", exc)
            return WarmResult(0, 0, 0)
