"""`CatalogSyncJob`: the catalog sync's schedule, with fleet leadership.

Every replica runs this job; with a `LeaseStore` (production) only the replica holding the
fleet's sync lease runs a sync, for the whole run (`LeaseKeeper` renews it, the writer fences
every commit with it), and the others wait for the lease to expire or the next interval
(`sync_leadership.next_step`). Without one (single-process tests, tools) the same schedule runs
unleased. `run_now` is the operator's "sync now": it takes the lease or names its holder.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kensho.errors import ServiceUnavailable
from kensho.jobs.catalog_sync import CatalogSync, LeaseLost
from kensho.jobs.stopping import cancel_within
from kensho.jobs.sync_leadership import (
    LeaseKeeper,
    Step,
    next_step,
    read_situation,
    sync_report,
)
from kensho.jobs.sync_status import SyncResult, SyncStatus
from kensho.observability.tracing import job_span
from kensho.store.lease import Lease, LeaseState, LeaseStore
from kensho.store.pool import database_unavailable

__all__ = ["CatalogSyncJob", "Held", "Started"]

log = logging.getLogger("kensho.jobs.catalog_sync")

#: how long to wait before reading the situation again when the database could not be read
_RETRY_UNREADABLE = 5.0


@dataclass(frozen=True, slots=True)
class Started:
    """This replica took the lease and started run `run_id`."""

    run_id: str


@dataclass(frozen=True, slots=True)
class Held:
    """Another run holds the lease (`holder`: a replica's id; this one's when it is ours)."""

    holder: str | None
    expires_at: datetime | None


@contextlib.contextmanager
def _database_errors() -> Iterator[None]:
    """A database error in an operator's call is a 503 (the lease lives in PostgreSQL)."""
    try:
        yield
    except Exception as exc:
        if database_unavailable(exc):
            raise ServiceUnavailable("The database is unavailable.", retry_after=5) from exc
        raise


class CatalogSyncJob:
    """Runs `CatalogSync` when the fleet's schedule says so and this replica holds the lease."""

    def __init__(
        self,
        sync: CatalogSync,
        *,
        interval: float,
        after_run: Callable[[SyncResult], Awaitable[None]] | None = None,
        leases: LeaseStore | None = None,
    ) -> None:
        self.sync = sync
        self._interval = interval
        self._after_run = after_run
        self._leases = leases
        self._task: asyncio.Task[None] | None = None
        #: the run in progress in this process (started by the schedule or by `run_now`)
        self._current: asyncio.Task[SyncResult | None] | None = None
        self._keeper: LeaseKeeper | None = None
        #: `run_now` is taking the lease (two operator requests at once: one run)
        self._starting = False
        #: from a run's start until its end (its readers' refresh after it is not included)
        self._in_run = False
        #: set by `run_now` to make the schedule re-read the situation at once
        self._wake = asyncio.Event()
        #: set once a run and its `after_run` hook are over (or no run was needed at start):
        #: from then on the catalog's readers (search index, warm cache) reflect the catalog
        self.settled = asyncio.Event()

    @property
    def status(self) -> SyncStatus:
        return self.sync.status

    @property
    def holder(self) -> str | None:
        """This replica's lease holder id (None when unleased)."""
        return self._leases.holder if self._leases is not None else None

    @property
    def lease(self) -> Lease | None:
        """The lease this replica holds for a run in progress, if any."""
        keeper = self._keeper
        return keeper.lease if keeper is not None else None

    def start(self) -> None:
        """Start the schedule (idempotent)."""
        self.sync.resume()
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._loop(), name="catalog-sync")

    async def run_now(self) -> Started | Held:
        """Start a run now (an operator asked): take the lease, or say who holds it.

        The run goes on in the background; its id is the interrupted run's (resumed) or new.
        `ServiceUnavailable` when the database cannot be reached (the lease lives there).
        """
        with _database_errors():
            return await self._run_now()

    async def _run_now(self) -> Started | Held:
        if self._starting or self._in_run:
            lease = self.lease
            return Held(self.holder, lease.expires_at if lease is not None else None)
        self._starting = True
        try:
            started = await self._try_start(forced=True)
        finally:
            self._starting = False
        if isinstance(started, Started):
            self._wake.set()  # the schedule counts its interval from this run's end
        return started

    async def report(self) -> dict[str, Any]:
        """`GET /admin/catalog/sync` (`sync_leadership.sync_report`) plus this replica's id."""
        running_here = self._current is not None and not self._current.done()
        with _database_errors():
            if self._leases is not None:
                lease = await self._leases.state()
            else:
                lease = LeaseState(None, 0, None, False, 0.0)
            report = await sync_report(self.sync.pool, lease, running_here=running_here)
        return report | {"replica": self.holder}

    async def stop(self, budget: float | None = None) -> bool:
        """Cancel the schedule and any run, within `budget` s (`cancel_within`); the last
        committed page stays the checkpoint, and the lease is released. False when late."""
        task, self._task = self._task, None
        current, self._current = self._current, None
        self.sync.request_stop()
        stopped = await cancel_within(task, budget, "catalog sync")
        if current is not None:
            stopped = await cancel_within(current, budget, "catalog sync run") and stopped
        return stopped

    async def _try_start(self, *, forced: bool, at_start: bool = False) -> Started | Held:
        """Take the lease and spawn a run (the schedule re-checks it is still due, under the
        lease: another replica may have finished one a moment ago)."""
        lease: Lease | None = None
        if self._leases is not None:
            lease = await self._leases.try_acquire()
            if lease is None:
                state = await self._leases.state()
                return Held(state.holder, state.expires_at)
        try:
            if not forced and lease is not None:
                step = await self._decide(at_start=at_start, holding=True)
                if not step.run:
                    await self._release(lease)
                    return Held(None, None)
            plan = await self.sync.plan()
        except BaseException:
            if lease is not None:
                await self._release(lease)
            raise
        log.info(
            "catalog sync starting run %s%s",
            plan[0],
            f" (lease token {lease.token}, holder {lease.holder})" if lease else "",
            extra={"event": "catalog_sync_lead", "run_id": plan[0], "holder": self.holder},
        )
        self.sync.resume()
        self._in_run = True
        self._current = asyncio.get_running_loop().create_task(
            self._execute(lease, plan), name="catalog-sync-run"
        )
        return Started(plan[0])

    async def _execute(self, lease: Lease | None, plan: tuple[str, int]) -> SyncResult | None:
        """One run under `lease` (renewed meanwhile), then the readers' refresh; the lease is
        released at the end whatever happened (a crash leaves it to expire instead).

        All of it is the run's own root trace: an operator's `run_now` spawns this task from
        inside the admin request, whose trace it would otherwise extend long after the
        answer (lease renewals, the readers' refresh). The request is kept as a link, and the
        readers' refresh jobs (search rebuild, cache warming) link to the run.
        """
        with job_span("catalog_sync run", run_id=plan[0], resumed_from=plan[1]):
            return await self._execute_traced(lease, plan)

    async def _execute_traced(
        self, lease: Lease | None, plan: tuple[str, int]
    ) -> SyncResult | None:
        run = asyncio.current_task()
        assert run is not None  # `_try_start` runs this as its own task
        lost_reason: list[str] = []
        if lease is not None and self._leases is not None:

            def lost(why: str) -> None:
                log.error("catalog sync stopping: %s", why)
                lost_reason.append(why)
                self.sync.request_stop()
                run.cancel()

            self._keeper = LeaseKeeper(self._leases, lease, lost)
            self._keeper.start()
        result: SyncResult | None = None
        try:
            result = await self.sync.run(lease=lease, plan=plan)
        except LeaseLost as exc:
            log.error("catalog sync stopped: %s", exc)
        except asyncio.CancelledError:
            if not lost_reason or run.uncancel() > 0:
                raise  # stopping (or stopped while losing the lease)
            log.error("catalog sync stopped: %s", lost_reason[0])
        except Exception:
            if run.cancelling():
                raise asyncio.CancelledError from None  # stopping: a driver wrapped our cancel
            log.exception("catalog sync failed; retrying at the next interval")
        finally:
            self._in_run = False
            keeper, self._keeper = self._keeper, None
            if keeper is not None:
                await keeper.stop()
                await self._release(keeper.lease)
        if result is not None and not self.sync.stopping:
            await self._notify(result)
        self.settled.set()
        return result

    async def _release(self, lease: Lease) -> None:
        assert self._leases is not None  # a lease comes from the store
        try:
            await asyncio.shield(self._leases.release(lease))
        except Exception:
            log.warning("could not release the sync lease (it expires by itself)", exc_info=True)

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

    async def _decide(self, *, at_start: bool, holding: bool = False) -> Step:
        situation = await read_situation(self.sync.pool)
        if holding:  # the lease we just took is not a reason to wait
            situation = situation.__class__(
                False, 0.0, situation.state, situation.since_update, situation.loaded
            )
        ttl = self._leases.ttl if self._leases is not None else 60.0
        return next_step(situation, interval=self._interval, at_start=at_start, ttl=ttl)

    async def _loop(self) -> None:
        at_start = True
        while True:
            current = self._current
            if current is not None and not current.done():
                await asyncio.wait([current])  # never raises the run's own outcome
                continue
            self._wake.clear()
            try:
                step = await self._decide(at_start=at_start)
                if step.run:
                    started = await self._try_start(forced=False, at_start=at_start)
                    at_start = False
                    if isinstance(started, Started):
                        continue  # wait for the run, then decide again
                    step = await self._decide(at_start=False)
                    if step.run:  # freed between the two reads: try again soon
                        step = Step(False, 0.05, "race")
            except Exception:
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    # Stopping: the driver turned our cancellation into its own error.
                    raise asyncio.CancelledError from None
                log.warning("catalog sync schedule could not read its state", exc_info=True)
                step = Step(False, _RETRY_UNREADABLE, "unreadable")
            at_start = False
            if step.why != "held" or self.sync.status.loaded:
                self.settled.set()  # nothing to wait for here: the readers are current
            if step.wait is None:
                return
            # A cancellation can be lost on the way (3.11's wait_for, which aiopg uses for its
            # queries, swallows one that arrives as the query completes): check before waiting
            # an hour. asyncio.timeout below, not wait_for, for the same reason.
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise asyncio.CancelledError
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(step.wait):
                    await self._wake.wait()
