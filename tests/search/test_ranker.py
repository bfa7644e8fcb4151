"""RankingPool: one ranking per loop turn or on threads of its own, a bounded queue, shedding."""

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


async def test_on_the_loop_other_work_runs_between_two_rankings() -> None:
    """threads=0: each ranking gets its own loop turn, so a probe never waits for a queue."""
    pool = RankingPool(threads=0)
    order: list[str] = []

    def rank(name: str) -> str:
        order.append(name)
        return threading.current_thread().name

    async def probe() -> None:
        order.append("probe")

    rankings = [asyncio.create_task(pool.run(rank, f"r{i}")) for i in range(3)]
    await asyncio.sleep(0)  # every ranking has queued for its turn
    probing = asyncio.create_task(probe())
    names = await asyncio.gather(*rankings)
    await probing
    assert set(names) == {threading.current_thread().name}  # on the loop's own thread
    assert order.index("probe") < order.index("r1")  # not behind the whole queue
    assert order[0] == "r0" and order.index("r1") < order.index("r2")  # arrival order
    assert pool.stats() == {"threads": 0, "pending": 0, "shed": 0, "ranked": 3}


async def test_on_the_loop_beyond_the_bound_calls_are_shed_and_errors_propagate() -> None:
    pool = RankingPool(threads=0, max_waiting=1)
    first = asyncio.create_task(pool.run(lambda: "first"))
    second = asyncio.create_task(pool.run(lambda: "second"))
    await asyncio.sleep(0)
    with pytest.raises(ServiceUnavailable):
        await pool.run(lambda: "shed")
    assert (await first, await second) == ("first", "second")
    with pytest.raises(KeyError):
        await pool.run({}.__getitem__, "missing")
    assert pool.stats()["shed"] == 1 and pool.pending == 0


def test_malformed_pool_settings_are_rejected() -> None:
    with pytest.raises(ValueError):
        RankingPool(threads=-1)
    with pytest.raises(ValueError):
        RankingPool(max_waiting=-1)
    RankingPool().close()  # never started: nothing to stop
