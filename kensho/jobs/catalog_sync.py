"""Catalog sync: walk the upstream listing page by page into PostgreSQL.

Per browse page: fetch every series' seasons, then every season's episodes (bounded
concurrency), then write the page in ONE transaction together with its checkpoint in
`catalog_sync_state`. A crash or cancellation therefore loses at most the page in flight, and
the next run resumes after the last committed page. Rows are written only when their content
hash changed, so a second sync writes nothing. When the listing was walked to its end, series
not seen in this run get `removed_at` (and come back to life if they reappear).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Mapping, Sequence
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
from kensho.jobs.catalog_source import CatalogSource
from kensho.store.pool import fetch_one, transaction, upsert_many

__all__ = ["CatalogSync", "CatalogSyncJob", "SyncResult", "SyncStatus"]

log = logging.getLogger(__name__)
JOB = "catalog"


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
        registry: CollectorRegistry | None = None,
    ) -> None:
        if catalog is None:
            from kensho.catalog import load_catalog

            catalog = load_catalog().by_series_id
        self._pool = pool
        self._source = source
        self._catalog = catalog
        self._page_size = page_size
        self._sem = asyncio.Semaphore(concurrency)
        self._metrics = _Metrics(registry)
        self.status = SyncStatus()
        #: set whenever a run ends (any outcome); lets callers await a run instead of polling
        self.run_finished = asyncio.Event()

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
        try:
            while True:
                page = await self._source.browse(start, self._page_size)
                self.status = replace(self.status, series_total=page.total)
                rows = await self._fetch_page(page.items, result)
                start += len(page.items)
                await self._write_page(run_id, start, rows, result)
                result.pages += 1
                result.series_seen += len(rows[0])
                self._metrics.pages.inc()
                self.status = replace(self.status, pages_done=result.pages, series_done=start)
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

    async def _limited(self, coro: Any) -> Any:
        async with self._sem:
            return await coro

    async def _fetch_page(
        self, items: Sequence[Any], result: SyncResult
    ) -> tuple[list[SeriesRow], list[SeasonRow], list[EpisodeRow]]:
        series: list[SeriesRow] = []
        for obj in items:
            try:
                sid = obj.get("id") if isinstance(obj, Mapping) else None
                entry = self._catalog.get(sid) if isinstance(sid, str) else None
                series.append(series_row(obj, entry))
            except InvalidItem as exc:
                self._reject(result, exc)
        unique = list({s.id: s for s in series}.values())
        season_lists = await asyncio.gather(
            *(self._limited(self._source.seasons(s.id)) for s in unique)
        )
        seasons: list[SeasonRow] = []
        for s, objs in zip(unique, season_lists, strict=True):
            for obj in objs:
                try:
                    seasons.append(season_row(obj, s.id))
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
                    episodes.append(episode_row(obj, season.series_id, season.id))
                except InvalidItem as exc:
                    self._reject(result, exc)
        episodes = list({e.id: e for e in episodes}.values())
        return unique, seasons, episodes

    def _reject(self, result: SyncResult, exc: InvalidItem) -> None:
        result.invalid += 1
        self._metrics.invalid.inc()
        log.warning("catalog sync skipped an upstream item: %s", exc)

    async def _write_page(
        self,
        run_id: str,
        next_start: int,
        rows: tuple[list[SeriesRow], list[SeasonRow], list[EpisodeRow]],
        result: SyncResult,
    ) -> None:
        series, seasons, episodes = rows
        ids = [s.id for s in series]
        async with transaction(self._pool) as cur:
            await cur.execute(
                "SELECT id, content_hash, removed_at IS NOT NULL FROM series WHERE id = ANY(%s)",
                (ids,),
            )
            old_series = {r[0]: (r[1], r[2]) for r in await cur.fetchall()}
            await cur.execute(
                "SELECT id, content_hash, removed_at IS NOT NULL FROM seasons "
                "WHERE series_id = ANY(%s)",
                (ids,),
            )
            old_seasons = {r[0]: (r[1], r[2]) for r in await cur.fetchall()}
            await cur.execute(
                "SELECT id, content_hash, removed_at IS NOT NULL FROM episodes "
                "WHERE series_id = ANY(%s)",
                (ids,),
            )
            old_episodes = {r[0]: (r[1], r[2]) for r in await cur.fetchall()}

            def changed(row_id: str, digest: str, old: Mapping[str, tuple[str, bool]]) -> bool:
                prev = old.get(row_id)
                return prev is None or prev[0] != digest or prev[1]

            new_series = [s for s in series if changed(s.id, s.hash, old_series)]
            new_seasons = [s for s in seasons if changed(s.id, s.hash, old_seasons)]
            new_episodes = [e for e in episodes if changed(e.id, e.hash, old_episodes)]
            await self._write_series(cur, new_series, result)
            await self._upsert(
                cur,
                "seasons",
                SEASON_COLUMNS,
                [s.values for s in new_seasons],
                "(%s,%s,%s,%s,%s,%s,%s,%s,%s::text[],%s::text[],%s)",
                result,
            )
            await self._upsert(
                cur,
                "episodes",
                EPISODE_COLUMNS,
                [e.values for e in new_episodes],
                "(" + ",".join(["%s"] * 10) + ",%s::timestamptz,%s,%s,%s::jsonb,%s)",
                result,
            )
            # children that vanished from a parent fetched in this page
            season_ids = {s.id for s in seasons}
            episode_ids = {e.id for e in episodes}
            gone_seasons = [k for k, v in old_seasons.items() if not v[1] and k not in season_ids]
            gone_episodes = [
                k for k, v in old_episodes.items() if not v[1] and k not in episode_ids
            ]
            await self._mark_removed(cur, "seasons", gone_seasons, result)
            await self._mark_removed(cur, "episodes", gone_episodes, result)
            if ids:
                await cur.execute(
                    "INSERT INTO catalog_sync_seen (run_id, series_id, position) "
                    "SELECT %s, id, ord FROM unnest(%s::text[]) WITH ORDINALITY AS u(id, ord) "
                    "ON CONFLICT DO NOTHING",
                    (run_id, ids),
                )
            await self._save_state(run_id, "running", next_start, cur=cur)

    async def _upsert(  # noqa: PLR0917
        self,
        cur: Any,
        table: str,
        columns: Sequence[str],
        values: list[tuple[Any, ...]],
        template: str,
        result: SyncResult,
    ) -> None:
        if not values:
            return
        update = [c for c in columns if c != "id"] + ["updated_at", "removed_at"]
        tpl = template[:-1] + ",now(),NULL)"
        n = await upsert_many(
            cur,
            table,
            [*columns, "updated_at", "removed_at"],
            values,
            conflict=["id"],
            update=update,
            template=tpl,
        )
        result.written[table] = result.written.get(table, 0) + n
        self._metrics.rows.labels(table).inc(n)

    async def _write_series(self, cur: Any, rows: list[SeriesRow], result: SyncResult) -> None:
        if not rows:
            return
        tpl = "(%s,%s,%s,%s,%s,%s::text[],%s,%s,%s,%s,%s::date,%s::date,%s,%s::jsonb,%s,%s,%s,%s)"
        await self._upsert(cur, "series", SERIES_COLUMNS, [r.values for r in rows], tpl, result)
        ids = [r.id for r in rows]
        for table in ("series_titles", "series_genres", "series_external_ids"):
            await cur.execute(f"DELETE FROM {table} WHERE series_id = ANY(%s)", (ids,))
        await cur.execute("DELETE FROM images WHERE owner_id = ANY(%s)", (ids,))
        titles = [(r.id, lang, text) for r in rows for lang, text in r.titles]
        genres = sorted({g for r in rows for g in r.genres})
        links = [(r.id, g) for r in rows for g in r.genres]
        ext = [(r.id, src, val) for r in rows for src, val in r.external_ids]
        images = [(r.id, *img) for r in rows for img in r.images]
        children: list[tuple[str, list[str], list[Any], list[str]]] = [
            ("series_titles", ["series_id", "lang", "text"], titles, ["series_id", "lang", "text"]),
            (
                "genres",
                ["slug", "name"],
                [(g.lower().replace(" ", "-"), g) for g in genres],
                ["slug"],
            ),
            (
                "series_genres",
                ["series_id", "genre"],
                [(sid, g.lower().replace(" ", "-")) for sid, g in links],
                ["series_id", "genre"],
            ),
            ("series_external_ids", ["series_id", "source", "value"], ext, ["series_id", "source"]),
            (
                "images",
                ["owner_id", "kind", "width", "height", "url"],
                images,
                ["owner_id", "kind", "width", "height"],
            ),
        ]
        for table, cols, values, key in children:
            if values:
                n = await upsert_many(cur, table, cols, values, conflict=key, update=[])
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

    async def _save_state(
        self, run_id: str, status: str, start: int, *, error: str | None = None, cur: Any = None
    ) -> None:
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
        if cur is not None:
            await cur.execute(query, params)
        else:
            async with self._pool.acquire() as conn, conn.cursor() as c:
                await c.execute(query, params)


class CatalogSyncJob:
    """Runs `CatalogSync` at start (when empty or interrupted) and then every `interval` s."""

    def __init__(self, sync: CatalogSync, *, interval: float) -> None:
        self.sync = sync
        self._interval = interval
        self._task: asyncio.Task[None] | None = None

    @property
    def status(self) -> SyncStatus:
        return self.sync.status

    def start(self) -> None:
        """Start the background task (idempotent)."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._loop(), name="catalog-sync")

    async def stop(self) -> None:
        """Cancel the task and wait for it; the last committed page stays the checkpoint."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _needs_initial_run(self) -> bool:
        status = await self.sync.refresh_status()
        row = await fetch_one(
            self.sync._pool, "SELECT status FROM catalog_sync_state WHERE job = %s", (JOB,)
        )
        interrupted = row is not None and row[0] != "complete"
        return not status.loaded or interrupted

    async def _loop(self) -> None:
        run_now = await self._needs_initial_run()
        while True:
            if run_now:
                try:
                    await self.sync.run()
                except Exception:
                    log.exception("catalog sync failed; retrying at the next interval")
            if self._interval <= 0:
                return
            await asyncio.sleep(self._interval)
            run_now = True
