"""Every replica follows the catalog: a completed sync (on any replica) refreshes this one's
search index, warm cache and sync status.

The version is the `seq` of the newest complete attempt in `catalog_sync_runs`. The holder's
finishing transaction sends `pg_notify(CATALOG_CHANNEL, {version, run_id, changed})`, which
PostgreSQL delivers on commit to every listening replica (`PgListener`); each replica also
polls the version every `poll` seconds (and on reconnecting), so one that missed the notice
(its LISTEN connection was down, it was paused) catches up within that time. Refreshing is
idempotent and happens once per version: the watcher remembers the last one it acted on.
Versions this replica produced itself are skipped (its job refreshed right after its run).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from kensho.jobs.stopping import cancel_within
from kensho.store.pool import fetch_one

__all__ = ["VersionWatcher", "catalog_version"]

log = logging.getLogger("kensho.jobs.catalog_sync")

_VERSION = """
SELECT coalesce(max(seq), 0),
       coalesce(bool_or(rows_written > 0 OR removed > 0)
                FILTER (WHERE seq > %(since)s AND holder <> %(me)s), false),
       coalesce(bool_or(true) FILTER (WHERE seq > %(since)s AND holder <> %(me)s), false)
  FROM catalog_sync_runs WHERE status = 'complete'
"""


async def catalog_version(pool: Any, since: int = 0, me: str = "") -> tuple[int, bool, bool]:
    """(the catalog version; whether a complete run after `since` by another holder than `me`
    changed the catalog; whether there is any such run)."""
    row = await fetch_one(pool, _VERSION, {"since": since, "me": me})
    return (int(row[0]), bool(row[1]), bool(row[2])) if row is not None else (0, False, False)


class VersionWatcher:
    """Calls `refresh(changed)` once for each new catalog version, however it learns of it."""

    def __init__(
        self,
        pool: Any,
        refresh: Callable[[bool], Awaitable[None]],
        *,
        poll: float,
        me: str,
        known: int = 0,
    ) -> None:
        self._pool = pool
        self._me = me
        self._refresh = refresh
        self._poll = poll
        self.known = known
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        #: versions refreshed, by how the watcher learnt of them (notice | poll)
        self.refreshes: dict[str, int] = {"notice": 0, "poll": 0}

    async def check(self, how: str = "poll") -> bool:
        """Read the version; refresh when it moved on. True when it refreshed."""
        async with self._lock:
            version, changed, others = await catalog_version(self._pool, self.known, self._me)
            if version <= self.known:
                return False
            if not others:  # only our own runs, refreshed by our job already
                self.known = version
                return False
            log.info(
                "catalog version %d (was %d, %s): refreshing this replica",
                version,
                self.known,
                how,
                extra={"event": "catalog_version", "version": version, "how": how},
            )
            await self._refresh(changed)
            self.known = version
            self.refreshes[how] = self.refreshes.get(how, 0) + 1
            return True

    async def on_notice(self, payload: str) -> None:
        """A `CATALOG_CHANNEL` notice: its content is a hint, the database is the truth."""
        del payload
        await self.check("notice")

    def start(self) -> None:
        if self._poll > 0 and (self._task is None or self._task.done()):
            self._task = asyncio.get_running_loop().create_task(self._run(), name="catalog-poll")

    async def stop(self, budget: float | None = 5.0) -> bool:
        """Cancel the poll (`cancel_within`); False when it did not end within `budget` s."""
        task, self._task = self._task, None
        return await cancel_within(task, budget, "catalog version poll")

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._poll)
            try:
                await self.check("poll")
            except Exception:
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise asyncio.CancelledError from None  # the driver hid our cancellation
                log.warning("catalog version poll failed", exc_info=True)
