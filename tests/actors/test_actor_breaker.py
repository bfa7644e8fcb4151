"""The breaker actor under its supervisor: asks that time out, restarts and the override."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator

import pytest

from kensho.actors import Supervisor
from kensho.actors import breaker as breaker_actor
from kensho.actors.breaker import Acquire, BreakerGate, BreakerView, GetView, Override, Record
from kensho.config import Config
from kensho.errors import ActorTimeout, ActorUnavailable, CircuitOpen, ServiceUnavailable
from kensho.upstream.breaker import BreakerConfig, BreakerState, Outcome

ONE_PROBE = BreakerConfig(
    window_size=1,
    minimum_calls=1,
    wait_in_open=10.0,
    permitted_calls_in_half_open=1,
    max_wait_in_half_open=0,
)


class GatedClock:
    """A settable monotonic clock whose next reading can be made to wait (on the actor thread)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.armed = False
        self.reading = threading.Event()  # set when an armed reading starts waiting
        self.release = threading.Event()

    def __call__(self) -> float:
        if self.armed:
            self.armed = False
            self.reading.set()
            self.release.wait(10)
        return self.now


class ObservedGate(BreakerGate):
    """Says when it handed a permit back."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.handed_back = asyncio.Event()

    def _hand_back(self, permit: object) -> None:
        super()._hand_back(permit)
        self.handed_back.set()


@pytest.fixture
async def tree() -> AsyncIterator[tuple[Supervisor, ObservedGate, GatedClock]]:
    clock = GatedClock()
    spec = breaker_actor.child_spec(Config(), breaker=ONE_PROBE, clock=clock)
    sup = Supervisor("root", [spec], min_backoff=0.001, max_backoff=0.01, period=30.0)
    await sup.start()
    gate = ObservedGate(clock=lambda: clock.now, handle=sup.handle("breaker"))
    yield sup, gate, clock
    clock.release.set()
    await sup.stop()


async def _half_open(sup: Supervisor, gate: BreakerGate, clock: GatedClock) -> None:
    handle = sup.handle("breaker")
    permit = await handle.ask(Acquire())
    handle.tell(Record(permit, Outcome.FAILURE, 0.01))
    view: BreakerView = await handle.ask(GetView())
    assert view.state is BreakerState.OPEN
    clock.now += 11  # the open wait is over: the next Acquire moves it to HALF_OPEN


def _outstanding(sup: Supervisor) -> int:
    actor = sup.handle("breaker")._actor
    assert isinstance(actor, breaker_actor.BreakerActor)
    return len(actor.breaker._outstanding)


async def test_a_timed_out_acquire_does_not_take_the_half_open_permit(
    tree: tuple[Supervisor, ObservedGate, GatedClock],
) -> None:
    sup, gate, clock = tree
    await _half_open(sup, gate, clock)
    handle = sup.handle("breaker")
    clock.armed = True  # the actor is stuck in this GetView while the Acquire waits
    busy = asyncio.create_task(handle.ask(GetView()))
    assert await asyncio.to_thread(clock.reading.wait, 5)
    with pytest.raises(ActorTimeout):
        await handle.ask(Acquire(), timeout=0.01)
    clock.release.set()
    await busy
    permit = await gate.acquire_permit()  # the one half-open permit is still there
    assert permit.state is BreakerState.HALF_OPEN
    assert _outstanding(sup) == 1
    with pytest.raises(CircuitOpen):
        await gate.acquire_permit()


async def test_a_permit_granted_after_its_asker_gave_up_is_handed_back(
    tree: tuple[Supervisor, ObservedGate, GatedClock],
) -> None:
    sup, gate, clock = tree
    await _half_open(sup, gate, clock)
    clock.armed = True  # the actor is inside this very Acquire when its asker gives up
    ask = asyncio.create_task(gate.acquire_permit())
    assert await asyncio.to_thread(clock.reading.wait, 5)
    ask.cancel()
    with pytest.raises(asyncio.CancelledError):
        await ask
    clock.release.set()
    await asyncio.wait_for(gate.handed_back.wait(), 5)
    await sup.handle("breaker").ask(GetView())  # the hand-back (a tell) was sent before this
    assert _outstanding(sup) == 0
    permit = await gate.acquire_permit()
    assert permit.state is BreakerState.HALF_OPEN


@pytest.mark.parametrize("mode", ["forced_open", "disabled"])
async def test_the_operator_override_survives_a_restart(
    tree: tuple[Supervisor, ObservedGate, GatedClock],
    mode: breaker_actor.OverrideMode,
    caplog: pytest.LogCaptureFixture,
) -> None:
    sup, gate, _clock = tree
    handle = sup.handle("breaker")
    await gate.override(mode)
    with caplog.at_level(logging.WARNING):
        handle.tell("not a breaker message")  # a tell that raises kills the actor
        await sup.idle()
        view: BreakerView = await handle.ask(GetView())
    assert handle.stats()["restarts"] == 1
    assert view.mode == mode and view.state.value == mode
    assert any("re-applying the operator's override" in r.getMessage() for r in caplog.records)
    await handle.ask(Override("auto"))
    await sup.restart_child("breaker")
    view = await handle.ask(GetView())
    assert view.mode == "auto" and view.state is BreakerState.CLOSED


async def test_a_view_granted_outcome_after_the_breaker_opened_is_not_counted(
    tree: tuple[Supervisor, ObservedGate, GatedClock],
) -> None:
    sup, gate, _clock = tree
    handle = sup.handle("breaker")
    local = await gate.acquire_permit()  # granted from the CLOSED view, no ask
    assert local.id == breaker_actor.LOCAL_PERMIT_ID
    permit = await handle.ask(Acquire())
    handle.tell(Record(permit, Outcome.FAILURE, 0.01))  # opens it (window of one)
    await gate.record(local, Outcome.FAILURE, 0.01)  # late: the breaker is OPEN now
    view: BreakerView = await handle.ask(GetView())
    assert view.state is BreakerState.OPEN and view.calls["failure"] == 1


async def test_a_view_granted_outcome_from_an_older_closed_epoch_counts_as_ignored(
    tree: tuple[Supervisor, ObservedGate, GatedClock],
) -> None:
    sup, gate, _clock = tree
    handle = sup.handle("breaker")
    local = await gate.acquire_permit()
    await handle.ask(Override("auto"))  # a reset: CLOSED again, in a new epoch
    await gate.record(local, Outcome.FAILURE, 0.01)
    view: BreakerView = await handle.ask(GetView())
    assert view.state is BreakerState.CLOSED
    assert view.calls["failure"] == 0 and view.calls["ignored"] == 1


class FakeHandle:
    """A breaker handle whose view and mailbox the test decides."""

    def __init__(self, view: BreakerView | None = None, *, refuse: bool = False) -> None:
        self.view = view
        self.refuse = refuse
        self.asked: list[object] = []
        self.told: list[object] = []

    async def ask(self, message: object, **_: object) -> object:
        self.asked.append(message)
        return breaker_actor.Permit(7, 1, BreakerState.CLOSED)

    def tell(self, message: object) -> None:
        if self.refuse:
            raise ActorUnavailable("restarting with a full stash")
        self.told.append(message)


async def test_an_unbound_gate_permits_everything_and_records_nothing() -> None:
    gate = BreakerGate()
    permit = await gate.acquire_permit()
    assert permit.state is BreakerState.DISABLED and permit.epoch < 0
    await gate.record(permit, Outcome.FAILURE, 1.0)
    gate._hand_back(permit)
    with pytest.raises(ServiceUnavailable, match="not running"):
        await gate.override("disabled")
    assert gate.asks == 0


async def test_a_gate_without_a_view_yet_asks_the_actor() -> None:
    handle = FakeHandle(view=None)
    gate = BreakerGate(handle=handle)  # type: ignore[arg-type]
    permit = await gate.acquire_permit()
    assert permit.id == 7 and gate.asks == 1 and isinstance(handle.asked[0], Acquire)
    gate._hand_back("not a permit")
    assert handle.told == []


async def test_an_unavailable_actor_loses_one_outcome_and_one_hand_back_quietly(
    caplog: pytest.LogCaptureFixture,
) -> None:
    handle = FakeHandle(refuse=True)
    gate = BreakerGate(handle=handle)  # type: ignore[arg-type]
    permit = breaker_actor.Permit(7, 1, BreakerState.CLOSED)
    with caplog.at_level(logging.DEBUG, logger=breaker_actor.log.name):
        await gate.record(permit, Outcome.SUCCESS, 0.01)
        gate._hand_back(permit)
    messages = [r.getMessage() for r in caplog.records]
    assert "breaker outcome dropped: the actor is unavailable" in messages
    assert "breaker: an unused permit could not be handed back" in messages
