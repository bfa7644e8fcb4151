"""Pins the pykka behaviour Kenshō relies on (kensho/actors/_pykka.py and the actor boundary).

If a pykka upgrade breaks one of these, `kensho/actors/_pykka.py` or `KenshoActor` needs a look
before the version range in pyproject.toml is widened.
"""

from __future__ import annotations

import threading
from importlib.metadata import version
from typing import Any

import pykka
import pytest

from kensho.actors._pykka import start_constructed


class _Plain(pykka.ThreadingActor):
    use_daemon_thread = True

    def __init__(self, fail_start: bool = False) -> None:
        super().__init__()
        self.fail_start = fail_start
        self.thread: threading.Thread | None = None
        self.failures: list[BaseException | None] = []
        self.stopped = threading.Event()
        self.received: list[Any] = []

    def on_start(self) -> None:
        self.thread = threading.current_thread()
        if self.fail_start:
            raise ValueError("bad start")

    def on_receive(self, message: Any) -> Any:
        self.received.append(message)
        if isinstance(message, Exception):
            raise message
        return message

    def on_failure(self, *exc_info: Any) -> None:
        self.failures.append(exc_info[1])

    def on_stop(self) -> None:
        self.stopped.set()


def test_pykka_major_version_is_the_one_pinned() -> None:
    assert version("pykka").split(".")[0] == "4"


def test_start_constructed_starts_an_actor_built_elsewhere() -> None:
    actor = _Plain()
    assert not pykka.ActorRegistry.get_by_urn(actor.actor_urn)
    ref = start_constructed(actor)
    try:
        assert ref is actor.actor_ref
        assert pykka.ActorRegistry.get_by_urn(actor.actor_urn) is ref
        assert ref.ask("ping", timeout=5) == "ping"
        assert actor.thread is not None and actor.thread is not threading.current_thread()
        assert actor.thread.daemon  # use_daemon_thread is honoured
    finally:
        ref.stop(timeout=5)
    assert actor.thread is not None
    actor.thread.join(5)
    assert not actor.thread.is_alive()


def test_an_exception_in_on_start_stops_without_on_failure() -> None:
    # Why KenshoActor.on_start reports a setup() failure itself: pykka only logs it.
    actor = _Plain(fail_start=True)
    start_constructed(actor)
    assert actor.thread is not None
    actor.thread.join(5)
    assert not actor.actor_ref.is_alive()
    assert actor.failures == [] and not actor.stopped.is_set()


def test_an_exception_after_a_tell_calls_on_failure_and_stops() -> None:
    # Letters travel as tells: the boundary answers an ask's exception itself (the actor
    # lives) and lets a tell's exception through to this (rule 5).
    actor = _Plain()
    ref = start_constructed(actor)
    boom = RuntimeError("boom")
    ref.tell(boom)
    assert actor.thread is not None
    actor.thread.join(5)
    assert actor.failures == [boom] and not ref.is_alive()
    with pytest.raises(pykka.ActorDeadError):
        ref.tell("late")
