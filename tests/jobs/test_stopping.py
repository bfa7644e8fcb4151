"""Stopping background jobs within a budget that holds, even when a task resists cancellation."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import pytest

from kensho.jobs.cache_warming import CacheWarmer
from kensho.jobs.stopping import cancel_within
from kensho.jobs.sync_schedule import CatalogSyncJob


async def _stubborn(release: asyncio.Event, started: asyncio.Event) -> str:
    """Swallows cancellation until released, as a driver that turns it into its own error."""
    started.set()
    while not release.is_set():
        with contextlib.suppress(asyncio.CancelledError):
            await release.wait()
    return "finished late"


async def test_a_task_that_resists_cancellation_is_abandoned_at_the_deadline(
    caplog: pytest.LogCaptureFixture,
) -> None:
    release, started = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(_stubborn(release, started))
    await started.wait()
    assert await cancel_within(task, 0.05, "stubborn job") is False  # returns, not hangs
    assert not task.done()
    assert any("stubborn job did not stop within 0.05 s" in r.getMessage() for r in caplog.records)
    release.set()
    assert await task == "finished late"


async def test_a_cooperative_task_stops_in_time_and_errors_are_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert await cancel_within(None, 1, "nothing") is True
    sleeper = asyncio.create_task(asyncio.sleep(3600))
    assert await cancel_within(sleeper, 5, "sleeper") is True and sleeper.cancelled()

    async def fails_on_cancel() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            raise RuntimeError("driver error") from None

    failing = asyncio.create_task(fails_on_cancel())
    await asyncio.sleep(0)
    with caplog.at_level(logging.WARNING):
        assert await cancel_within(failing, 5, "failing") is True
    assert any("failing ended with an error" in r.getMessage() for r in caplog.records)


async def test_the_callers_own_cancellation_is_not_swallowed() -> None:
    release, started = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(_stubborn(release, started))
    await started.wait()
    stopping = asyncio.create_task(cancel_within(task, None, "stubborn job"))
    await asyncio.sleep(0)
    stopping.cancel()
    with pytest.raises(asyncio.CancelledError):
        await stopping
    release.set()
    await task


class _StubbornSyncJob(CatalogSyncJob):
    def __init__(self) -> None:
        self.release, self.started = asyncio.Event(), asyncio.Event()
        sync: Any = type(
            "Sync", (), {"request_stop": lambda self: None, "resume": lambda self: None}
        )()
        super().__init__(sync, interval=3600)

    async def _loop(self) -> None:
        await _stubborn(self.release, self.started)


async def test_the_catalog_sync_job_stops_within_its_budget() -> None:
    job = _StubbornSyncJob()
    job.start()
    await job.started.wait()
    # Before: wait_for(job.stop(), budget) waited for the task however long it resisted.
    assert await job.stop(0.05) is False
    job.release.set()


async def test_the_cache_warmer_stops_within_its_budget() -> None:
    release, started = asyncio.Event(), asyncio.Event()

    async def top_ids(_n: int) -> list[str]:
        await _stubborn(release, started)
        return []

    async def warm_one(_id: str) -> None:
        return None

    warmer = CacheWarmer(top_ids, warm_one, count=5)
    task = warmer.start()
    await started.wait()
    assert await warmer.stop(0.05) is False
    release.set()
    await task
    assert await warmer.stop(1) is True  # nothing running any more
