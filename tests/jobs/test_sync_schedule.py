"""`CatalogSyncJob`'s edges: an idempotent start, a plan that fails unleased, a lease taken
by another replica as the schedule tried, and a cancellation that a database driver turned into
another error."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from kensho.jobs.sync_leadership import SYNC_LEASE, Step
from kensho.jobs.sync_schedule import CatalogSyncJob, Started
from kensho.store.lease import LeaseStore

from .test_catalog_sync import FakeSource, _sync


async def _wrap_cancel_forever(entered: asyncio.Event) -> Any:
    """Wait until cancelled, then raise what a driver raises instead of `CancelledError`
    (aiopg's queries run under 3.11's `wait_for`, which can turn one into its own error)."""
    entered.set()
    try:
        await asyncio.Event().wait()
    except asyncio.CancelledError:
        raise ConnectionError("connection closed while cancelling the query") from None


async def test_a_failing_plan_without_leases_is_raised_as_is(
    clean_pool: Any, source: FakeSource
) -> None:
    job = CatalogSyncJob(_sync(clean_pool, source), interval=0)

    async def broken_plan() -> tuple[str, int]:
        raise RuntimeError("a bug")

    job.sync.plan = broken_plan  # type: ignore[method-assign]
    with pytest.raises(RuntimeError, match="a bug"):
        await job.run_now()
    assert job._current is None  # nothing was started


@pytest.mark.parametrize("freed", [True, False])
async def test_a_lease_taken_by_another_when_the_schedule_tried(
    clean_pool: Any, source: FakeSource, freed: bool
) -> None:
    """The schedule decided to run but another replica held the lease when it tried; it reads
    the situation again: if the lease is free by then it tries again shortly (never stops),
    else it follows that second decision."""
    other = await LeaseStore(clean_pool, SYNC_LEASE, "other", 30).try_acquire()
    assert other is not None
    job = CatalogSyncJob(
        _sync(clean_pool, source),
        interval=0,
        leases=LeaseStore(clean_pool, SYNC_LEASE, "me", 30),
    )
    second = Step(True, why="interval") if freed else Step(False, None, "start only")
    decisions = [Step(True, why="interval"), second]
    calls = 0

    async def decide(*, at_start: bool, holding: bool = False) -> Step:
        nonlocal calls
        calls += 1
        return decisions.pop(0) if decisions else Step(False, None, "start only")

    job._decide = decide  # type: ignore[method-assign]
    job.start()
    assert job._task is not None
    await asyncio.wait_for(job._task, 10)  # a "start only" decision ends the schedule
    assert calls == (3 if freed else 2)
    assert job._current is None  # the lease was never ours: no run
    assert await job.stop(5)


async def test_stopping_while_a_driver_wraps_the_schedules_cancellation(
    clean_pool: Any, source: FakeSource, caplog: pytest.LogCaptureFixture
) -> None:
    job = CatalogSyncJob(_sync(clean_pool, source), interval=3600)
    entered = asyncio.Event()

    async def decide(*, at_start: bool, holding: bool = False) -> Step:
        return await _wrap_cancel_forever(entered)  # type: ignore[no-any-return]

    job._decide = decide  # type: ignore[method-assign]
    job.start()
    task = job._task
    job.start()  # idempotent: the schedule is already running
    assert job._task is task and task is not None
    await asyncio.wait_for(entered.wait(), 10)
    assert await job.stop(5)
    assert task.cancelled()  # stopped, not logged as an unreadable database and retried
    assert "could not read its state" not in caplog.text


async def test_stopping_while_a_driver_wraps_the_runs_cancellation(
    clean_pool: Any, source: FakeSource, caplog: pytest.LogCaptureFixture
) -> None:
    job = CatalogSyncJob(_sync(clean_pool, source), interval=0)
    entered = asyncio.Event()

    async def run(**_kw: Any) -> Any:
        return await _wrap_cancel_forever(entered)

    job.sync.run = run  # type: ignore[method-assign]
    assert isinstance(await job.run_now(), Started)
    current = job._current
    assert current is not None
    await asyncio.wait_for(entered.wait(), 10)
    assert await job.stop(5)
    assert current.cancelled()  # stopped, not a failed run waiting for the next interval
    assert "catalog sync failed" not in caplog.text


async def test_a_cancellation_lost_in_a_query_still_stops_the_schedule(
    clean_pool: Any, source: FakeSource
) -> None:
    """3.11's `wait_for` (under aiopg's queries) can swallow a cancellation that arrives as
    the query completes: the schedule must not then wait out an hour before stopping."""
    job = CatalogSyncJob(_sync(clean_pool, source), interval=3600)
    entered = asyncio.Event()

    async def decide(*, at_start: bool, holding: bool = False) -> Step:
        entered.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            await asyncio.sleep(0)  # swallowed: the driver collects the query's result instead
        return Step(False, 3600.0, "not due")

    job._decide = decide  # type: ignore[method-assign]
    job.start()
    task = job._task
    assert task is not None
    await asyncio.wait_for(entered.wait(), 10)
    assert await job.stop(5)  # False if the schedule went to sleep for the hour
    assert task.cancelled()
