"""Trace context across the bridge: a span per handled message, a child of the sender's span,
also for messages stashed during a restart and replayed; nothing captured when tracing is off."""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from actor_fakes import Echo, Later, Probe, Raise, Recorder
from opentelemetry.context import Context
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from kensho.actors import Supervisor
from kensho.actors.bridge import send_ask
from kensho.actors.mailbox import Letter
from kensho.actors.supervisor import ChildSpec
from kensho.errors import ActorUnavailable
from kensho.observability.timings import ACTOR_ASK
from kensho.observability.tracing import Tracing, active_tracer, capture_context


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    tracing = Tracing("actors-test", exporter=exporter)
    tracing.instrument()
    try:
        yield exporter
    finally:
        tracing.shutdown()


@pytest.fixture
async def sup() -> AsyncIterator[tuple[Supervisor, Recorder]]:
    rec = Recorder(asyncio.get_running_loop())
    sup = Supervisor(
        "root", [rec.spec("a")], min_backoff=0.001, max_backoff=0.01, watchdog_interval=0.02
    )
    await sup.start()
    try:
        yield sup, rec
    finally:
        await sup.stop()


def _tracer(exporter: InMemorySpanExporter) -> Any:
    tracer = active_tracer()
    assert tracer is not None
    return tracer


async def test_an_ask_is_handled_in_a_child_span_of_the_asker(
    exporter: InMemorySpanExporter, sup: tuple[Supervisor, Recorder]
) -> None:
    supervisor, _rec = sup
    handle = supervisor.handle("a")
    with _tracer(exporter).start_as_current_span("request") as request:
        assert await handle.ask(Echo(7)) == 7
    spans = {s.name: s for s in exporter.get_finished_spans()}
    message = spans["a Echo"]
    assert message.kind is SpanKind.CONSUMER
    assert message.parent is not None
    assert message.parent.span_id == request.get_span_context().span_id
    assert message.context.trace_id == request.get_span_context().trace_id
    assert message.attributes is not None
    assert message.attributes["messaging.destination.name"] == "a"
    assert message.attributes["kensho.actor.message_type"] == "Echo"
    assert message.attributes["kensho.actor.mailbox_wait_ms"] >= 0


async def test_a_failed_ask_marks_its_span_as_an_error(
    exporter: InMemorySpanExporter, sup: tuple[Supervisor, Recorder]
) -> None:
    supervisor, _rec = sup
    with _tracer(exporter).start_as_current_span("request"), pytest.raises(ValueError):
        await supervisor.handle("a").ask(Raise(ValueError("no")))
    (span,) = [s for s in exporter.get_finished_spans() if s.name == "a Raise"]
    assert not span.status.is_ok


async def test_stashed_messages_keep_their_sender_context(
    exporter: InMemorySpanExporter, sup: tuple[Supervisor, Recorder]
) -> None:
    supervisor, rec = sup
    handle = supervisor.handle("a")
    gate = rec.hold("a")  # the next incarnation waits: messages stash meanwhile
    handle.tell(Raise(RuntimeError("crash")))
    await rec.expect("failure", "a", 1)
    tracer = _tracer(exporter)
    with tracer.start_as_current_span("first") as first:
        one = asyncio.create_task(handle.ask(Echo(1)))
        await asyncio.sleep(0)  # the task runs and stashes the ask inside "first"
    with tracer.start_as_current_span("second") as second:
        two = asyncio.create_task(handle.ask(Echo(2)))
        await asyncio.sleep(0)
    assert handle.stats()["stashed"] == 2
    gate.set()  # the supervisor replays the stash: not inside either span
    assert await asyncio.gather(one, two) == [1, 2]
    echoes = [s for s in exporter.get_finished_spans() if s.name == "a Echo"]
    parents = {s.parent.span_id for s in echoes if s.parent is not None}
    assert parents == {first.get_span_context().span_id, second.get_span_context().span_id}


class _Warming(Probe):
    """An actor whose warm-up does work (as the search actor's index build)."""

    def warm_up(self) -> None:
        self.rec.emit("warmed", self.name, self.n)


async def test_a_warm_up_after_a_restart_is_its_own_trace_linked_to_the_restart(
    exporter: InMemorySpanExporter,
) -> None:
    """An operator's restart (inside its admin request) must not make the new incarnation's
    warm-up part of the request's trace: the request answered long before an index build ends."""
    rec = Recorder(asyncio.get_running_loop())
    supervisor = Supervisor("root", [ChildSpec("w", lambda: _Warming("w", 1, rec))])
    await supervisor.start()
    try:
        with _tracer(exporter).start_as_current_span("admin request") as request:
            await supervisor.restart_child("w")
        assert await supervisor.handle("w").ask(Echo(1)) == 1  # handled after the warm-up
    finally:
        await supervisor.stop()
    spans = exporter.get_finished_spans()
    trace_id = request.get_span_context().trace_id
    (ready,) = [s for s in spans if s.name == "w Ready" and s.context.trace_id == trace_id]
    assert ready.parent is not None and ready.parent.span_id == request.get_span_context().span_id
    start, restart = [s for s in spans if s.name == "w warm_up"]  # at start, after the restart
    assert restart.parent is None and restart.context.trace_id != trace_id
    assert [link.context.span_id for link in restart.links] == [ready.context.span_id]
    assert start.links == ()  # started outside any trace: nothing to link to
    assert ready.end_time is not None and restart.start_time is not None
    assert ready.end_time <= restart.start_time  # the barrier's span does not wait for it


async def test_work_handed_to_the_loop_ends_the_span_when_it_completes(
    exporter: InMemorySpanExporter, sup: tuple[Supervisor, Recorder]
) -> None:
    supervisor, _rec = sup
    handle = supervisor.handle("a")
    asked: concurrent.futures.Future[Any] = concurrent.futures.Future()
    told: concurrent.futures.Future[Any] = concurrent.futures.Future()
    with _tracer(exporter).start_as_current_span("request") as request:
        answer = asyncio.create_task(handle.ask(Later(asked)))
        handle.tell(Later(told))
        assert await handle.ask(Echo(0)) == 0  # both Later messages were handled before it
    assert [s.name for s in exporter.get_finished_spans()] == ["a Echo", "request"]
    asked.set_result("done")
    told.set_exception(RuntimeError("lost"))
    assert await answer == "done"
    spans = {s.name: s for s in exporter.get_finished_spans() if s.name == "a Later"}
    later = [s for s in exporter.get_finished_spans() if s.name == "a Later"]
    assert len(later) == 2 and spans
    assert {s.parent.span_id for s in later if s.parent} == {request.get_span_context().span_id}
    assert sorted(s.status.is_ok for s in later) == [False, True]


async def test_a_base_exception_in_a_traced_ask_fails_the_span_and_the_actor(
    exporter: InMemorySpanExporter, sup: tuple[Supervisor, Recorder]
) -> None:
    supervisor, rec = sup
    with _tracer(exporter).start_as_current_span("request"), pytest.raises(ActorUnavailable):
        await supervisor.handle("a").ask(Raise(SystemExit(3)))
    await rec.expect("start", "a", 2)
    (span,) = [s for s in exporter.get_finished_spans() if s.name == "a Raise"]
    assert not span.status.is_ok


async def test_a_letter_carrying_a_context_after_tracing_stopped_is_handled_untraced(
    sup: tuple[Supervisor, Recorder],
) -> None:
    supervisor, _rec = sup
    actor = supervisor.handle("a")._actor
    assert actor is not None and active_tracer() is None
    fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    send_ask(actor, Echo(5), fut, context=Context())
    assert await fut == 5


async def test_asks_are_timed_per_actor(sup: tuple[Supervisor, Recorder]) -> None:
    supervisor, _rec = sup
    child = ACTOR_ASK.labels("a")
    before = _count(child)
    assert await supervisor.handle("a").ask(Echo(1)) == 1
    with pytest.raises(ValueError):
        await supervisor.handle("a").ask(Raise(ValueError("timed too")))
    assert _count(child) == before + 2


def _count(histogram: Any) -> float:
    (count,) = [
        s.value for m in histogram.collect() for s in m.samples if s.name.endswith("_count")
    ]
    return float(count)


def test_nothing_is_captured_when_tracing_is_off() -> None:
    assert capture_context() is None
    assert Letter(Echo(1), None).context is None
