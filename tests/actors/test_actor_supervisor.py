"""Supervision with started actors on real threads: restarts, strategies, escalation, draining."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from actor_fakes import Echo, Raise, Recorder, StopSelf, Wait, WhoAmI

from kensho.actors import ChildSpec, Supervisor, build_root
from kensho.config import Config
from kensho.errors import ActorStopped, ActorUnavailable, NotFound

Make = Callable[..., Supervisor]


@pytest.fixture
async def rec() -> Recorder:
    return Recorder(asyncio.get_running_loop())


@pytest.fixture
async def make(rec: Recorder) -> AsyncIterator[Make]:
    sups: list[Supervisor] = []

    def _make(specs: list[ChildSpec], **kw: Any) -> Supervisor:
        opts: dict[str, Any] = {
            "min_backoff": 0.001,
            "max_backoff": 0.01,
            "watchdog_interval": 0.02,
            "period": 30.0,
        }
        opts.update(kw)
        sup = Supervisor("root", specs, **opts)
        sups.append(sup)
        return sup

    yield _make
    for sup in sups:
        await sup.stop()


async def test_crashed_child_is_restarted_and_next_ask_succeeds(rec: Recorder, make: Make) -> None:
    sup = make([rec.spec("a")])
    await sup.start()
    h = sup.handle("a")
    assert await h.ask(WhoAmI()) == ("a", 1)
    h.tell(Raise(RuntimeError("crash")))
    await rec.expect("start", "a", 2)
    assert await h.ask(WhoAmI()) == ("a", 2)
    stats = h.stats()
    assert stats["restarts"] == 1 and stats["state"] == "running"
    assert stats["last_failure"]["type"] == "RuntimeError"
    assert h.view == {"incarnation": 2}


async def test_messages_sent_during_restart_are_replayed_in_order(
    rec: Recorder, make: Make
) -> None:
    sup = make([rec.spec("a")])
    await sup.start()
    h = sup.handle("a")
    gate = rec.hold("a")  # the next construction waits for us
    h.tell(Raise(RuntimeError("crash")))
    await rec.expect("failure", "a", 1)
    h.tell(Echo(1))
    asks = [asyncio.create_task(h.ask(Echo(i))) for i in (2, 3)]
    await asyncio.sleep(0)  # the ask tasks run and stash
    h.tell(Echo(4))
    assert h.stats()["stashed"] == 4
    gate.set()
    assert await asyncio.gather(*asks) == [2, 3]
    assert await h.ask(Echo(5)) == 5
    second = [m.value for name, n, m in rec.log if n == 2 and isinstance(m, Echo)]
    assert second == [1, 2, 3, 4, 5]


async def test_rest_for_one_restarts_the_child_and_later_siblings(
    rec: Recorder, make: Make
) -> None:
    sup = make([rec.spec("a"), rec.spec("b"), rec.spec("c")], strategy="rest_for_one")
    await sup.start()
    sup.handle("b").tell(Raise(RuntimeError("crash")))
    await rec.expect("start", "c", 2)
    assert [await sup.handle(n).ask(WhoAmI()) for n in "abc"] == [("a", 1), ("b", 2), ("c", 2)]
    assert rec.counts == {"a": 1, "b": 2, "c": 2}


async def test_one_for_all_restarts_every_child(rec: Recorder, make: Make) -> None:
    sup = make([rec.spec("a"), rec.spec("b"), rec.spec("c")], strategy="one_for_all")
    await sup.start()
    sup.handle("b").tell(Raise(RuntimeError("crash")))
    await rec.expect("start", "c", 2)
    assert [await sup.handle(n).ask(WhoAmI()) for n in "abc"] == [("a", 2), ("b", 2), ("c", 2)]
    assert rec.stops[:2] == ["c", "a"]  # siblings stop in reverse order before the restart


async def test_exceeding_intensity_escalates_at_the_root(rec: Recorder, make: Make) -> None:
    escalated: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    sup = make(
        [rec.spec("a"), rec.spec("b")],
        intensity=2,
        on_escalate=lambda _sup, why: escalated.set_result(why),
    )
    await sup.start()
    h = sup.handle("a")
    for n in (1, 2, 3):
        await rec.expect("start", "a", n)
        h.tell(Raise(RuntimeError(f"crash {n}")))
    why = await asyncio.wait_for(escalated, 5)
    assert "more than 2 restarts" in why
    assert sup.failed and sup.snapshot()["failed"] is True
    with pytest.raises(ActorUnavailable):
        await h.ask(Echo(1))
    assert rec.stops == ["b"]  # the healthy sibling was stopped too


async def test_escalation_reaches_the_parent_supervisor(rec: Recorder, make: Make) -> None:
    inner = Supervisor("inner", [rec.spec("x")], intensity=0, min_backoff=0.001, max_backoff=0.01)
    outer = make([rec.spec("a"), ChildSpec("inner", lambda: inner)])
    await outer.start()
    h = outer.handle("inner/x")  # stable across the inner supervisor's restart
    h.tell(Raise(RuntimeError("crash")))
    await rec.expect("start", "x", 2)
    assert await h.ask(WhoAmI()) == ("x", 2)
    assert not outer.failed and not inner.failed
    assert outer.snapshot()["children"][1]["restarts"] == 1


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
async def test_watchdog_notices_a_dead_thread(rec: Recorder, make: Make) -> None:
    sup = make([rec.spec("a")], start_timeout=60)
    await sup.start()
    rec.fail_start[("a", 2)] = SystemExit(0)  # kills the thread; pykka reports nothing
    sup.handle("a").tell(Raise(RuntimeError("crash")))
    await rec.expect("start_failing", "a", 2)
    await rec.expect("start", "a", 3)  # long before start_timeout: the watchdog saw it
    assert await sup.handle("a").ask(WhoAmI()) == ("a", 3)
    last = sup.handle("a").stats()["last_failure"]
    assert last["type"] == "RuntimeError" and "thread died" in last["message"]


async def test_on_start_failure_counts_as_failure(rec: Recorder, make: Make) -> None:
    rec.fail_start[("a", 1)] = ValueError("bad start")
    sup = make([rec.spec("a")])
    with pytest.raises(ActorUnavailable, match="failed to start"):
        await sup.start()
    rec.fail_start[("b", 2)] = ValueError("bad restart")
    sup2 = make([rec.spec("b")])
    await sup2.start()
    sup2.handle("b").tell(Raise(RuntimeError("crash")))
    await rec.expect("start", "b", 3)
    assert sup2.handle("b").stats()["restarts"] == 2


async def test_temporary_child_is_not_restarted(rec: Recorder, make: Make) -> None:
    sup = make([rec.spec("t", restart="temporary")])
    await sup.start()
    h = sup.handle("t")
    h.tell(Raise(RuntimeError("crash")))
    await rec.expect("failure", "t")
    with pytest.raises(ActorUnavailable):
        await h.ask(Echo(1))
    assert rec.counts["t"] == 1 and h.stats()["state"] == "failed"


async def test_transient_restarts_only_after_abnormal_exit(rec: Recorder, make: Make) -> None:
    sup = make([rec.spec("t", restart="transient"), rec.spec("u", restart="transient")])
    await sup.start()
    sup.handle("t").tell(Raise(RuntimeError("crash")))
    await rec.expect("start", "t", 2)
    assert await sup.handle("t").ask(WhoAmI()) == ("t", 2)
    await sup.handle("u").ask(StopSelf())
    await rec.expect("stop", "u", 1)
    await asyncio.sleep(0.05)  # give a wrong restart a chance to happen
    assert rec.counts["u"] == 1
    with pytest.raises(ActorStopped):
        await sup.handle("u").ask(Echo(1))


async def test_stash_overflow_fails_fast(rec: Recorder, make: Make) -> None:
    sup = make([rec.spec("a")], stash_limit=3)
    await sup.start()
    h = sup.handle("a")
    gate = rec.hold("a")
    h.tell(Raise(RuntimeError("crash")))
    await rec.expect("failure", "a", 1)
    h.tell(Echo(1))
    h.tell(Echo(2))
    stashed_ask = asyncio.create_task(h.ask(Echo(3)))
    await asyncio.sleep(0)
    with pytest.raises(ActorUnavailable, match="stash is full") as info:
        h.tell(Echo(4))
    assert info.value.status == 503
    with pytest.raises(ActorUnavailable):
        await h.ask(Echo(5))
    gate.set()
    assert await stashed_ask == 3
    assert await h.ask(WhoAmI()) == ("a", 2)
    assert [m.value for _n, i, m in rec.log if i == 2 and isinstance(m, Echo)] == [1, 2, 3]


async def test_stop_drains_in_reverse_order_and_reports_abandoned(
    rec: Recorder, make: Make
) -> None:
    sup = make([rec.spec("a"), rec.spec("b"), rec.spec("c")])
    await sup.start()
    assert await sup.stop() == []
    assert rec.stops == ["c", "b", "a"]
    assert {c["state"] for c in sup.snapshot()["children"]} == {"stopped"}
    with pytest.raises(ActorStopped):
        await sup.handle("a").ask(Echo(1))

    wedged = make([rec.spec("w", shutdown_timeout=0.1), rec.spec("z")])
    await wedged.start()
    gate = threading.Event()
    wedged.handle("w").tell(Wait(gate))
    try:
        assert await wedged.stop() == ["w"]
        assert rec.stops[-1] == "z"
    finally:
        gate.set()


async def test_base_exception_kills_only_that_child(rec: Recorder, make: Make) -> None:
    sup = make([rec.spec("a"), rec.spec("b")])
    await sup.start()
    with pytest.raises(ActorUnavailable):
        await sup.handle("a").ask(Raise(asyncio.CancelledError()))
    await rec.expect("start", "a", 2)
    assert await sup.handle("b").ask(WhoAmI()) == ("b", 1)
    assert await sup.handle("a").ask(WhoAmI()) == ("a", 2)


async def test_restart_child_and_json_snapshot(rec: Recorder, make: Make) -> None:
    sup = make([rec.spec("a")])
    await sup.start()
    await sup.restart_child("a")
    assert await sup.handle("a").ask(WhoAmI()) == ("a", 2)
    snap = json.loads(json.dumps(sup.snapshot()))
    child = snap["children"][0]
    assert child["summary"] == {"incarnation": 2} and child["restarts"] == 1
    with pytest.raises(NotFound):
        await sup.restart_child("nope")


@pytest.mark.parametrize("name", ["", "a/b", "x" * 101])
def test_malformed_child_names_are_rejected(name: str) -> None:
    with pytest.raises(ValueError):
        ChildSpec(name, lambda: None)  # type: ignore[arg-type,return-value]


@pytest.mark.parametrize(
    "kw",
    [{"restart": "always"}, {"shutdown_timeout": 0}, {"shutdown_timeout": float("nan")}],
)
def test_malformed_child_specs_are_rejected(kw: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        ChildSpec("a", lambda: None, **kw)  # type: ignore[arg-type,return-value]


@pytest.mark.parametrize(
    "kw",
    [
        {"strategy": "all_for_none"},
        {"intensity": -1},
        {"period": 0},
        {"min_backoff": 2.0},
        {"stash_limit": -1},
        {"ask_timeout": 0},
    ],
)
def test_malformed_supervisor_options_are_rejected(kw: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        Supervisor("s", [], max_backoff=1.0, **kw)


def test_duplicate_names_rejected(rec: Recorder) -> None:
    with pytest.raises(ValueError, match="duplicate"):
        Supervisor("s", [rec.spec("a"), rec.spec("a")])


@pytest.mark.parametrize("name", ["", "../a", "a/", "/", "x" * 10_000, "a\x00"])
async def test_hostile_handle_names_are_not_found(rec: Recorder, name: str) -> None:
    sup = Supervisor("s", [rec.spec("a")])
    with pytest.raises(NotFound):
        sup.handle(name)


async def test_root_tree_starts_the_four_actors() -> None:
    root = build_root(Config())
    await root.start()
    try:
        assert root.children == ("session_pool", "breaker", "cache", "search")
        snap = root.snapshot()
        assert [c["state"] for c in snap["children"]] == ["running"] * 4
        assert json.dumps(snap)
    finally:
        assert await root.stop() == []
