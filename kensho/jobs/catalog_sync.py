"""Catalog sync: walk the upstream listing page by page into PostgreSQL.

A producer walks the browse listing ahead of the writer (bounded read-ahead); each page's
seasons and episodes are fetched by a task (bounded concurrency). The writer takes pages in
listing order and writes each (or a few already-fetched ones) in ONE transaction together with
its checkpoint in `catalog_sync_state`. A crash or cancellation therefore loses only pages not
yet committed, and the next run resumes after the last committed page. Rows are written only
when their content hash changed, so a second sync writes nothing. When the listing was walked
to its end, series not seen in this run get `removed_at` (and come back if they reappear).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import orjson
from prometheus_client import CollectorRegistry, Counter, Gauge

from kensho.catalog import CatalogEntry
from kensho.jobs.catalog_rows import (
    EPISODE_COLUMNS,
    SEASON_COLUMNS,
    SERIES_COLUMNS,
    EpisodeRow,
    InvalidItem,
    SeasonRow,
    SeriesRow,
    episode_row,
    season_row,
    series_row,
)
from kensho.jobs.catalog_source import BrowsePage, CatalogSource
from kensho.jobs.stopping import cancel_within
from kensho.store.pool import fetch_one, rollback_on_error, transaction, upsert_arrays

__all__ = ["CatalogSync", "CatalogSyncJob", "SyncResult", "SyncStatus"]

log = logging.getLogger(__name__)
JOB = "catalog"

#: (column, type) for `upsert_arrays`, in the order of the row tuples of `catalog_rows`
_SERIES_TYPES = list(
    zip(
        SERIES_COLUMNS,
        [
            "text",
            "text",
            "text",
            "text",
            "text",
            "text[]",
            "int",
            "int",
            "float8",
            "int",
            "date",
            "date",
            "text",
            "jsonb",
            "bool",
            "bool",
            "text",
            "text",
        ],
        strict=True,
    )
)
_SEASON_TYPES = list(
    zip(
        SEASON_COLUMNS,
        ("text", "text", "int", "int", "text", "text", "int", "bool", "text[]", "text[]", "text"),
        strict=True,
    )
)
_EPISODE_TYPES = list(
    zip(
        EPISODE_COLUMNS,
        [
            "text",
            "text",
            "text",
            "int",
            "float8",
            "text",
            "text",
            "text",
            "text",
            "int",
            "timestamptz",
            "bool",
            "bool",
            "jsonb",
            "text",
        ],
        strict=True,
    )
)
#: set on every written row: a rewrite revives a removed item
_TOUCH = (("updated_at", "now()"), ("removed_at", "NULL"))
#: most fetched pages written in one transaction when the writer is behind
_MAX_MERGE = 4
#: rows per statement (array parameters: one statement per table per page in practice)
_WRITE_BATCH = 5000

#: one round trip: open the page transaction and read the stored hashes of the page's items
_BEGIN_AND_HASHES = (
    "BEGIN; SET LOCAL synchronous_commit TO off; "
    "SELECT 0, id, content_hash, removed_at IS NOT NULL FROM series WHERE id = ANY(%(ids)s) "
    "UNION ALL SELECT 1, id, content_hash, removed_at IS NOT NULL FROM seasons "
    "WHERE series_id = ANY(%(ids)s) "
    "UNION ALL SELECT 2, id, content_hash, removed_at IS NOT NULL FROM episodes "
    "WHERE series_id = ANY(%(ids)s)"
)
#: a rewritten series gets its child rows afresh (one round trip)
_DELETE_CHILDREN = (
    "DELETE FROM series_titles WHERE series_id = ANY(%(ids)s); "
    "DELETE FROM series_genres WHERE series_id = ANY(%(ids)s); "
    "DELETE FROM series_external_ids WHERE series_id = ANY(%(ids)s); "
    "DELETE FROM images WHERE owner_id = ANY(%(ids)s)"
)

_PageRows = tuple[list[SeriesRow], list[SeasonRow], list[EpisodeRow]]
#: a browse page and the task fetching its seasons and episodes (or a failed future)
_Fetched = tuple[BrowsePage, "asyncio.Future[_PageRows]"]


@dataclass(frozen=True, slots=True)
class SyncStatus:
    """What /health/ready and /admin show; replaced wholesale, so readers never see half."""

    loaded: bool = False
    series_count: int = 0
    running: bool = False
    last_run: datetime | None = None
    last_result: str | None = None  # complete | failed | cancelled
    last_error: str | None = None
    pages_done: int = 0
    series_done: int = 0
    series_total: int | None = None

    @property
    def progress(self) -> float | None:
        """Fraction of the listing done in the current run (None when the total is unknown)."""
        if not self.series_total:
            return None
        return min(1.0, self.series_done / self.series_total)


@dataclass(slots=True)
class SyncResult:
    """Counters of one run."""

    run_id: str
    resumed_from: int = 0
    pages: int = 0
    series_seen: int = 0
    written: dict[str, int] = field(default_factory=dict)
    invalid: int = 0
    removed: int = 0
    complete: bool = False
    seconds: float = 0.0

    @property
    def rows_written(self) -> int:
        return sum(self.written.values())


def _merge(pages: list[_PageRows]) -> _PageRows:
    """Rows of consecutive pages as one; an id listed twice keeps its last row (one statement
    may not upsert the same key twice)."""
    if len(pages) == 1:
        return pages[0]
    series = list({r.id: r for p in pages for r in p[0]}.values())
    seasons = list({r.id: r for p in pages for r in p[1]}.values())
    episodes = list({r.id: r for p in pages for r in p[2]}.values())
    return series, seasons, episodes


class _Metrics:
    def __init__(self, registry: CollectorRegistry | None) -> None:
        reg = registry if registry is not None else CollectorRegistry()
        self.running = Gauge("catalog_sync_running", "1 while a catalog sync runs", registry=reg)
        self.progress = Gauge(
            "catalog_sync_progress_ratio", "share of the listing done", registry=reg
        )
        self.series = Gauge("catalog_sync_series", "active series in PostgreSQL", registry=reg)
        self.last_success = Gauge(
            "catalog_sync_last_success_timestamp_seconds",
            "end of the last complete sync",
            registry=reg,
        )
        self.runs = Counter("catalog_sync_runs", "sync runs by result", ["result"], registry=reg)
        for result in ("complete", "failed", "cancelled"):
            # Exported at 0 from the start, so the first failure is an increase an alert sees.
            self.runs.labels(result)
        self.pages = Counter("catalog_sync_pages", "browse pages committed", registry=reg)
        self.rows = Counter(
            "catalog_sync_rows_written", "rows written by table", ["table"], registry=reg
        )
        self.invalid = Counter(
            "catalog_sync_invalid_items", "upstream items rejected", registry=reg
        )
        self.removed = Counter("catalog_sync_removed", "series marked removed", registry=reg)


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
            from kensho.catalog import load_catalog

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
        self._metrics = _Metrics(registry)
        self.status = SyncStatus()
        #: set whenever a run ends (any outcome); lets callers await a run instead of polling
        self.run_finished = asyncio.Event()
        #: set by `request_stop`: the run ends at the next page even if a library swallowed
        #: the task's cancellation (seen under load: the run then finished all 159 pages)
        self._stopping = False

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

    async def run(self) -> SyncResult:
        """Sync the whole listing, resuming an interrupted run from its last checkpoint."""
        t0 = time.perf_counter()
        self.run_finished.clear()
        state = await fetch_one(
            self._pool,
            "SELECT run_id, status, cursor FROM catalog_sync_state WHERE job = %s",
            (JOB,),
        )
        if state is not None and state[1] != "complete":
            run_id, start = str(state[0]), int(state[2].get("start", 0))
            log.info("catalog sync resuming run %s at %d", run_id, start)
        else:
            run_id, start = uuid.uuid4().hex, 0
        result = SyncResult(run_id=run_id, resumed_from=start)
        await self._save_state(run_id, "running", start)
        self.status = replace(self.status, running=True, pages_done=0, series_done=start)
        self._metrics.running.set(1)
        outcome = "failed"
        queue: asyncio.Queue[_Fetched] = asyncio.Queue(maxsize=self._prefetch)
        producer = asyncio.create_task(self._produce(start, queue, result), name="sync-fetch")
        inflight: asyncio.Future[_PageRows] | None = None
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
                await self._write_page(run_id, start, _merge([r for _, r in done]), result)
                page = done[-1][0]
                result.pages += len(done)
                result.series_seen += sum(len(r[0]) for _, r in done)
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
            result.removed = await self._finish(run_id, start)
            result.complete = True
            outcome = "complete"
        except asyncio.CancelledError:
            outcome = "cancelled"
            raise
        except Exception as exc:
            self.status = replace(self.status, last_error=str(exc)[:500])
            await self._save_state(run_id, "failed", start, error=str(exc)[:2000])
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
                failed: asyncio.Future[_PageRows] = asyncio.get_running_loop().create_future()
                failed.set_exception(exc)
                await queue.put((BrowsePage((), None, True), failed))
                return
            task = asyncio.create_task(self._fetch_page(page.items, result))
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
        inflight: asyncio.Future[_PageRows] | None,
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

    async def _limited(self, coro: Any) -> Any:
        try:
            async with self._sem:
                return await coro
        finally:
            coro.close()  # cancelled while queued for the semaphore: never started, no warning

    async def _children(
        self, series_id: str, result: SyncResult
    ) -> tuple[list[SeasonRow], list[EpisodeRow]]:
        """Seasons of one series, then their episodes: no barrier across the page's series."""
        seasons: list[SeasonRow] = []
        for obj in await self._limited(self._source.seasons(series_id)):
            try:
                seasons.append(season_row(obj, series_id))
            except InvalidItem as exc:
                self._reject(result, exc)
        seasons = list({s.id: s for s in seasons}.values())
        episode_lists = await asyncio.gather(
            *(self._limited(self._source.episodes(s.id)) for s in seasons)
        )
        episodes: list[EpisodeRow] = []
        for season, objs in zip(seasons, episode_lists, strict=True):
            for obj in objs:
                try:
                    episodes.append(episode_row(obj, series_id, season.id))
                except InvalidItem as exc:
                    self._reject(result, exc)
        return seasons, episodes

    async def _fetch_page(self, items: Sequence[Any], result: SyncResult) -> _PageRows:
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

    async def _write_page(
        self,
        run_id: str,
        next_start: int,
        rows: _PageRows,
        result: SyncResult,
    ) -> None:
        ids = [s.id for s in rows[0]]
        # Few round trips per page: each one waits for a turn of an event loop that is busy
        # fetching, so BEGIN + the hash lookups are one request and seen + checkpoint + COMMIT
        # another. No WAL flush wait per page (synchronous_commit off): a commit lost in a
        # server crash loses its checkpoint with it (same transaction), so that page is redone.
        async with self._pool.acquire() as conn, conn.cursor() as cur, rollback_on_error(cur):
            await cur.execute(_BEGIN_AND_HASHES, {"ids": ids})
            old: tuple[dict[str, tuple[str, bool]], ...] = ({}, {}, {})
            for kind, row_id, digest, removed in await cur.fetchall():
                old[kind][row_id] = (digest, removed)
            await self._write_changes(cur, rows, old, result)
            finish = []
            if ids:
                finish.append(
                    cur.mogrify(
                        "INSERT INTO catalog_sync_seen (run_id, series_id, position) "
                        "SELECT %s, id, ord FROM unnest(%s::text[]) WITH ORDINALITY "
                        "AS u(id, ord) ON CONFLICT DO NOTHING",
                        (run_id, ids),
                    ).decode()
                )
            finish.append(cur.mogrify(*self._state_sql(run_id, "running", next_start)).decode())
            await cur.execute(";".join([*finish, "COMMIT"]))

    async def _write_changes(
        self,
        cur: Any,
        rows: _PageRows,
        old: tuple[dict[str, tuple[str, bool]], ...],
        result: SyncResult,
    ) -> None:
        """Upsert the rows whose hash changed; mark children gone from a fetched parent."""
        series, seasons, episodes = rows
        old_series, old_seasons, old_episodes = old

        def changed(row_id: str, digest: str, old: Mapping[str, tuple[str, bool]]) -> bool:
            prev = old.get(row_id)
            return prev is None or prev[0] != digest or prev[1]

        new_series = [s for s in series if changed(s.id, s.hash, old_series)]
        new_seasons = [s for s in seasons if changed(s.id, s.hash, old_seasons)]
        new_episodes = [e for e in episodes if changed(e.id, e.hash, old_episodes)]
        await self._write_series(cur, new_series, result)
        await self._upsert(cur, "seasons", _SEASON_TYPES, [s.values for s in new_seasons], result)
        await self._upsert(
            cur, "episodes", _EPISODE_TYPES, [e.values for e in new_episodes], result
        )
        # children that vanished from a parent fetched in this page
        season_ids = {s.id for s in seasons}
        episode_ids = {e.id for e in episodes}
        gone_seasons = [k for k, v in old_seasons.items() if not v[1] and k not in season_ids]
        gone_episodes = [k for k, v in old_episodes.items() if not v[1] and k not in episode_ids]
        await self._mark_removed(cur, "seasons", gone_seasons, result)
        await self._mark_removed(cur, "episodes", gone_episodes, result)

    async def _upsert(
        self,
        cur: Any,
        table: str,
        columns: Sequence[tuple[str, str]],
        values: list[tuple[Any, ...]],
        result: SyncResult,
    ) -> None:
        if not values:
            return
        n = await upsert_arrays(
            cur, table, columns, values, conflict=["id"], extra=_TOUCH, batch=_WRITE_BATCH
        )
        result.written[table] = result.written.get(table, 0) + n
        self._metrics.rows.labels(table).inc(n)

    async def _write_series(self, cur: Any, rows: list[SeriesRow], result: SyncResult) -> None:
        if not rows:
            return
        await self._upsert(cur, "series", _SERIES_TYPES, [r.values for r in rows], result)
        await cur.execute(_DELETE_CHILDREN, {"ids": [r.id for r in rows]})
        titles = [(r.id, lang, text) for r in rows for lang, text in r.titles]
        genres = sorted({g for r in rows for g in r.genres})
        links = [(r.id, g) for r in rows for g in r.genres]
        ext = [(r.id, src, val) for r in rows for src, val in r.external_ids]
        images = [(r.id, *img) for r in rows for img in r.images]
        text3 = ("text", "text", "text")
        children: list[tuple[str, list[tuple[str, str]], list[Any], list[str]]] = [
            (
                "series_titles",
                list(zip(("series_id", "lang", "text"), text3, strict=True)),
                titles,
                ["series_id", "lang", "text"],
            ),
            (
                "genres",
                [("slug", "text"), ("name", "text")],
                [(g.lower().replace(" ", "-"), g) for g in genres],
                ["slug"],
            ),
            (
                "series_genres",
                [("series_id", "text"), ("genre", "text")],
                [(sid, g.lower().replace(" ", "-")) for sid, g in links],
                ["series_id", "genre"],
            ),
            (
                "series_external_ids",
                list(zip(("series_id", "source", "value"), text3, strict=True)),
                ext,
                ["series_id", "source"],
            ),
            (
                "images",
                [
                    ("owner_id", "text"),
                    ("kind", "text"),
                    ("width", "int"),
                    ("height", "int"),
                    ("url", "text"),
                ],
                images,
                ["owner_id", "kind", "width", "height"],
            ),
        ]
        for table, cols, values, key in children:
            if values:
                n = await upsert_arrays(
                    cur, table, cols, values, conflict=key, update=[], batch=_WRITE_BATCH
                )
                result.written[table] = result.written.get(table, 0) + n
                self._metrics.rows.labels(table).inc(n)

    async def _mark_removed(self, cur: Any, table: str, ids: list[str], result: SyncResult) -> None:
        if ids:
            await cur.execute(
                f"UPDATE {table} SET removed_at = now(), updated_at = now() "
                "WHERE id = ANY(%s) AND removed_at IS NULL",
                (ids,),
            )
            result.written[table] = result.written.get(table, 0) + max(0, cur.rowcount)

    async def _finish(self, run_id: str, end: int) -> int:
        """Mark series absent from the complete listing removed; close the run."""
        async with transaction(self._pool) as cur:
            await cur.execute("SELECT count(*) FROM catalog_sync_seen WHERE run_id = %s", (run_id,))
            seen = (await cur.fetchone())[0]
            removed = 0
            if seen == 0:
                log.warning("catalog sync saw an empty listing: not marking everything removed")
            else:
                await cur.execute(
                    "UPDATE series SET removed_at = now(), updated_at = now() "
                    "WHERE removed_at IS NULL AND NOT EXISTS (SELECT 1 FROM catalog_sync_seen s "
                    "WHERE s.run_id = %s AND s.series_id = series.id)",
                    (run_id,),
                )
                removed = max(0, cur.rowcount)
            await cur.execute("DELETE FROM catalog_sync_seen WHERE run_id = %s", (run_id,))
            await self._save_state(run_id, "complete", end, cur=cur)
        self._metrics.removed.inc(removed)
        return removed

    @staticmethod
    def _state_sql(
        run_id: str, status: str, start: int, error: str | None = None
    ) -> tuple[str, tuple[Any, ...]]:
        query = (
            "INSERT INTO catalog_sync_state (job, run_id, status, phase, cursor, last_error, "
            "finished_at) VALUES (%s, %s, %s, 'browse', %s::jsonb, %s, "
            "CASE WHEN %s = 'complete' THEN now() END) "
            "ON CONFLICT (job) DO UPDATE SET run_id = EXCLUDED.run_id, status = EXCLUDED.status, "
            "cursor = EXCLUDED.cursor, last_error = EXCLUDED.last_error, updated_at = now(), "
            "finished_at = EXCLUDED.finished_at, started_at = CASE WHEN "
            "catalog_sync_state.run_id = EXCLUDED.run_id THEN catalog_sync_state.started_at "
            "ELSE now() END"
        )
        params = (JOB, run_id, status, orjson.dumps({"start": start}).decode(), error, status)
        return query, params

    async def _save_state(
        self, run_id: str, status: str, start: int, *, error: str | None = None, cur: Any = None
    ) -> None:
        query, params = self._state_sql(run_id, status, start, error)
        if cur is not None:
            await cur.execute(query, params)
        else:
            async with self._pool.acquire() as conn, conn.cursor() as c:
                await c.execute(query, params)


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
        self.sync._stopping = False
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._loop(), name="catalog-sync")

    def trigger(self) -> bool:
        """Run a sync now (an operator asked); False when one is running or about to.

        A job waiting for its next interval wakes up; a job whose task has ended (interval 0)
        runs once more. The interval then counts from the end of this run.
        """
        if self.sync.status.running or self._wake.is_set():
            return False
        self.sync._stopping = False
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
        row = await fetch_one(
            self.sync._pool, "SELECT status FROM catalog_sync_state WHERE job = %s", (JOB,)
        )
        interrupted = row is not None and row[0] != "complete"
        return not status.loaded or interrupted

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
                    if self.sync._stopping:
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
