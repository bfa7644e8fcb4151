"""The asyncio bridge against started actors on real threads."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from actor_fakes import Echo, Probe, Raise, Recorder, Sleep, Wait

from kensho.actors import bridge_ask, bridge_tell
from kensho.errors import ActorStopped, ActorTimeout


@pytest.fixture
async def rec() -> Recorder:
    return Recorder(asyncio.get_running_loop())


@pytest.fixture
def actors() -> Iterator[list[Probe]]:
    started: list[Probe] = []
    yield started
    for actor in started:
        if actor.actor_ref.is_alive():
            actor.actor_ref.stop(timeout=5)


@pytest.fixture
async def probe(rec: Recorder, actors: list[Probe]) -> AsyncIterator[Probe]:
    actor = rec.factory("p")
    actor.launch()
    actors.append(actor)
    yield actor


async def test_slow_actor_does_not_block_the_loop(probe: Probe) -> None:
    lags: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        loop = asyncio.get_running_loop()
        while not done.is_set():
            before = loop.time()
            await asyncio.sleep(0.005)
            lags.append(loop.time() - before - 0.005)

    task = asyncio.create_task(ticker())
    assert await bridge_ask(probe.actor_ref, Sleep(0.5), timeout=5) == 0.5
    done.set()
    await task
    assert len(lags) >= 50  # the loop kept ticking during the whole 500 ms
    assert max(lags) < 0.020


async def test_reply_and_exception_propagate_unchanged(probe: Probe) -> None:
    assert await bridge_ask(probe.actor_ref, Echo({"a": 1}), timeout=5) == {"a": 1}
    boom = KeyError("missing")
    with pytest.raises(KeyError) as info:
        await bridge_ask(probe.actor_ref, Raise(boom), timeout=5)
    assert info.value is boom
    # an ask failure returns to the asker; the actor lives on
    assert await bridge_ask(probe.actor_ref, Echo(2), timeout=5) == 2
    assert probe.stats.processed == 2 and probe.stats.failed == 1


async def test_timeout_raises_actor_timeout_and_actor_recovers(probe: Probe) -> None:
    gate = threading.Event()
    with pytest.raises(ActorTimeout):
        await bridge_ask(probe.actor_ref, Wait(gate), timeout=0.05)
    gate.set()
    assert await bridge_ask(probe.actor_ref, Echo("after"), timeout=5) == "after"


async def test_thousand_concurrent_asks_complete(probe: Probe) -> None:
    results = await asyncio.gather(*(bridge_ask(probe.actor_ref, Echo(i), 10) for i in range(1000)))
    assert results == list(range(1000))
    assert probe.stats.processed == 1000


async def test_cancelled_asks_do_not_leak(probe: Probe) -> None:
    loop = asyncio.get_running_loop()
    errors: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, ctx: errors.append(ctx))
    gate = threading.Event()
    blocker = asyncio.create_task(bridge_ask(probe.actor_ref, Wait(gate), timeout=5))
    asks = [
        asyncio.create_task(bridge_ask(probe.actor_ref, Echo(i), timeout=5)) for i in range(100)
    ]
    await asyncio.sleep(0)  # let every ask enqueue
    for task in asks:
        task.cancel()
    results = await asyncio.gather(*asks, return_exceptions=True)
    assert all(isinstance(r, asyncio.CancelledError) for r in results)
    gate.set()
    assert await blocker == "waited"
    # the actor still answers the cancelled asks; those late replies must be dropped quietly
    assert await bridge_ask(probe.actor_ref, Echo("last"), timeout=5) == "last"
    assert probe.stats.processed == 102
    await asyncio.sleep(0)  # drain call_soon_threadsafe callbacks
    assert errors == []
    assert asyncio.all_tasks() == {asyncio.current_task()}


async def test_dead_actor_raises_actor_stopped(probe: Probe) -> None:
    probe.actor_ref.stop(timeout=5)
    with pytest.raises(ActorStopped):
        await bridge_ask(probe.actor_ref, Echo(1), timeout=1)
    with pytest.raises(ActorStopped):
        bridge_tell(probe.actor_ref, Echo(1))


async def test_queued_asks_fail_when_the_actor_stops(probe: Probe) -> None:
    gate = threading.Event()
    first = asyncio.create_task(bridge_ask(probe.actor_ref, Wait(gate), timeout=5))
    await asyncio.sleep(0)
    probe.stop()  # a tell: queued behind the Wait
    await asyncio.sleep(0)
    late = asyncio.create_task(bridge_ask(probe.actor_ref, Echo(1), timeout=5))
    await asyncio.sleep(0)
    gate.set()
    assert await first == "waited"
    with pytest.raises(ActorStopped):
        await late


@pytest.mark.parametrize("timeout", [0, -1, float("nan")])
async def test_malformed_timeout_is_rejected(probe: Probe, timeout: float) -> None:  # noqa: ASYNC109
    with pytest.raises(ValueError, match="positive timeout"):
        await bridge_ask(probe.actor_ref, Echo(1), timeout=timeout)


async def test_hostile_and_oversized_messages(probe: Probe) -> None:
    with pytest.raises(TypeError, match="cannot handle"):
        await bridge_ask(probe.actor_ref, object(), timeout=5)
    big = b"x" * (16 * 1024 * 1024)
    assert await bridge_ask(probe.actor_ref, Echo(big), timeout=5) is big  # by reference
    assert await bridge_ask(probe.actor_ref, Echo(None), timeout=5) is None


async def test_tell_is_fire_and_forget(probe: Probe, rec: Recorder) -> None:
    gate = threading.Event()
    bridge_tell(probe.actor_ref, Wait(gate))  # returns although the actor cannot finish yet
    assert not gate.is_set()
    gate.set()
    assert await bridge_ask(probe.actor_ref, Echo("x"), timeout=5) == "x"
    assert [m for _n, _i, m in rec.log] == [Wait(gate), Echo("x")]
