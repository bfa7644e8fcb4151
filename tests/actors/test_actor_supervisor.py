"""Supervision with started actors on real threads: restarts, strategies, escalation, draining."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from typing import Any

import pytest
from actor_fakes import Echo, Hold, Raise, Recorder, StopSelf, Wait, WhoAmI

from kensho.actors import ChildSpec, KenshoActor, Supervisor, build_root
from kensho.config import Config
from kensho.errors import ActorStopped, ActorUnavailable, MailboxFull, NotFound

Make = Callable[..., Supervisor]  # the `make` fixture (conftest.py)


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
    sup = make([rec.spec("a")])
    await sup.start()
    # A SystemExit from on_stop escapes pykka's loop: the thread dies and reports nothing.
    rec.fail_stop[("a", 1)] = SystemExit(0)
    sup.handle("a").tell(StopSelf())
    await rec.expect("start", "a", 2)  # the watchdog saw the dead thread
    assert await sup.handle("a").ask(WhoAmI()) == ("a", 2)
    last = sup.handle("a").stats()["last_failure"]
    assert last["type"] == "RuntimeError" and "thread died" in last["message"]


@pytest.mark.parametrize("exc", [ValueError("bad start"), SystemExit(3)])
async def test_on_start_failure_keeps_its_real_cause(
    rec: Recorder, make: Make, exc: BaseException, caplog: pytest.LogCaptureFixture
) -> None:
    rec.fail_start[("a", 1)] = exc
    sup = make([rec.spec("a")])
    with pytest.raises(
        ActorUnavailable, match=f"failed to start: start_failed: {type(exc).__name__}"
    ):
        await sup.start()
    last = sup.handle("a").stats()["last_failure"]
    assert (last["type"], last["message"]) == (type(exc).__name__, str(exc))
    # The supervisor's own line (written before start() raises; pykka's log of the chained
    # error comes from the actor's thread and may not be in yet) carries the real exception,
    # itself or as the cause of the error the actor answered with.
    logged = [
        r.exc_info[1]
        for r in caplog.records
        if r.name == "kensho.actors.supervisor" and r.exc_info and r.exc_info[1] is not None
    ]
    assert any(e is exc or e.__cause__ is exc for e in logged), logged


async def test_restart_failure_in_on_start_is_recorded_and_retried(
    rec: Recorder, make: Make
) -> None:
    rec.fail_start[("b", 2)] = ValueError("bad restart")
    sup = make([rec.spec("b")])
    await sup.start()
    sup.handle("b").tell(Raise(RuntimeError("crash")))
    await rec.expect("start", "b", 3)
    stats = sup.handle("b").stats()
    assert stats["restarts"] == 2
    assert sup.snapshot()["restarts_in_period"] == 2


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
    await rec.expect("stop", "u", 1)  # emitted after the exit report: the supervisor saw it
    await sup.idle()
    assert rec.counts["u"] == 1 and sup.handle("u").stats()["state"] == "stopped"
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


# -- scenarios checked against Erlang/OTP 25's supervisor (tools/otp_supervisor.erl) -------------


@pytest.mark.parametrize("strategy", ["one_for_all", "rest_for_one"])
async def test_group_restart_stops_a_temporary_sibling_for_good(
    rec: Recorder, make: Make, strategy: str
) -> None:
    sup = make(
        [rec.spec("a"), rec.spec("t", restart="temporary"), rec.spec("b")], strategy=strategy
    )
    await sup.start()
    sup.handle("a").tell(Raise(RuntimeError("crash")))
    await rec.expect("start", "b", 2)
    await sup.idle()
    assert rec.counts == {"a": 2, "t": 1, "b": 2}
    assert sup.handle("t").stats()["state"] == "stopped"
    with pytest.raises(ActorStopped):
        await sup.handle("t").ask(Echo(1))


async def test_an_exited_temporary_child_is_not_started_by_a_later_group_restart(
    rec: Recorder, make: Make
) -> None:
    sup = make(
        [rec.spec("a"), rec.spec("t", restart="temporary"), rec.spec("b")], strategy="one_for_all"
    )
    await sup.start()
    sup.handle("t").tell(Raise(RuntimeError("crash")))
    await rec.expect("failure", "t", 1)
    sup.handle("a").tell(Raise(RuntimeError("crash")))
    await rec.expect("start", "b", 2)
    await sup.idle()
    assert rec.counts == {"a": 2, "t": 1, "b": 2}
    assert sup.handle("t").stats()["state"] == "failed"


async def test_a_transient_child_that_ended_normally_is_started_by_a_group_restart(
    rec: Recorder, make: Make
) -> None:
    sup = make(
        [rec.spec("a"), rec.spec("tr", restart="transient"), rec.spec("b")], strategy="one_for_all"
    )
    await sup.start()
    await sup.handle("tr").ask(StopSelf())
    await rec.expect("stop", "tr", 1)
    sup.handle("a").tell(Raise(RuntimeError("crash")))
    await rec.expect("start", "b", 2)
    assert await sup.handle("tr").ask(WhoAmI()) == ("tr", 2)


@pytest.mark.parametrize(
    ("strategy", "order", "restarted", "survives"),
    [  # what OTP 25 does (tools/otp_supervisor.erl, scenario "simultaneous")
        ("one_for_all", "ab", "abc", True),
        ("one_for_all", "ba", "abc", True),
        ("rest_for_one", "bc", "bc", True),
        ("rest_for_one", "cb", "c", False),  # c's exit first: two cycles, intensity 1 exceeded
        ("one_for_one", "cb", "c", False),
    ],
)
async def test_simultaneous_failures_restart_as_otp_does(
    rec: Recorder, make: Make, strategy: str, order: str, restarted: str, survives: bool
) -> None:
    sup = make([rec.spec("a"), rec.spec("b"), rec.spec("c")], strategy=strategy, intensity=1)
    await sup.start()
    # Hold the loop (as OTP's sys:suspend holds the supervisor) until both children have
    # failed, so both exits are reported, in this order, before the supervisor acts on one.
    for name in order:
        sup.handle(name).tell(Raise(RuntimeError(f"crash {name}")))
        assert rec.failed[(name, 1)].wait(5)
    await sup.idle()
    assert rec.starts == ["a", "b", "c", *restarted]
    assert sup.failed is not survives
    if survives:
        assert sup.snapshot()["restarts_in_period"] == 1  # one cycle
        assert all(sup.handle(n).stats()["restarts"] == 1 for n in restarted)
    await sup.stop()
    alive = [(p.name, p.n) for p in rec.probes if p.thread is not None and p.thread.is_alive()]
    assert alive == []  # no replaced incarnation kept running


@pytest.mark.parametrize(("restart", "restarted"), [("transient", False), ("permanent", True)])
async def test_a_child_supervisor_that_gives_up_exits_shutdown(
    rec: Recorder, make: Make, restart: str, restarted: bool
) -> None:
    inner = Supervisor("inner", [rec.spec("x")], intensity=0, min_backoff=0.001, max_backoff=0.01)
    outer = make([rec.spec("a"), ChildSpec("inner", lambda: inner, restart=restart)])  # type: ignore[arg-type]
    await outer.start()
    outer.handle("inner/x").tell(Raise(RuntimeError("crash")))
    await rec.expect("failure", "x", 1)
    await outer.idle()
    node = outer.snapshot()["children"][1]
    assert not outer.failed
    if restarted:
        assert node["state"] == "running" and node["restarts"] == 1 and rec.counts["x"] == 2
    else:
        assert node["state"] == "stopped" and node["restarts"] == 0 and rec.counts["x"] == 1
        assert inner.failed
        with pytest.raises(ActorUnavailable):
            await outer.handle("inner/x").ask(Echo(1))
    assert await outer.handle("a").ask(WhoAmI()) == ("a", 1)


async def test_mailbox_bound_per_child_is_reported_and_enforced(rec: Recorder, make: Make) -> None:
    sup = make([rec.spec("a", mailbox_limit=1), rec.spec("b")], mailbox_limit=50)
    await sup.start()
    kids = sup.snapshot()["children"]
    assert [k["mailbox_limit"] for k in kids] == [1, 50]
    h = sup.handle("a")
    started, gate = threading.Event(), threading.Event()
    busy = asyncio.create_task(h.ask(Hold(started, gate)))
    assert await asyncio.to_thread(started.wait, 5)
    queued = asyncio.create_task(h.ask(Echo(1)))
    await asyncio.sleep(0)
    with pytest.raises(MailboxFull):
        await h.ask(Echo(2))
    with pytest.raises(MailboxFull):
        h.tell(Echo(3))
    assert h.stats()["mailbox_rejected"] == 2
    gate.set()
    assert await busy == "held" and await queued == 1


def test_malformed_mailbox_limits_are_rejected(rec: Recorder) -> None:
    with pytest.raises(ValueError, match="mailbox_limit"):
        rec.spec("a", mailbox_limit=0)
    with pytest.raises(ValueError, match="mailbox_limit"):
        Supervisor("s", [], mailbox_limit=0)


def test_an_actor_may_not_override_the_boundary() -> None:
    with pytest.raises(TypeError, match="overrides on_receive"):

        class _Bad(KenshoActor):
            def on_receive(self, message: Any) -> Any:
                return message


async def test_a_wedged_start_times_out_and_the_actor_is_told_to_stop(
    rec: Recorder, make: Make
) -> None:
    wedge = threading.Event()
    rec.wedge_start[("a", 1)] = wedge
    sup = make([rec.spec("a")], start_timeout=0.05)
    try:
        with pytest.raises(ActorUnavailable, match=r"did not finish within 0\.05 s"):
            await sup.start()
        assert sup.handle("a").stats()["last_failure"]["type"] == "ActorTimeout"
    finally:
        wedge.set()
    await rec.expect("stop", "a", 1)  # it got the stop message once its setup returned
