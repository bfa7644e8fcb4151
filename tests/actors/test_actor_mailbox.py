"""Letters, replies and the mailbox bound, without and with a started actor."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from actor_fakes import Echo, Hold, Later, Probe, Recorder, StopSelf

from kensho.actors import bridge_ask, bridge_tell
from kensho.actors.base import ExitReason, KenshoActor
from kensho.actors.bridge import await_reply
from kensho.actors.mailbox import Letter, Mailbox, Reply
from kensho.errors import ActorStopped, MailboxFull


@pytest.fixture
def started() -> Iterator[list[Probe]]:
    actors: list[Probe] = []
    yield actors
    for actor in actors:
        if actor.actor_ref.is_alive():
            actor.actor_ref.stop(timeout=5)


async def _probe(started: list[Probe]) -> tuple[Recorder, Probe]:
    rec = Recorder(asyncio.get_running_loop())
    probe = rec.factory("p")
    probe.launch()
    started.append(probe)
    await rec.expect("start", "p")
    return rec, probe


async def test_letters_say_what_they_carry() -> None:
    fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    assert repr(Letter(Echo(1), Reply(fut))) == "Letter(ask Echo)"
    assert repr(Letter(Echo(1), None)) == "Letter(tell Echo)"


def test_a_bare_mailbox_counts_bounds_and_closes() -> None:
    box = Mailbox(limit=1)  # no stats attached: refusals are not counted anywhere
    box.admit(None)
    with pytest.raises(MailboxFull):
        box.admit(None)
    box.admit(None, bounded=False)  # a replay is admitted past the bound
    assert box.depth() == 2
    box.withdraw(None)
    box.took(None)
    assert box.depth() == 0 and not box.closed
    box.close()
    assert box.closed
    with pytest.raises(ActorStopped):
        box.admit(None)


async def test_closing_fails_every_waiting_ask_and_withdraw_forgets_one() -> None:
    loop = asyncio.get_running_loop()
    box = Mailbox()
    kept: asyncio.Future[Any] = loop.create_future()
    withdrawn: asyncio.Future[Any] = loop.create_future()
    box.admit(Reply(kept))
    back = Reply(withdrawn)
    box.admit(back)
    box.withdraw(back)
    box.close()
    with pytest.raises(ActorStopped):
        await kept
    assert not withdrawn.done()


async def test_a_reply_nobody_waits_for_without_on_orphan_is_dropped(
    started: list[Probe],
) -> None:
    _rec, probe = await _probe(started)
    began, gate = threading.Event(), threading.Event()
    ask = asyncio.create_task(bridge_ask(probe, Hold(began, gate), timeout=5))
    assert await asyncio.to_thread(began.wait, 5)
    ask.cancel()
    with pytest.raises(asyncio.CancelledError):
        await ask
    gate.set()
    assert await bridge_ask(probe, Echo("next"), timeout=5) == "next"


async def test_a_reply_that_arrived_as_its_asker_was_cancelled_goes_to_on_orphan() -> None:
    loop = asyncio.get_running_loop()
    fut: asyncio.Future[Any] = loop.create_future()
    orphans: list[Any] = []
    waiter = asyncio.create_task(await_reply(fut, 5, orphans.append))
    await asyncio.sleep(0)  # waiting on fut
    fut.set_result("permit")  # the reply is in …
    waiter.cancel()  # … and the asker is cancelled before it resumes
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert orphans == ["permit"]


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
async def test_a_tell_to_a_thread_that_died_without_reporting_is_refused(
    started: list[Probe],
) -> None:
    rec, probe = await _probe(started)
    rec.fail_stop[("p", 1)] = SystemExit(0)  # on_stop raises: nothing reports, nothing closes
    bridge_tell(probe, StopSelf())
    assert probe.thread is not None
    await asyncio.to_thread(probe.thread.join, 5)
    assert not probe.mailbox.closed
    with pytest.raises(ActorStopped, match="not running"):
        bridge_tell(probe, Echo(1))
    assert probe.mailbox.depth() == 0  # the refused letter was withdrawn


async def test_reply_later_after_a_tell_that_succeeds_says_nothing(
    started: list[Probe], caplog: pytest.LogCaptureFixture
) -> None:
    _rec, probe = await _probe(started)
    done: concurrent.futures.Future[Any] = concurrent.futures.Future()
    bridge_tell(probe, Later(done))
    assert await bridge_ask(probe, Echo("after"), timeout=5) == "after"
    done.set_result("fine")
    assert not [r for r in caplog.records if "handed off" in r.getMessage()]


def test_an_exit_is_reported_once_and_a_plain_actor_has_no_summary() -> None:
    actor = KenshoActor()
    reports: list[ExitReason] = []
    actor._exit_hook = reports.append
    actor.on_stop()
    actor.on_stop()
    assert [r.kind for r in reports] == ["stopped"]
    assert actor.summary() == {}


async def test_closing_leaves_an_ask_its_asker_gave_up_alone() -> None:
    loop = asyncio.get_running_loop()
    errors: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, ctx: errors.append(ctx))
    box = Mailbox()
    given_up: asyncio.Future[Any] = loop.create_future()
    box.admit(Reply(given_up))
    given_up.cancel()
    box.close()
    await asyncio.sleep(0)  # one loop turn: the failure sent by close() is delivered
    assert given_up.cancelled()
    assert errors == []
