"""KenshoActor's boundary, stats and view; pure helpers without threads."""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Iterator
from typing import Any

import pykka
import pytest
from actor_fakes import Echo, Later, Probe, Raise, Recorder

from kensho.actors import backoff_delay, bridge_ask, bridge_tell
from kensho.actors.stats import ActorStats, Reservoir
from kensho.errors import ActorStopped, ActorUnavailable


@pytest.fixture
def started() -> Iterator[list[Probe]]:
    actors: list[Probe] = []
    yield actors
    for actor in actors:
        if actor.actor_ref.is_alive():
            actor.actor_ref.stop(timeout=5)


async def _pair(started: list[Probe]) -> tuple[Recorder, Probe, Probe]:
    rec = Recorder(asyncio.get_running_loop())
    a, b = rec.factory("a"), rec.factory("b")
    for actor in (a, b):
        actor.launch()
        started.append(actor)
    await rec.expect("start", "a")
    await rec.expect("start", "b")
    return rec, a, b


@pytest.mark.parametrize(
    "exc", [asyncio.CancelledError(), SystemExit(3), KeyboardInterrupt(), GeneratorExit()]
)
async def test_base_exception_in_ask_fails_only_that_actor(
    started: list[Probe], exc: BaseException
) -> None:
    rec, a, b = await _pair(started)
    with pytest.raises(ActorUnavailable) as info:
        await bridge_ask(a, Raise(exc), timeout=5)
    assert info.value.__cause__ is exc
    await rec.expect("failure", "a")
    assert not a.actor_ref.is_alive()
    assert a.stats.last_failure is not None
    assert a.stats.last_failure.type == type(exc).__name__
    with pytest.raises(ActorStopped):
        await bridge_ask(a, Echo(1), timeout=5)
    assert await bridge_ask(b, Echo("alive"), timeout=5) == "alive"


async def test_base_exception_in_tell_fails_only_that_actor(started: list[Probe]) -> None:
    rec, a, b = await _pair(started)
    a.actor_ref.tell(Raise(SystemExit(1)))
    await rec.expect("failure", "a")
    assert a.stats.last_failure is not None and a.stats.last_failure.type == "SystemExit"
    assert await bridge_ask(b, Echo("alive"), timeout=5) == "alive"
    assert b.actor_ref in pykka.ActorRegistry.get_all()


async def test_exception_after_tell_kills_the_actor(started: list[Probe]) -> None:
    rec, a, _b = await _pair(started)
    exits = []
    a._exit_hook = exits.append
    a.actor_ref.tell(Raise(ValueError("bad")))
    await rec.expect("failure", "a")
    assert not a.actor_ref.is_alive()
    assert [(r.abnormal, r.kind, type(r.error)) for r in exits] == [(True, "failure", ValueError)]


async def test_stats_and_view_are_read_without_the_mailbox(started: list[Probe]) -> None:
    _rec, a, _b = await _pair(started)
    for i in range(5):
        await bridge_ask(a, Echo(i), timeout=5)
    snap = a.stats.snapshot()
    assert snap["processed"] == 5 and snap["failed"] == 0
    assert snap["processing_us"]["p50"] > 0 and snap["mailbox_wait_us"]["p99"] > 0
    assert snap["mailbox_depth"] == 0
    assert a.view == {"incarnation": 1}


def test_reservoir_percentiles_and_bounds() -> None:
    r = Reservoir(size=100)
    assert r.percentiles(50, 99) == (0.0, 0.0)
    for v in range(1, 1001):  # only the last 100 samples are kept
        r.add(v * 1000)
    p50, p99 = r.percentiles(50, 99)
    assert 940 <= p50 <= 960 and 995 <= p99 <= 1000
    assert r.count == 1000
    with pytest.raises(ValueError):
        Reservoir(size=0)


def test_failure_info_truncates_hostile_messages() -> None:
    stats = ActorStats("x")
    stats.record_failure(RuntimeError("y" * 100_000))
    assert stats.last_failure is not None and len(stats.last_failure.message) == 500
    stats.record_failure(None, "thread_died")
    assert stats.last_failure is not None and stats.last_failure.type == "thread_died"


def test_backoff_is_akka_formula() -> None:
    assert backoff_delay(0, 0.1, 5.0, 0.2, u=0.0) == pytest.approx(0.1)
    assert backoff_delay(3, 0.1, 5.0, 0.2, u=0.5) == pytest.approx(0.8 * 1.1)
    assert backoff_delay(10, 0.1, 5.0, 0.2, u=1.0) == pytest.approx(5.0 * 1.2)
    assert backoff_delay(10_000, 0.1, 5.0, 0.0) == 5.0  # huge n does not overflow


async def test_reply_later_answers_when_the_handed_off_work_is_done(
    started: list[Probe], caplog: pytest.LogCaptureFixture
) -> None:
    _rec, a, _b = await _pair(started)
    done: concurrent.futures.Future[Any] = concurrent.futures.Future()
    ask = asyncio.create_task(bridge_ask(a, Later(done), timeout=5))
    assert await bridge_ask(a, Echo("meanwhile"), timeout=5) == "meanwhile"  # not blocked
    done.set_result(42)
    assert await ask == 42

    failing: concurrent.futures.Future[Any] = concurrent.futures.Future()
    ask = asyncio.create_task(bridge_ask(a, Later(failing), timeout=5))
    await asyncio.sleep(0)
    failing.set_exception(KeyError("gone"))
    with pytest.raises(KeyError):
        await ask

    cancelled: concurrent.futures.Future[Any] = concurrent.futures.Future()
    ask = asyncio.create_task(bridge_ask(a, Later(cancelled), timeout=5))
    await asyncio.sleep(0)
    cancelled.cancel()
    with pytest.raises(ActorStopped, match="cancelled"):
        await ask

    told: concurrent.futures.Future[Any] = concurrent.futures.Future()
    bridge_tell(a, Later(told))
    assert await bridge_ask(a, Echo("after the tell"), timeout=5) == "after the tell"
    told.set_exception(RuntimeError("nobody asked"))
    assert any("handed off after a tell failed" in r.getMessage() for r in caplog.records)
    assert a.actor_ref.is_alive()
