"""`ActorHandle` under a supervisor: the stash's edges (asks given up, a final stop), a tell in
the window between an actor's death and its supervisor hearing of it, a broken summary."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from actor_fakes import Echo, Probe, Raise, Recorder, WhoAmI

from kensho.actors import ChildSpec, Supervisor
from kensho.errors import ActorStopped

Make = Callable[..., Supervisor]  # the `make` fixture (conftest.py)


def _echoes(rec: Recorder, incarnation: int) -> list[Any]:
    return [m.value for _name, n, m in rec.log if n == incarnation and isinstance(m, Echo)]


@pytest.mark.parametrize("timeout", [0, -1, float("nan")])
async def test_an_ask_needs_a_positive_timeout(
    rec: Recorder,
    make: Make,
    timeout: float,  # noqa: ASYNC109
) -> None:
    sup = make([rec.spec("a")])
    await sup.start()
    with pytest.raises(ValueError, match="positive timeout"):
        await sup.handle("a").ask(Echo(1), timeout=timeout)
    assert rec.log == []  # nothing was sent


async def test_a_stashed_ask_given_up_is_not_replayed(rec: Recorder, make: Make) -> None:
    sup = make([rec.spec("a")])
    await sup.start()
    h = sup.handle("a")
    gate = rec.hold("a")  # the restart's construction waits for us: messages stash
    h.tell(Raise(RuntimeError("crash")))
    await rec.expect("failure", "a", 1)
    given_up = asyncio.create_task(h.ask(Echo("given up")))
    kept = asyncio.create_task(h.ask(Echo("kept")))
    await asyncio.sleep(0)  # both asks run and stash
    assert h.stats()["stashed"] == 2
    given_up.cancel()
    with pytest.raises(asyncio.CancelledError):
        await given_up
    gate.set()
    assert await kept == "kept"
    assert _echoes(rec, 2) == ["kept"]  # the abandoned ask never reached the new incarnation


async def test_a_final_stop_fails_what_waits_in_the_stash(rec: Recorder, make: Make) -> None:
    sup = make([rec.spec("a")])
    await sup.start()
    h = sup.handle("a")
    gate = rec.hold("a")
    h.tell(Raise(RuntimeError("crash")))
    await rec.expect("failure", "a", 1)
    h.tell(Echo("told"))
    asked = asyncio.create_task(h.ask(Echo("asked")))
    given_up = asyncio.create_task(h.ask(Echo("given up")))
    await asyncio.sleep(0)
    given_up.cancel()
    assert h.stats()["stashed"] == 3
    stopping = asyncio.create_task(sup.stop())
    gate.set()  # whether or not the restart got as far as constructing, it starts nothing
    assert await stopping == []
    with pytest.raises(ActorStopped, match="a is stopped"):  # not retried: no restart is coming
        await asked
    assert given_up.cancelled()
    assert h.stats()["stashed"] == 0 and h.stats()["state"] == "stopped"
    assert rec.starts == ["a"] and _echoes(rec, 2) == []


async def test_a_tell_to_an_actor_whose_death_is_not_yet_reported_is_replayed(
    rec: Recorder, make: Make
) -> None:
    sup = make([rec.spec("a")])
    await sup.start()
    h = sup.handle("a")
    h.tell(Raise(RuntimeError("crash")))
    # Hold the loop until the actor has failed: its mailbox is closed, but the exit report
    # waits on the loop, so the handle still points at the dead incarnation.
    assert rec.failed[("a", 1)].wait(5)
    h.tell(Echo("in the gap"))
    assert h.stats()["stashed"] == 1
    await rec.expect("start", "a", 2)
    assert await h.ask(WhoAmI()) == ("a", 2)
    assert _echoes(rec, 2) == ["in the gap"]


class _BrokenSummary(Probe):
    def summary(self) -> dict[str, Any]:
        raise RuntimeError("no summary today")


async def test_a_broken_summary_does_not_break_the_snapshot(rec: Recorder, make: Make) -> None:
    sup = make([ChildSpec("a", lambda: _BrokenSummary("a", 1, rec)), rec.spec("b")])
    await sup.start()
    a, b = sup.snapshot()["children"]
    assert a["summary"] == {"error": "RuntimeError: no summary today"}
    assert a["state"] == "running"
    assert b["summary"] == {"incarnation": 1}
