"""`CatalogSyncJob`: run the catalog sync at start (empty or interrupted), then periodically."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from kensho.jobs.catalog_sync import CatalogSync
from kensho.jobs.stopping import cancel_within
from kensho.jobs.sync_status import SyncResult, SyncStatus

__all__ = ["CatalogSyncJob"]

log = logging.getLogger("kensho.jobs.catalog_sync")


class CatalogSyncJob:
    """Runs `CatalogSync` at start (when empty or interrupted) and then every `interval` s."""

    def __init__(
        self,
        sync: CatalogSync,
        *,
        interval: float,
        after_run: Callable[[SyncResult], Awaitable[None]] | None = None,
    ) -> None:
        self.sync = sync
        self._interval = interval
        self._after_run = after_run
        self._task: asyncio.Task[None] | None = None
        #: set by `trigger` to end the wait between runs early
        self._wake = asyncio.Event()
        #: set once a run and its `after_run` hook are over (or no run was needed at start):
        #: from then on the catalog's readers (search index, warm cache) reflect the catalog
        self.settled = asyncio.Event()

    @property
    def status(self) -> SyncStatus:
        return self.sync.status

    def start(self) -> None:
        """Start the background task (idempotent)."""
        self.sync.resume()
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._loop(), name="catalog-sync")

    def trigger(self) -> bool:
        """Run a sync now (an operator asked); False when one is running or about to.

        A job waiting for its next interval wakes up; a job whose task has ended (interval 0)
        runs once more. The interval then counts from the end of this run.
        """
        if self.sync.status.running or self._wake.is_set():
            return False
        self.sync.resume()
        self._wake.set()  # cleared when the run it asked for is over
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(
                self._loop(run_now=True), name="catalog-sync"
            )
        return True

    async def stop(self, budget: float | None = None) -> bool:
        """Cancel the task and wait for it at most `budget` s (`cancel_within`); the last
        committed page stays the checkpoint. False when it did not stop in time."""
        task, self._task = self._task, None
        self.sync.request_stop()
        return await cancel_within(task, budget, "catalog sync")

    async def _notify(self, result: SyncResult) -> None:
        """Tell the catalog's readers (search index, cache warmer) that a run completed.

        A failing hook is logged and never stops the job: the next run notifies again.
        """
        if self._after_run is None or not result.complete:
            return
        try:
            await self._after_run(result)
        except Exception:
            log.exception("after-sync hook failed")

    async def _needs_initial_run(self) -> bool:
        status = await self.sync.refresh_status()
        return not status.loaded or await self.sync.interrupted()

    async def _loop(self, *, run_now: bool | None = None) -> None:
        if run_now is None:
            run_now = await self._needs_initial_run()
            if not run_now:
                self.settled.set()
        while True:
            if run_now:
                try:
                    result = await self.sync.run()
                except Exception:
                    task = asyncio.current_task()
                    if task is not None and task.cancelling():
                        # Stopping: a driver turned our cancellation into its own error.
                        raise asyncio.CancelledError from None
                    log.exception("catalog sync failed; retrying at the next interval")
                else:
                    if self.sync.stopping:
                        return
                    await self._notify(result)
                finally:
                    self._wake.clear()  # a trigger during the run was served by it
                self.settled.set()
            if self._interval <= 0:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval)
            run_now = True
