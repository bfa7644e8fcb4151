"""Supervision's less travelled paths: misuse, failing factories, stops racing restarts, windows.

Each test drives a path of `kensho/actors/supervisor.py` the scenario tests do not reach, and
asserts what an operator or a caller sees there.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from actor_fakes import Echo, Raise, Recorder, StopSelf, WhoAmI

from kensho.actors import ChildSpec, Supervisor
from kensho.actors import supervisor as supervisor_module
from kensho.errors import ActorStopped, ActorUnavailable, NotFound

Make = Callable[..., Supervisor]  # the `make` fixture (conftest.py)


class Clock:
    """A monotonic clock the test moves (restart windows without waiting for them)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_starting_a_running_supervisor_is_refused(rec: Recorder, make: Make) -> None:
    sup = make([rec.spec("a")])
    await sup.start()
    with pytest.raises(RuntimeError, match="already running"):
        await sup.start()
    assert await sup.handle("a").ask(WhoAmI()) == ("a", 1)


async def test_a_failed_start_stops_the_started_children_in_reverse(
    rec: Recorder, make: Make
) -> None:
    rec.fail_start[("c", 1)] = ValueError("no")
    sup = make([rec.spec("a"), rec.spec("b"), rec.spec("c")])
    with pytest.raises(ActorUnavailable, match="root/c failed to start"):
        await sup.start()
    assert rec.stops == ["b", "a"]
    assert [c["state"] for c in sup.snapshot()["children"]] == ["stopped", "stopped", "failed"]


async def test_handle_paths_that_name_the_wrong_kind_of_child(rec: Recorder, make: Make) -> None:
    inner = Supervisor("inner", [rec.spec("x")])
    sup = make([rec.spec("a"), ChildSpec("inner", lambda: inner)])
    await sup.start()
    with pytest.raises(NotFound, match="'a' is not a supervisor"):
        sup.handle("a/x")
    with pytest.raises(NotFound, match="'inner' is a supervisor, not an actor"):
        sup.handle("inner")
    assert await sup.handle("inner/x").ask(WhoAmI()) == ("x", 1)
    assert [s.name for s in sup.child_specs] == ["a", "inner"]


async def test_operator_restart_needs_a_running_supervisor(rec: Recorder, make: Make) -> None:
    sup = make([rec.spec("a")])
    with pytest.raises(ActorUnavailable, match="not running"):
        await sup.restart_child("a")
    with pytest.raises(NotFound):
        await sup.restart_child("nope")
    assert rec.counts["a"] == 0


async def test_operator_restart_starts_an_exited_temporary_child(rec: Recorder, make: Make) -> None:
    sup = make([rec.spec("t", restart="temporary")])
    await sup.start()
    sup.handle("t").tell(Raise(RuntimeError("crash")))
    await rec.expect("failure", "t", 1)
    await sup.idle()
    assert sup.handle("t").stats()["state"] == "failed"
    await sup.restart_child("t")
    assert await sup.handle("t").ask(WhoAmI()) == ("t", 2)
    assert rec.stops == []  # nothing was running to stop


async def test_a_failing_operator_restart_falls_back_to_supervision(
    rec: Recorder, make: Make
) -> None:
    rec.fail_start[("a", 2)] = ValueError("bad restart")
    sup = make([rec.spec("a")])
    await sup.start()
    await sup.restart_child("a")
    await rec.expect("start", "a", 3)  # the failed incarnation is restarted as a crash would be
    assert await sup.handle("a").ask(WhoAmI()) == ("a", 3)
    assert sup.handle("a").stats()["last_failure"]["message"] == "bad restart"


async def test_a_factory_that_raises_or_returns_a_non_actor_fails_the_start(
    rec: Recorder, make: Make
) -> None:
    def boom() -> Any:
        raise LookupError("factory broke")

    with pytest.raises(ActorUnavailable, match="start_failed: LookupError: factory broke"):
        await make([ChildSpec("a", boom)]).start()
    with pytest.raises(ActorUnavailable, match="factory of b returned str"):
        await make([ChildSpec("b", lambda: "not an actor")]).start()  # type: ignore[arg-type,return-value]


async def test_a_child_supervisor_that_cannot_start_fails_its_parents_start(
    rec: Recorder, make: Make
) -> None:
    rec.fail_start[("x", 1)] = ValueError("inner no")
    inner = Supervisor("inner", [rec.spec("x")])
    outer = make([rec.spec("a"), ChildSpec("inner", lambda: inner)])
    with pytest.raises(ActorUnavailable, match="root/inner failed to start"):
        await outer.start()
    assert rec.stops == ["a"]


async def test_stop_during_a_restarts_construction_starts_nothing(
    rec: Recorder, make: Make
) -> None:
    entered, gate = threading.Event(), threading.Event()

    def factory() -> Any:
        if rec.counts["a"]:  # the restart's construction waits for the test
            entered.set()
            gate.wait(10)
        return rec.factory("a")

    sup = make([ChildSpec("a", factory)])
    await sup.start()
    sup.handle("a").tell(Raise(RuntimeError("crash")))
    assert await asyncio.to_thread(entered.wait, 5)
    stopping = asyncio.create_task(sup.stop())
    await asyncio.sleep(0)  # stop() has marked the supervisor as stopping
    gate.set()
    assert await stopping == []
    assert rec.counts["a"] == 2 and rec.starts == ["a"]  # built, never started
    with pytest.raises(ActorStopped):
        await sup.handle("a").ask(Echo(1))


async def test_stop_during_the_backoff_ends_the_restart_cycle(rec: Recorder, make: Make) -> None:
    sup = make([rec.spec("a")], min_backoff=30.0, max_backoff=30.0)
    await sup.start()
    sup.handle("a").tell(Raise(RuntimeError("crash")))
    await rec.expect("failure", "a", 1)
    # No event marks the backoff: yield to the loop until the restart cycle reaches it.
    while sup.handle("a").stats()["state"] != "backing_off":  # noqa: ASYNC110
        await asyncio.sleep(0)
    async with asyncio.timeout(5):  # not the 30 s backoff
        assert await sup.stop() == []
    assert rec.counts["a"] == 1


async def test_group_restart_stops_and_restarts_a_sibling_supervisor(
    rec: Recorder, make: Make
) -> None:
    inner = Supervisor("inner", [rec.spec("x")], min_backoff=0.001, max_backoff=0.01)
    sup = make([rec.spec("a"), ChildSpec("inner", lambda: inner)], strategy="one_for_all")
    await sup.start()
    sup.handle("a").tell(Raise(RuntimeError("crash")))
    await rec.expect("start", "x", 2)
    await sup.idle()
    assert await sup.handle("inner/x").ask(WhoAmI()) == ("x", 2)
    assert rec.stops == ["x"]
    assert [c["state"] for c in sup.snapshot()["children"]] == ["running", "running"]


async def test_restarts_leave_the_intensity_window_as_time_passes(
    rec: Recorder, make: Make, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock()
    monkeypatch.setattr(supervisor_module, "time", SimpleNamespace(monotonic=clock))
    sup = make([rec.spec("a")], intensity=1, period=10.0)
    await sup.start()
    for n in (1, 2, 3):  # one restart per window never exceeds an intensity of 1
        sup.handle("a").tell(Raise(RuntimeError(f"crash {n}")))
        await rec.expect("start", "a", n + 1)
        await sup.idle()
        assert sup.snapshot()["restarts_in_period"] == 1
        clock.now += 11.0
    assert sup.snapshot()["restarts_in_period"] == 0
    assert not sup.failed and sup.handle("a").stats()["restarts"] == 3


async def test_a_permanent_child_that_stops_normally_is_restarted_and_logged(
    rec: Recorder, make: Make, caplog: pytest.LogCaptureFixture
) -> None:
    sup = make([rec.spec("a")])
    await sup.start()
    with caplog.at_level(logging.WARNING, logger=supervisor_module.log.name):
        sup.handle("a").tell(StopSelf())
        await rec.expect("start", "a", 2)
    assert any(r.getMessage() == "root/a exited (stopped); restarting" for r in caplog.records)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
async def test_stopping_a_child_whose_thread_already_died(rec: Recorder, make: Make) -> None:
    sup = make([rec.spec("a"), rec.spec("b")], watchdog_interval=3600.0)
    await sup.start()
    thread = rec.probes[0].thread
    assert thread is not None
    rec.fail_stop[("a", 1)] = SystemExit(0)  # the thread dies and reports nothing
    sup.handle("a").tell(StopSelf())
    await asyncio.to_thread(thread.join, 5)
    assert not thread.is_alive()
    assert await sup.stop() == []  # no wait for a stop reply that would never come
    assert rec.stops == ["b"]


def test_a_thread_less_actor_counts_as_stopped() -> None:
    """`_stop_actor` on an actor pykka stopped before its thread was recorded."""
    actor = SimpleNamespace(thread=None, actor_ref=SimpleNamespace(stop=lambda **_: True))
    assert supervisor_module._stop_actor(actor, 0.1) is True  # type: ignore[arg-type]


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
async def test_the_watchdog_passes_over_a_child_that_is_not_running(
    rec: Recorder, make: Make
) -> None:
    sup = make([rec.spec("t", restart="temporary"), rec.spec("a")], watchdog_interval=0.01)
    await sup.start()
    sup.handle("t").tell(Raise(RuntimeError("crash")))
    await rec.expect("failure", "t", 1)
    await sup.idle()
    rec.fail_stop[("a", 1)] = SystemExit(0)  # a's thread dies silently: only the watchdog sees it
    sup.handle("a").tell(StopSelf())
    await rec.expect("start", "a", 2)  # the tick that found a looked at t first and left it
    assert sup.handle("t").stats()["state"] == "failed" and rec.counts["t"] == 1
