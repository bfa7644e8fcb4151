"""RankingPool: ranking on threads of its own, a bounded queue, shedding beyond it."""

from __future__ import annotations

import asyncio
import threading

import pytest

from kensho.errors import ServiceUnavailable
from kensho.search.ranker import RankingPool


async def test_calls_run_on_a_ranking_thread_not_the_loop() -> None:
    pool = RankingPool(threads=1)
    try:
        name = await pool.run(lambda: threading.current_thread().name)
        assert name.startswith("search-rank") and name != threading.current_thread().name
        assert await pool.run(lambda a, b=0: a + b, 2, b=3) == 5
        with pytest.raises(KeyError):
            await pool.run({}.__getitem__, "missing")
        assert pool.stats() == {"threads": 1, "pending": 0, "shed": 0, "ranked": 3}
    finally:
        pool.close()


async def test_beyond_the_queue_bound_calls_are_shed_with_503() -> None:
    pool = RankingPool(threads=1, max_waiting=1)
    started, gate = threading.Event(), threading.Event()

    def hold() -> str:
        started.set()
        gate.wait(10)
        return "held"

    try:
        running = asyncio.create_task(pool.run(hold))
        assert await asyncio.to_thread(started.wait, 5)
        queued = asyncio.create_task(pool.run(lambda: "queued"))
        await asyncio.sleep(0)
        with pytest.raises(ServiceUnavailable) as info:
            await pool.run(lambda: "shed")
        assert info.value.status == 503 and info.value.headers["Retry-After"] == "1"
        gate.set()
        assert (await running, await queued) == ("held", "queued")
        assert pool.stats()["shed"] == 1 and pool.pending == 0
    finally:
        gate.set()
        pool.close()


def test_malformed_pool_settings_are_rejected() -> None:
    with pytest.raises(ValueError):
        RankingPool(threads=0)
    with pytest.raises(ValueError):
        RankingPool(max_waiting=-1)
    RankingPool().close()  # never started: nothing to stop
