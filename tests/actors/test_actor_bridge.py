"""The asyncio bridge against started actors on real threads."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from actor_fakes import Echo, Fact, Hold, Probe, Raise, Recorder, Wait

from kensho.actors import bridge_ask, bridge_tell
from kensho.actors.bridge import await_reply
from kensho.actors.mailbox import Mailbox
from kensho.errors import ActorStopped, ActorTimeout, MailboxFull, ServiceUnavailable


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


async def test_a_busy_actor_does_not_block_the_loop(probe: Probe) -> None:
    # The actor is held inside its handler on an event only this test sets. While it is held,
    # the loop must run other work: here `callbacks` callbacks, each scheduling the next. No
    # clock is read: were the ask blocking the loop, none of them would run before it ended.
    callbacks = 1000
    started, gate = threading.Event(), threading.Event()
    ask = asyncio.create_task(bridge_ask(probe, Hold(started, gate), timeout=30))
    assert await asyncio.to_thread(started.wait, 10)  # the actor is in its handler, held
    loop = asyncio.get_running_loop()
    ran = 0
    all_ran = loop.create_future()

    def callback() -> None:
        nonlocal ran
        ran += 1
        if ran < callbacks:
            loop.call_soon(callback)
        else:
            all_ran.set_result(None)

    loop.call_soon(callback)
    await all_ran
    assert ran == callbacks
    assert not ask.done() and not gate.is_set()  # all of them ran while the actor was held
    assert probe.stats.processed == 0
    gate.set()
    assert await ask == "held"
    assert probe.stats.processed == 1


async def test_reply_and_exception_propagate_unchanged(probe: Probe) -> None:
    assert await bridge_ask(probe, Echo({"a": 1}), timeout=5) == {"a": 1}
    boom = KeyError("missing")
    with pytest.raises(KeyError) as info:
        await bridge_ask(probe, Raise(boom), timeout=5)
    assert info.value is boom
    # an ask failure returns to the asker; the actor lives on
    assert await bridge_ask(probe, Echo(2), timeout=5) == 2
    assert probe.stats.processed == 2 and probe.stats.failed == 1


async def test_timeout_raises_actor_timeout_and_actor_recovers(probe: Probe) -> None:
    gate = threading.Event()
    with pytest.raises(ActorTimeout):
        await bridge_ask(probe, Wait(gate), timeout=0.05)
    gate.set()
    assert await bridge_ask(probe, Echo("after"), timeout=5) == "after"


async def test_thousand_concurrent_asks_complete(probe: Probe) -> None:
    results = await asyncio.gather(*(bridge_ask(probe, Echo(i), 10) for i in range(1000)))
    assert results == list(range(1000))
    assert probe.stats.processed == 1000


async def test_cancelled_asks_do_not_leak(probe: Probe) -> None:
    loop = asyncio.get_running_loop()
    errors: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, ctx: errors.append(ctx))
    gate = threading.Event()
    blocker = asyncio.create_task(bridge_ask(probe, Wait(gate), timeout=5))
    asks = [asyncio.create_task(bridge_ask(probe, Echo(i), timeout=5)) for i in range(100)]
    await asyncio.sleep(0)  # let every ask enqueue
    for task in asks:
        task.cancel()
    results = await asyncio.gather(*asks, return_exceptions=True)
    assert all(isinstance(r, asyncio.CancelledError) for r in results)
    gate.set()
    assert await blocker == "waited"
    # the cancelled asks are skipped unexecuted, and nothing is left behind on the loop
    assert await bridge_ask(probe, Echo("last"), timeout=5) == "last"
    assert probe.stats.processed == 2 and probe.stats.expired == 100
    await asyncio.sleep(0)  # drain call_soon_threadsafe callbacks
    assert errors == []
    assert asyncio.all_tasks() == {asyncio.current_task()}


async def test_dead_actor_raises_actor_stopped(probe: Probe) -> None:
    probe.actor_ref.stop(timeout=5)
    with pytest.raises(ActorStopped):
        await bridge_ask(probe, Echo(1), timeout=1)
    with pytest.raises(ActorStopped):
        bridge_tell(probe, Echo(1))


async def test_queued_asks_fail_when_the_actor_stops(probe: Probe) -> None:
    gate = threading.Event()
    first = asyncio.create_task(bridge_ask(probe, Wait(gate), timeout=5))
    await asyncio.sleep(0)
    probe.stop()  # a tell: queued behind the Wait
    await asyncio.sleep(0)
    late = asyncio.create_task(bridge_ask(probe, Echo(1), timeout=5))
    await asyncio.sleep(0)
    gate.set()
    assert await first == "waited"
    with pytest.raises(ActorStopped):
        await late


@pytest.mark.parametrize("timeout", [0, -1, float("nan")])
async def test_malformed_timeout_is_rejected(probe: Probe, timeout: float) -> None:  # noqa: ASYNC109
    with pytest.raises(ValueError, match="positive timeout"):
        await bridge_ask(probe, Echo(1), timeout=timeout)


async def test_hostile_and_oversized_messages(probe: Probe) -> None:
    with pytest.raises(TypeError, match="cannot handle"):
        await bridge_ask(probe, object(), timeout=5)
    big = b"x" * (16 * 1024 * 1024)
    assert await bridge_ask(probe, Echo(big), timeout=5) is big  # by reference
    assert await bridge_ask(probe, Echo(None), timeout=5) is None


async def test_tell_is_fire_and_forget(probe: Probe, rec: Recorder) -> None:
    gate = threading.Event()
    bridge_tell(probe, Wait(gate))  # returns although the actor cannot finish yet
    assert not gate.is_set()
    gate.set()
    assert await bridge_ask(probe, Echo("x"), timeout=5) == "x"
    assert [m for _n, _i, m in rec.log] == [Wait(gate), Echo("x")]


async def test_an_ask_that_timed_out_is_not_executed(probe: Probe, rec: Recorder) -> None:
    gate = threading.Event()
    busy = asyncio.create_task(bridge_ask(probe, Wait(gate), timeout=5))
    await asyncio.sleep(0)  # posted: the actor is stuck on it until the gate opens
    with pytest.raises(ActorTimeout):
        await bridge_ask(probe, Echo("late"), timeout=0.01)
    gate.set()
    assert await busy == "waited"
    assert await bridge_ask(probe, Echo("next"), timeout=5) == "next"
    assert [m for _n, _i, m in rec.log] == [Wait(gate), Echo("next")]
    assert probe.stats.expired == 1 and probe.stats.snapshot()["expired_asks"] == 1


async def test_a_reply_nobody_waits_for_goes_to_on_orphan(probe: Probe) -> None:
    started, gate = threading.Event(), threading.Event()
    orphans: asyncio.Queue[Any] = asyncio.Queue()
    ask = asyncio.create_task(
        bridge_ask(probe, Hold(started, gate), timeout=5, on_orphan=orphans.put_nowait)
    )
    assert await asyncio.to_thread(started.wait, 5)  # the actor is working on it …
    ask.cancel()  # … when the asker gives up
    with pytest.raises(asyncio.CancelledError):
        await ask
    gate.set()
    assert await asyncio.wait_for(orphans.get(), 5) == "held"


async def test_a_full_mailbox_refuses_fast_with_503(probe: Probe) -> None:
    probe.mailbox.limit = 3
    started, gate = threading.Event(), threading.Event()
    busy = asyncio.create_task(bridge_ask(probe, Hold(started, gate), timeout=5))
    assert await asyncio.to_thread(started.wait, 5)  # taken out: the mailbox is empty
    queued = [asyncio.create_task(bridge_ask(probe, Echo(i), timeout=5)) for i in range(3)]
    await asyncio.sleep(0)
    assert probe.mailbox.depth() == 3
    with pytest.raises(MailboxFull) as info:
        await bridge_ask(probe, Echo("over"), timeout=5)
    assert isinstance(info.value, ServiceUnavailable) and info.value.status == 503
    assert info.value.headers["Retry-After"] == "1"
    with pytest.raises(MailboxFull):
        bridge_tell(probe, Echo("over"))
    gate.set()
    assert await busy == "held"
    assert await asyncio.gather(*queued) == [0, 1, 2]
    snap = probe.stats.snapshot()
    assert snap["mailbox_limit"] == 3 and snap["mailbox_rejected"] == 2
    assert snap["mailbox_depth"] == 0
    assert await bridge_ask(probe, Echo("room again"), timeout=5) == "room again"


def test_mailbox_limit_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        Mailbox(limit=0)


async def test_a_message_that_reports_a_fact_runs_even_after_its_asker_gave_up(
    probe: Probe, rec: Recorder
) -> None:
    gate = threading.Event()
    busy = asyncio.create_task(bridge_ask(probe, Wait(gate), timeout=5))
    await asyncio.sleep(0)
    with pytest.raises(ActorTimeout):
        await bridge_ask(probe, Fact("a stream was opened"), timeout=0.01)
    gate.set()
    assert await busy == "waited"
    assert await bridge_ask(probe, Echo("next"), timeout=5) == "next"
    assert Fact("a stream was opened") in [m for _n, _i, m in rec.log]
    assert probe.stats.expired == 0


async def test_a_reply_in_the_deadlines_loop_turn_wins_and_the_timer_stays_quiet() -> None:
    loop = asyncio.get_running_loop()
    errors: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, ctx: errors.append(ctx))
    fut: asyncio.Future[Any] = loop.create_future()
    waiter = asyncio.create_task(await_reply(fut, 0))
    # Turn 1: the waiter arms its (already due) timer and waits; then this schedules the reply.
    # Turn 2: the reply lands first, then the due timer fires on a future that is done.
    loop.call_soon(loop.call_soon, fut.set_result, "reply")
    assert await waiter == "reply"
    assert errors == []  # no InvalidStateError from the timer
