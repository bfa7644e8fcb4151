"""Writing a catalog sync to PostgreSQL: pages with their checkpoint, the end of a run.

Each page (or a few merged ones) is one transaction together with its checkpoint in
`catalog_sync_state`, in few round trips; rows are written only when their content hash
changed, so a second sync writes nothing; children gone from a fetched parent get
`removed_at`. At the end of a complete listing, series not seen in the run are marked removed.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from kensho.jobs.catalog_rows import (
    EPISODE_COLUMNS,
    SEASON_COLUMNS,
    SERIES_COLUMNS,
    EpisodeRow,
    SeasonRow,
    SeriesRow,
)
from kensho.jobs.sync_status import SyncMetrics, SyncResult
from kensho.store.catalog_queries import genre_slug
from kensho.store.pool import rollback_on_error, transaction, upsert_arrays

__all__ = ["CATALOG_CHANNEL", "JOB", "CatalogWriter", "PageRows", "merge_pages"]

log = logging.getLogger("kensho.jobs.catalog_sync")
JOB = "catalog"
#: PostgreSQL NOTIFY channel of completed syncs: {"version", "run_id", "changed"}
CATALOG_CHANNEL = "kensho_catalog"

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
#: rows per statement (array parameters: one statement per table per page in practice)
_WRITE_BATCH = 5000

#: one round trip: open the page transaction (the lease's fence first, when the run holds
#: one) and read the stored hashes of the page's items
_BEGIN = "BEGIN; SET LOCAL synchronous_commit TO off; "
_HASHES = (
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

PageRows = tuple[list[SeriesRow], list[SeasonRow], list[EpisodeRow]]


def merge_pages(pages: list[PageRows]) -> PageRows:
    """Rows of consecutive pages as one; an id listed twice keeps its last row (one statement
    may not upsert the same key twice)."""
    if len(pages) == 1:
        return pages[0]
    series = list({r.id: r for p in pages for r in p[0]}.values())
    seasons = list({r.id: r for p in pages for r in p[1]}.values())
    episodes = list({r.id: r for p in pages for r in p[2]}.values())
    return series, seasons, episodes


class CatalogWriter:
    """The sync's writes: one transaction per page (with its checkpoint), then the finish.

    While a run holds the fleet's sync lease (`bind`), every transaction starts with the
    lease's fence: once another replica took the lease over, the next write fails with
    `LeaseLost` and nothing of it is committed. `attempt` is the run's `catalog_sync_runs`
    row, kept current with the page counts in the same transactions.
    """

    def __init__(self, pool: Any, metrics: SyncMetrics) -> None:
        self._pool = pool
        self._metrics = metrics
        self._fence: tuple[str, tuple[Any, ...]] | None = None
        self.attempt: int | None = None

    def bind(self, fence: tuple[str, tuple[Any, ...]] | None, attempt: int | None) -> None:
        """Fence every following write with `fence` and count progress on row `attempt`."""
        self._fence, self.attempt = fence, attempt

    def _fence_sql(self, cur: Any) -> str:
        return cur.mogrify(*self._fence).decode() + "; " if self._fence is not None else ""

    def _progress_sql(
        self, cur: Any, result: SyncResult, status: str | None = None, error: str | None = None
    ) -> str:
        if self.attempt is None:
            return ""
        return str(
            cur.mogrify(
                "UPDATE catalog_sync_runs SET pages = %s, series = %s, rows_written = %s, "
                "removed = %s, status = coalesce(%s, status), error = coalesce(%s, error), "
                "finished_at = CASE WHEN %s IS NULL THEN NULL ELSE now() END WHERE seq = %s",
                (
                    result.pages,
                    result.series_seen,
                    result.rows_written,
                    result.removed,
                    status,
                    error[:2000] if error is not None else None,
                    status,
                    self.attempt,
                ),
            ).decode()
        )

    async def write_page(
        self,
        run_id: str,
        next_start: int,
        rows: PageRows,
        result: SyncResult,
    ) -> None:
        ids = [s.id for s in rows[0]]
        # Few round trips per page: each one waits for a turn of an event loop that is busy
        # fetching, so BEGIN + the hash lookups are one request and seen + checkpoint + COMMIT
        # another. No WAL flush wait per page (synchronous_commit off): a commit lost in a
        # server crash loses its checkpoint with it (same transaction), so that page is redone.
        async with self._pool.acquire() as conn, conn.cursor() as cur, rollback_on_error(cur):
            await cur.execute(_BEGIN + self._fence_sql(cur) + _HASHES, {"ids": ids})
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
            if progress := self._progress_sql(cur, result):
                finish.append(progress)
            await cur.execute(";".join([*finish, "COMMIT"]))

    async def _write_changes(
        self,
        cur: Any,
        rows: PageRows,
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
                [(genre_slug(g), g) for g in genres],
                ["slug"],
            ),
            (
                "series_genres",
                [("series_id", "text"), ("genre", "text")],
                [(sid, genre_slug(g)) for sid, g in links],
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

    async def finish(self, run_id: str, end: int, result: SyncResult) -> int:
        """Mark series absent from the complete listing removed; close the run.

        With an attempt row, the same transaction marks it complete (its seq becomes the
        catalog version) and notifies `CATALOG_CHANNEL`: PostgreSQL delivers the notice only
        if the commit happens, so no replica hears of a version that does not exist.
        """
        async with transaction(self._pool) as cur:
            if self._fence is not None:
                await cur.execute(*self._fence)
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
            await self.save_state(run_id, "complete", end, cur=cur)
            result.removed = removed
            if self.attempt is not None:
                await cur.execute(self._progress_sql(cur, result, "complete"))
                changed = result.rows_written > 0 or removed > 0
                notice = orjson.dumps(
                    {"version": self.attempt, "run_id": run_id, "changed": changed}
                )
                await cur.execute("SELECT pg_notify(%s, %s)", (CATALOG_CHANNEL, notice.decode()))
        self._metrics.removed.inc(removed)
        return removed

    async def end_attempt(self, result: SyncResult, status: str, error: str | None) -> None:
        """Close this process's attempt row (failed, cancelled or lost); never raises."""
        if self.attempt is None:
            return
        try:
            async with self._pool.acquire() as conn, conn.cursor() as cur:
                await cur.execute(self._progress_sql(cur, result, status, error))
        except Exception:
            log.warning("could not record the end of sync attempt %s", self.attempt, exc_info=True)

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

    async def save_state(
        self, run_id: str, status: str, start: int, *, error: str | None = None, cur: Any = None
    ) -> None:
        """Upsert the checkpoint row (fenced by the lease on its own: a replica that lost the
        lease must not mark the new holder's run failed)."""
        query, params = self._state_sql(run_id, status, start, error)
        if cur is not None:
            await cur.execute(query, params)
            return
        async with transaction(self._pool) as c:
            if self._fence is not None:
                await c.execute(*self._fence)
            await c.execute(query, params)
