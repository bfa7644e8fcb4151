"""Which replica syncs the catalog, and when: the decision (`next_step`) and the lease's
heartbeat (`LeaseKeeper`).

Every replica runs the same schedule; the lease (`kensho.store.lease`) makes one of them the
holder for a run. The decision is a pure function of what PostgreSQL says (`Situation`), so
every replica reaches the same conclusion, and a replica that was asleep, crashed or partitioned
simply reads the situation again:

- the lease is held (someone is syncing): wait until it expires (the holder renews it every
  third of its time to live, so a live holder keeps it; a crashed one's lapses);
- the last run was interrupted (its checkpoint says running, nobody holds the lease): take it
  over now and resume it from its checkpoint under the new lease;
- nothing was ever synced: run now;
- at a replica's start, an empty catalog or a failed last run: run now (as one replica did);
- a failed run: retry one interval after it ended; a complete one: run one interval after it
  ended (so the fleet syncs once per interval, whichever replica's timer fires first).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kensho.jobs.catalog_writer import JOB
from kensho.store.lease import Lease, LeaseState, LeaseStore
from kensho.store.pool import fetch_one

__all__ = [
    "SYNC_LEASE",
    "LeaseKeeper",
    "Situation",
    "Step",
    "next_step",
    "read_situation",
    "sync_report",
]

log = logging.getLogger("kensho.jobs.catalog_sync")

#: the sync lease's name in `leases`
SYNC_LEASE = "catalog-sync"


@dataclass(frozen=True, slots=True)
class Situation:
    """What the database says about the sync, read in one round trip."""

    #: the lease is held (by anyone, this process included) and not expired
    lease_held: bool
    #: seconds until the held lease expires (the database's clock)
    lease_remaining: float
    #: `catalog_sync_state.status`: running | complete | failed, None before any run
    state: str | None
    #: seconds since the checkpoint row last changed (the end of the last run when not running)
    since_update: float
    #: the catalog has active series
    loaded: bool


@dataclass(frozen=True, slots=True)
class Step:
    """Run now, or check again in `wait` seconds (None: never again, interval 0)."""

    run: bool
    wait: float | None = None
    why: str = ""


def next_step(s: Situation, *, interval: float, at_start: bool, ttl: float) -> Step:
    """The schedule's decision (module docstring); `ttl` bounds how long a lease wait lasts."""
    if s.lease_held:
        # a little after the expiry, so a renewal that is due lands first; jitter spreads the
        # followers out (they would otherwise all query at the same instant)
        return Step(
            False, max(0.05, min(s.lease_remaining, ttl)) + random.uniform(0, ttl / 10), "held"
        )
    if s.state == "running":
        return Step(True, why="interrupted")
    if s.state is None:
        return Step(True, why="never synced")
    if at_start and (not s.loaded or s.state == "failed"):
        return Step(True, why="start")
    if interval <= 0:
        return Step(False, None, "start only")
    left = interval - s.since_update
    if left <= 0:
        return Step(True, why="interval")
    return Step(False, left, "not due")


_SITUATION = """
SELECT (SELECT holder IS NOT NULL AND expires_at > now() FROM leases WHERE name = %(lease)s),
       (SELECT extract(epoch FROM expires_at - now()) FROM leases WHERE name = %(lease)s),
       s.status, extract(epoch FROM now() - s.updated_at),
       EXISTS (SELECT 1 FROM series WHERE removed_at IS NULL)
  FROM (SELECT 1) one LEFT JOIN catalog_sync_state s ON s.job = %(job)s
"""


async def read_situation(pool: Any, lease: str = SYNC_LEASE) -> Situation:
    """The `Situation` now (one query)."""
    row = await fetch_one(pool, _SITUATION, {"lease": lease, "job": JOB})
    assert row is not None
    held, remaining, state, since, loaded = row
    return Situation(
        lease_held=bool(held),
        lease_remaining=float(remaining or 0.0),
        state=state,
        since_update=float(since or 0.0),
        loaded=bool(loaded),
    )


class LeaseKeeper:
    """Renews a held lease every third of its time to live while the work runs.

    When the lease turns out to be someone else's (renew says no), or it could not be renewed
    before it expired (the database unreachable: we cannot prove we still hold it), `on_lost`
    is called once; the work must then stop. The fence in every write is what guarantees
    correctness; the keeper only makes a replaced holder stop early instead of at its next write.
    """

    def __init__(self, store: LeaseStore, lease: Lease, on_lost: Callable[[str], None]) -> None:
        self._store = store
        self.lease = lease
        self._on_lost = on_lost
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="sync-lease")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        period = self._store.ttl / 3
        loop = asyncio.get_running_loop()
        valid_until = loop.time() + self._store.ttl
        while True:
            await asyncio.sleep(period)
            try:
                renewed = await self._store.renew(self.lease)
            except Exception as exc:
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise asyncio.CancelledError from None  # the driver hid our cancellation
                if loop.time() >= valid_until:
                    self._on_lost(f"lease not renewed in time: {exc}")
                    return
                log.warning("could not renew the sync lease (retrying): %s", exc)
                continue
            if renewed is None:
                self._on_lost("the sync lease was taken over by another replica")
                return
            self.lease = renewed
            valid_until = loop.time() + self._store.ttl


_LAST_RUN = """
SELECT run_id, status, holder, started_at, finished_at, pages, series, rows_written, removed,
       error, resumed_from
  FROM catalog_sync_runs ORDER BY seq DESC LIMIT 1
"""


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


async def sync_report(pool: Any, lease: LeaseState, *, running_here: bool) -> dict[str, Any]:
    """`GET /admin/catalog/sync`: the lease (who syncs, until when) and the newest attempt.

    `running` is fleet-wide (the lease is held); `last_run` is the newest attempt, the one in
    progress included (its `finished_at` is then null).
    """
    row = await fetch_one(pool, _LAST_RUN)
    last = None
    if row is not None:
        run_id, status, holder, started, finished, pages, series, written, removed, error, at = row
        last = {
            "id": run_id,
            "status": status,
            "holder": holder,
            "started_at": _iso(started),
            "finished_at": _iso(finished),
            "pages": pages,
            "series": series,
            "rows_written": written,
            "removed": removed,
            "error": error,
            "resumed_from": at,
        }
    return {
        "running": lease.held or running_here,
        "holder": lease.holder,
        "lease_expires_at": _iso(lease.expires_at),
        "last_run": last,
    }
