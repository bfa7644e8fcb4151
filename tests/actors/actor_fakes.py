"""Test actors that crash on purpose, and a recorder that reports their life to the loop."""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import threading
from dataclasses import dataclass, field
from typing import Any, ClassVar

from kensho.actors import ChildSpec, KenshoActor, RestartPolicy
from kensho.actors.base import ReplyLater


@dataclass(frozen=True)
class Echo:
    value: Any


@dataclass(frozen=True)
class Raise:
    exc: BaseException


@dataclass(frozen=True)
class Wait:
    event: threading.Event


@dataclass(frozen=True)
class Hold:
    """Say that handling started, then wait for the gate."""

    started: threading.Event
    gate: threading.Event


@dataclass(frozen=True)
class Later:
    """Answer when `future` completes (ReplyLater)."""

    future: concurrent.futures.Future[Any]


@dataclass(frozen=True)
class Fact:
    """Reports something that happened elsewhere: recorded even if its asker gave up."""

    what: str
    run_if_abandoned: ClassVar[bool] = True


@dataclass(frozen=True)
class StopSelf:
    pass


@dataclass(frozen=True)
class WhoAmI:
    pass


@dataclass
class Recorder:
    """Collects actor life events; `emit` is thread-safe and wakes awaiting tests."""

    loop: asyncio.AbstractEventLoop
    events: asyncio.Queue[tuple[str, str, int]] = field(default_factory=asyncio.Queue)
    log: list[tuple[str, int, Any]] = field(default_factory=list)
    counts: collections.Counter[str] = field(default_factory=collections.Counter)
    gates: dict[str, threading.Event] = field(default_factory=dict)
    fail_start: dict[tuple[str, int], BaseException] = field(default_factory=dict)
    #: (name, incarnation) whose setup() waits for this event (a wedged start)
    wedge_start: dict[tuple[str, int], threading.Event] = field(default_factory=dict)
    #: (name, incarnation) whose on_stop raises this before reporting the exit (kills the thread)
    fail_stop: dict[tuple[str, int], BaseException] = field(default_factory=dict)
    stops: list[str] = field(default_factory=list)
    probes: list[Probe] = field(default_factory=list)
    starts: list[str] = field(default_factory=list)  # names, in the order on_start finished
    #: set on the actor thread once (name, incarnation) reported its failure
    failed: dict[tuple[str, int], threading.Event] = field(
        default_factory=lambda: collections.defaultdict(threading.Event)
    )

    def emit(self, kind: str, name: str, n: int) -> None:
        with contextlib.suppress(RuntimeError):  # the test's loop may be closed at teardown
            self.loop.call_soon_threadsafe(self.events.put_nowait, (kind, name, n))

    async def expect(self, kind: str, name: str, n: int | None = None) -> tuple[str, str, int]:
        """Wait for the next matching event, skipping others."""
        async with asyncio.timeout(5):
            while True:
                ev = await self.events.get()
                if ev[0] == kind and ev[1] == name and (n is None or ev[2] == n):
                    return ev

    def hold(self, name: str) -> threading.Event:
        """Block the next construction of `name` until the returned event is set."""
        gate = threading.Event()
        self.gates[name] = gate
        return gate

    def factory(self, name: str) -> Probe:
        gate = self.gates.pop(name, None)
        if gate is not None:
            gate.wait(10)
        self.counts[name] += 1
        n = self.counts[name]
        probe = Probe(name, n, self)
        self.probes.append(probe)
        return probe

    def spec(self, name: str, restart: RestartPolicy = "permanent", **kw: Any) -> ChildSpec:
        return ChildSpec(name, lambda: self.factory(name), restart=restart, **kw)


class Probe(KenshoActor):
    def __init__(self, name: str, n: int, rec: Recorder) -> None:
        super().__init__()
        self.name, self.n, self.rec = name, n, rec

    def setup(self) -> None:
        wedge = self.rec.wedge_start.get((self.name, self.n))
        if wedge is not None:
            wedge.wait(10)
        exc = self.rec.fail_start.get((self.name, self.n))
        if exc is not None:
            self.rec.emit("start_failing", self.name, self.n)
            raise exc
        self.publish({"incarnation": self.n})
        self.rec.starts.append(self.name)
        self.rec.emit("start", self.name, self.n)

    def on_stop(self) -> None:
        exc = self.rec.fail_stop.get((self.name, self.n))
        if exc is not None:
            raise exc
        self.rec.stops.append(self.name)
        super().on_stop()  # reports the exit first: a test seeing "stop" sees its effect
        self.rec.emit("stop", self.name, self.n)

    def on_failure(self, *exc_info: Any) -> None:
        super().on_failure(*exc_info)
        self.rec.failed[(self.name, self.n)].set()
        self.rec.emit("failure", self.name, self.n)

    def handle(self, message: Any) -> Any:
        self.rec.log.append((self.name, self.n, message))
        if isinstance(message, Echo):
            return message.value
        if isinstance(message, Raise):
            raise message.exc
        if isinstance(message, Wait):
            message.event.wait(10)
            return "waited"
        if isinstance(message, Hold):
            message.started.set()
            message.gate.wait(10)
            return "held"
        if isinstance(message, Fact):
            return message.what
        if isinstance(message, Later):
            return ReplyLater(message.future)
        if isinstance(message, StopSelf):
            self.stop()
            return None
        if isinstance(message, WhoAmI):
            return (self.name, self.n)
        return super().handle(message)

    def summary(self) -> dict[str, Any]:
        return {"incarnation": self.n}
