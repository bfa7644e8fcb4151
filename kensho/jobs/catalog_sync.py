"""Catalog sync: walk the upstream listing page by page into PostgreSQL (the pipeline).

A producer walks the browse listing ahead of the writer (bounded read-ahead); each page's
seasons and episodes are fetched by a task (bounded concurrency). The writer takes pages in
listing order and writes each (or a few already-fetched ones) in ONE transaction together with
its checkpoint in `catalog_sync_state`. A crash or cancellation therefore loses only pages not
yet committed, and the next run resumes after the last committed page. Rows are written only
when their content hash changed, so a second sync writes nothing. When the listing was walked
to its end, series not seen in this run get `removed_at` (and come back if they reappear).

The writes are `catalog_writer.CatalogWriter`, the status and metrics `sync_status`, the
schedule (at start, then every interval) `sync_schedule.CatalogSyncJob`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from functools import partial
from typing import Any

from prometheus_client import CollectorRegistry

from kensho.catalog import CatalogEntry, load_catalog
from kensho.jobs.catalog_rows import (
    EpisodeRow,
    InvalidItem,
    SeasonRow,
    SeriesRow,
    episode_row,
    season_row,
    series_row,
)
from kensho.jobs.catalog_source import BrowsePage, CatalogSource
from kensho.jobs.catalog_writer import JOB, CatalogWriter, PageRows, merge_pages
from kensho.jobs.sync_status import SyncMetrics, SyncResult, SyncStatus
from kensho.observability.tracing import job_span
from kensho.store.lease import Lease, lease_lost
from kensho.store.pool import fetch_one, transaction

__all__ = ["CatalogSync", "LeaseLost", "SyncResult", "SyncStatus"]

log = logging.getLogger(__name__)

#: most fetched pages written in one transaction when the writer is behind
_MAX_MERGE = 4
#: a browse page and the task fetching its seasons and episodes (or a failed future)
_Fetched = tuple[BrowsePage, "asyncio.Future[PageRows]"]


class LeaseLost(RuntimeError):
    """The run's lease went to another replica: the run stopped before its next write."""


class CatalogSync:
    """One sync run at a time: `await run()`; safe to cancel at any point."""

    def __init__(
        self,
        pool: Any,
        source: CatalogSource,
        *,
        catalog: Mapping[str, CatalogEntry] | None = None,
        page_size: int = 100,
        concurrency: int = 16,
        prefetch: int = 2,
        registry: CollectorRegistry | None = None,
        on_page: Callable[[int], None] | None = None,
    ) -> None:
        if catalog is None:
            catalog = load_catalog().by_series_id
        self._pool = pool
        self._source = source
        self._catalog = catalog
        self._page_size = page_size
        #: pages fetched ahead of the one being written (bounded read-ahead, >= 1)
        self._prefetch = max(1, prefetch)
        #: called with the new checkpoint after each committed page (progress hooks, tests)
        self._on_page = on_page
        self._sem = asyncio.Semaphore(concurrency)
        self._metrics = SyncMetrics(registry)
        self._writer = CatalogWriter(pool, self._metrics)
        self.status = SyncStatus()
        #: set whenever a run ends (any outcome); lets callers await a run instead of polling
        self.run_finished = asyncio.Event()
        #: set by `request_stop`: the run ends at the next page even if a library swallowed
        #: the task's cancellation (seen under load: the run then finished all 159 pages)
        self._stopping = False

    @property
    def pool(self) -> Any:
        """The PostgreSQL pool the sync writes to (the schedule reads its state there)."""
        return self._pool

    def request_stop(self) -> None:
        """Ask the current run to end at the next page boundary (cancellation also does)."""
        self._stopping = True

    async def refresh_status(self) -> SyncStatus:
        """Re-read the series count (start-up, and after each run)."""
        row = await fetch_one(self._pool, "SELECT count(*) FROM series WHERE removed_at IS NULL")
        count = int(row[0]) if row else 0
        self._metrics.series.set(count)
        self.status = replace(self.status, loaded=count > 0, series_count=count)
        return self.status

    async def plan(self) -> tuple[str, int]:
        """(run id, first listing position) of the next run: the interrupted run's, resumed at
        its checkpoint, or a new one. Call it only while holding the sync lease (or alone):
        the run id of an interrupted run may be another replica's."""
        state = await fetch_one(
            self._pool,
            "SELECT run_id, status, cursor FROM catalog_sync_state WHERE job = %s",
            (JOB,),
        )
        if state is not None and state[1] != "complete":
            return str(state[0]), int(state[2].get("start", 0))
        return uuid.uuid4().hex, 0

    async def _begin_attempt(self, run_id: str, start: int, lease: Lease | None) -> None:
        """Record this attempt (one transaction, fenced): older attempts still 'running' were
        interrupted (their holder crashed or was replaced), the checkpoint row says running."""
        holder, token = (lease.holder, lease.token) if lease is not None else ("unleased", 0)
        async with transaction(self._pool) as cur:
            if lease is not None:
                await cur.execute(*lease.fence)
            await cur.execute(
                "UPDATE catalog_sync_runs SET status = 'lost', finished_at = now() "
                "WHERE status = 'running'"
            )
            await cur.execute(
                "INSERT INTO catalog_sync_runs (run_id, holder, lease_token, status, "
                "resumed_from) VALUES (%s, %s, %s, 'running', %s) RETURNING seq",
                (run_id, holder, token, start),
            )
            seq = int((await cur.fetchone())[0])
            await self._writer.save_state(run_id, "running", start, cur=cur)
        self._writer.attempt = seq

    async def run(
        self, *, lease: Lease | None = None, plan: tuple[str, int] | None = None
    ) -> SyncResult:
        """Sync the whole listing, resuming an interrupted run from its last checkpoint.

        With `lease` (the fleet's sync lease, held by the caller) every write is fenced by it:
        if another replica takes the lease over, the run ends with `LeaseLost` before its next
        commit. `plan` is what `plan()` returned under the same lease (default: ask now).
        """
        # The run's root trace is the caller's (`CatalogSyncJob`); each page's fetch and write
        # are roots of their own, linked to it and carrying the run id (one trace of a whole
        # sync would be unreadable).
        run_id, start = plan if plan is not None else await self.plan()
        return await self._run(run_id, start, lease)

    async def _run(self, run_id: str, start: int, lease: Lease | None) -> SyncResult:
        t0 = time.perf_counter()
        self.run_finished.clear()
        if start:
            log.info("catalog sync resuming run %s at %d", run_id, start)
        result = SyncResult(run_id=run_id, resumed_from=start)
        self._writer.bind(lease.fence if lease is not None else None, None)
        await self._begin_attempt(run_id, start, lease)
        result.attempt = self._writer.attempt
        self.status = replace(self.status, running=True, pages_done=0, series_done=start)
        self._metrics.running.set(1)
        outcome = "failed"
        queue: asyncio.Queue[_Fetched] = asyncio.Queue(maxsize=self._prefetch)
        producer = asyncio.create_task(self._produce(start, queue, result), name="sync-fetch")
        inflight: asyncio.Future[PageRows] | None = None
        carry: _Fetched | None = None
        try:
            while True:
                if self._stopping:
                    raise asyncio.CancelledError("catalog sync stop requested")
                page, inflight = carry or await queue.get()
                carry = None
                done = [(page, await inflight)]
                inflight = None
                # the writer fell behind: write every page already fetched in one transaction
                # (fewer round trips per row); the checkpoint is the end of the last one
                while not done[-1][0].complete and len(done) < _MAX_MERGE and not queue.empty():
                    nxt = queue.get_nowait()
                    if not nxt[1].done():
                        carry, inflight = nxt, nxt[1]
                        break
                    done.append((nxt[0], nxt[1].result()))
                start += sum(len(p.items) for p, _ in done)
                rows = merge_pages([r for _, r in done])
                result.pages += len(done)
                result.series_seen += sum(len(r[0]) for _, r in done)
                with job_span("catalog_sync write", run_id=run_id, checkpoint=start):
                    await self._writer.write_page(run_id, start, rows, result)
                page = done[-1][0]
                self._metrics.pages.inc(len(done))
                self.status = replace(
                    self.status,
                    series_total=page.total,
                    pages_done=result.pages,
                    series_done=start,
                )
                if self._on_page is not None:
                    self._on_page(start)
                if self.status.progress is not None:
                    self._metrics.progress.set(self.status.progress)
                if page.complete:
                    break
            result.removed = await self._writer.finish(run_id, start, result)
            result.complete = True
            outcome = "complete"
        except asyncio.CancelledError:
            outcome = "cancelled"
            # the checkpoint stays 'running': the next holder resumes it
            await self._writer.end_attempt(result, "cancelled", None)
            raise
        except Exception as exc:
            self.status = replace(self.status, last_error=str(exc)[:500])
            if lease_lost(exc):
                outcome = "lost"  # another replica holds the run now: write nothing of ours
                await self._writer.end_attempt(result, "lost", str(exc))
                raise LeaseLost(str(exc)) from exc
            await self._writer.end_attempt(result, "failed", str(exc))
            try:
                await self._writer.save_state(run_id, "failed", start, error=str(exc)[:2000])
            except Exception as again:
                if not lease_lost(again):
                    raise
            raise
        finally:
            await self._stop_producer(producer, queue, inflight)
            result.seconds = time.perf_counter() - t0
            self._metrics.running.set(0)
            self._metrics.runs.labels(outcome).inc()
            self.status = replace(
                self.status,
                running=False,
                last_run=datetime.now(UTC),
                last_result=outcome,
                last_error=None if outcome == "complete" else self.status.last_error,
            )
            if outcome != "complete":
                self.run_finished.set()
            else:
                self._metrics.last_success.set(time.time())
                self._metrics.progress.set(1)
            log.info(
                "catalog sync %s: %d pages, %d series, %d rows written, %d removed in %.1fs",
                outcome,
                result.pages,
                result.series_seen,
                result.rows_written,
                result.removed,
                result.seconds,
            )
        await self.refresh_status()
        self.run_finished.set()
        return result

    async def _produce(
        self, start: int, queue: asyncio.Queue[_Fetched], result: SyncResult
    ) -> None:
        """Walk the listing ahead of the writer: each page's children are fetched by a task.

        The queue is bounded, so at most `prefetch` pages wait for the writer (memory stays
        flat); the writer consumes them in listing order, so checkpoints stay in order too.
        A failed browse is handed to the writer as a failed task, which ends the run.
        """
        while True:
            try:
                page = await self._source.browse(start, self._page_size)
            except Exception as exc:
                failed: asyncio.Future[PageRows] = asyncio.get_running_loop().create_future()
                failed.set_exception(exc)
                await queue.put((BrowsePage((), None, True), failed))
                return
            task = asyncio.create_task(self._traced_fetch(page.items, result, start))
            try:
                await queue.put((page, task))
            except BaseException:
                task.cancel()  # cancelled while the queue was full: the writer never sees it
                raise
            if page.complete:
                return
            start += len(page.items)

    @staticmethod
    async def _stop_producer(
        producer: asyncio.Task[None],
        queue: asyncio.Queue[_Fetched],
        inflight: asyncio.Future[PageRows] | None,
    ) -> None:
        """Cancel the read-ahead (after a crash, cancel or the end) and every pending fetch."""
        producer.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await producer
        pending = [inflight] if inflight is not None else []
        while not queue.empty():
            pending.append(queue.get_nowait()[1])
        for fetch in pending:
            fetch.cancel()
        for fetch in pending:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await fetch

    async def _limited(self, call: Callable[[], Awaitable[Any]]) -> Any:
        """`call()` under the upstream budget. The coroutine is made only once a slot is held:
        a fetch cancelled before it started (a gather cancelled before its tasks' first step,
        e.g. a run ending with LeaseLost) leaves no coroutine that was never awaited."""
        async with self._sem:
            return await call()

    async def _children(
        self, series_id: str, result: SyncResult
    ) -> tuple[list[SeasonRow], list[EpisodeRow]]:
        """Seasons of one series, then their episodes: no barrier across the page's series."""
        seasons: list[SeasonRow] = []
        for obj in await self._limited(lambda: self._source.seasons(series_id)):
            try:
                seasons.append(season_row(obj, series_id))
            except InvalidItem as exc:
                self._reject(result, exc)
        seasons = list({s.id: s for s in seasons}.values())
        episode_lists = await asyncio.gather(
            *(self._limited(partial(self._source.episodes, s.id)) for s in seasons)
        )
        episodes: list[EpisodeRow] = []
        for season, objs in zip(seasons, episode_lists, strict=True):
            for obj in objs:
                try:
                    episodes.append(episode_row(obj, series_id, season.id))
                except InvalidItem as exc:
                    self._reject(result, exc)
        return seasons, episodes

    async def _traced_fetch(self, items: Sequence[Any], result: SyncResult, start: int) -> PageRows:
        with job_span("catalog_sync page", run_id=result.run_id, start=start, series=len(items)):
            return await self._fetch_page(items, result)

    async def _fetch_page(self, items: Sequence[Any], result: SyncResult) -> PageRows:
        series: list[SeriesRow] = []
        for obj in items:
            try:
                sid = obj.get("id") if isinstance(obj, Mapping) else None
                entry = self._catalog.get(sid) if isinstance(sid, str) else None
                series.append(series_row(obj, entry))
            except InvalidItem as exc:
                self._reject(result, exc)
        unique = list({s.id: s for s in series}.values())
        children = await asyncio.gather(*(self._children(s.id, result) for s in unique))
        # a season or episode listed twice (hostile upstream): the last one wins, as before
        seasons = list({s.id: s for ss, _ in children for s in ss}.values())
        episodes = list({e.id: e for _, es in children for e in es}.values())
        return unique, seasons, episodes

    def _reject(self, result: SyncResult, exc: InvalidItem) -> None:
        result.invalid += 1
        self._metrics.invalid.inc()
        log.warning("catalog sync skipped an upstream item: %s", exc)

    @property
    def stopping(self) -> bool:
        """Whether `request_stop` was called since the last `resume`."""
        return self._stopping

    def resume(self) -> None:
        """Allow runs again after `request_stop` (a restarted job)."""
        self._stopping = False

    async def interrupted(self) -> bool:
        """Whether the last run did not complete (it resumes from its checkpoint)."""
        row = await fetch_one(
            self._pool, "SELECT status FROM catalog_sync_state WHERE job = %s", (JOB,)
        )
        return row is not None and row[0] != "complete"
