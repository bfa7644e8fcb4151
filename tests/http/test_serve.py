"""`serve()` in this process, on a free port: start-up failures, a signal's drain, escalation,
what shutdown abandons, and a worker's line to its parent.

The subprocess tests (tests/test_shutdown.py, tests/test_workers.py) run the whole server; here
the app is the real one with a stand-in supervisor, so each path is fast and deterministic.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from httpkit import StandInSupervisor

from kensho.composition.services import actor_tree
from kensho.config import Config
from kensho.http import keys
from kensho.http.app import Resource, create_app
from kensho.http.middlewares.timeout import deadline
from kensho.http.routing import Routes
from kensho.http.server import (
    EXIT_ABANDONED,
    EXIT_ESCALATED,
    EXIT_OK,
    EXIT_START_FAILED,
    ParentLink,
    serve,
)


class ServerEvents(logging.Handler):
    """The `kensho.server` log records, with an awaitable per event (`listening`, `signal`…)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[logging.LogRecord] = []
        self._seen: dict[str, asyncio.Event] = {}

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        self.seen(getattr(record, "event", "")).set()

    def seen(self, event: str) -> asyncio.Event:
        return self._seen.setdefault(event, asyncio.Event())

    def events(self) -> list[str]:
        return [getattr(r, "event", "") for r in self.records]

    def record(self, event: str) -> logging.LogRecord:
        (found,) = (r for r in self.records if getattr(r, "event", "") == event)
        return found


@pytest.fixture
def events() -> Iterator[ServerEvents]:
    """Server log records; also undoes serve()'s process-wide collector settings afterwards."""
    handler = ServerEvents()
    logger = logging.getLogger("kensho.server")
    old_level, threshold = logger.level, gc.get_threshold()
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(old_level)
    gc.unfreeze()
    gc.set_threshold(*threshold)


def _config(**overrides: Any) -> Config:
    settings: dict[str, Any] = {"host": "127.0.0.1", "port": 0, "prestop_delay": 0.0}
    return Config(**(settings | overrides))


def _app(
    config: Config,
    supervisor: StandInSupervisor,
    *more: Resource,
    setup: Callable[[web.Application], None] | None = None,
) -> web.Application:
    app = create_app(config, resources=[actor_tree(lambda _c: supervisor), *more])
    if setup is not None:
        setup(app)
    return app


async def _listening(events: ServerEvents, server: asyncio.Task[int]) -> str:
    """The base URL once `serve()` listens (its signal handlers are installed by then)."""
    listening = asyncio.ensure_future(events.seen("listening").wait())
    await asyncio.wait({listening, server}, return_when=asyncio.FIRST_COMPLETED)
    assert listening.done(), f"serve() returned {server.result()} before listening"
    return f"http://127.0.0.1:{events.record('listening').port}"  # type: ignore[attr-defined]


async def test_sigterm_serves_through_prestop_then_drains_and_exits_0(
    events: ServerEvents,
) -> None:
    supervisor = StandInSupervisor()
    server = asyncio.create_task(serve(_config(prestop_delay=0.2), _app(_config(), supervisor)))
    base = await _listening(events, server)
    async with aiohttp.ClientSession() as http:
        async with http.get(base + "/health/live") as resp:
            assert resp.status == 200
        os.kill(os.getpid(), signal.SIGTERM)
        await events.seen("prestop").wait()
        os.kill(os.getpid(), signal.SIGTERM)  # a second signal changes nothing
        assert await server == EXIT_OK
        with pytest.raises(aiohttp.ClientConnectorError):
            await http.get(base + "/health/live")
    assert events.events()[-4:] == ["prestop", "", "drain_http", "stopped"]
    assert "again: already shutting down" in events.records[-3].getMessage()
    assert supervisor.stopped


class Watched(StandInSupervisor):
    """A supervisor that says when the server first looked at it (its escalation poll)."""

    def __init__(self) -> None:
        super().__init__()
        self.polled = asyncio.Event()
        self._failed = False

    @property  # type: ignore[override]
    def failed(self) -> bool:
        self.polled.set()
        return self._failed

    @failed.setter
    def failed(self, value: bool) -> None:
        self._failed = value


async def test_a_root_escalation_stops_without_prestop_and_exits_4(events: ServerEvents) -> None:
    supervisor = Watched()
    config = _config(prestop_delay=300.0)  # never waited for: escalation skips the pre-stop
    server = asyncio.create_task(serve(config, _app(config, supervisor)))
    await _listening(events, server)
    await supervisor.polled.wait()  # one poll found it healthy and went on waiting
    supervisor.failed = True
    assert await server == EXIT_ESCALATED
    assert "escalated" in events.events() and "prestop" not in events.events()
    assert events.events()[-1] == "drain_http" and supervisor.stopped


async def test_requests_at_the_end_of_the_budget_are_answered_or_counted_and_exit_3(
    events: ServerEvents,
) -> None:
    """Near the end of the budget a request under a deadline gets a 503; one without (a
    stream) is cancelled at the end and counted as abandoned."""
    entered = {"timed": asyncio.Event(), "stream": asyncio.Event()}

    async def timed(_request: web.Request) -> web.Response:
        entered["timed"].set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    @deadline(None)
    async def stream(_request: web.Request) -> web.Response:
        entered["stream"].set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    def setup(app: web.Application) -> None:
        Routes(app).get("/t/timed", timed)
        Routes(app).get("/t/stream", stream)

    config = _config(shutdown_timeout=0.5)
    server = asyncio.create_task(serve(config, _app(config, StandInSupervisor(), setup=setup)))
    base = await _listening(events, server)
    async with aiohttp.ClientSession() as http:
        calls = [asyncio.create_task(http.get(base + path)) for path in ("/t/timed", "/t/stream")]
        await asyncio.gather(*(e.wait() for e in entered.values()))
        os.kill(os.getpid(), signal.SIGTERM)
        assert await server == EXIT_ABANDONED
        timed_resp, stream_resp = await asyncio.gather(*calls, return_exceptions=True)
        assert isinstance(timed_resp, aiohttp.ClientResponse) and timed_resp.status == 503
        assert isinstance(stream_resp, aiohttp.ClientError)  # dropped: nothing to answer
    assert events.record("cut_in_flight").requests == 1  # type: ignore[attr-defined]
    assert events.record("abandoned").items == ["requests:1"]  # type: ignore[attr-defined]


async def test_an_actor_stopping_past_the_budget_is_named_and_exit_3(
    events: ServerEvents,
) -> None:
    """The supervisor's stop outlives the budget (the in-flight cut fires, with nothing to
    cut) and reports the child it gave up on."""
    cut = asyncio.Event()

    class SlowToStop(StandInSupervisor):
        async def stop(self) -> list[str]:
            await super().stop()
            await cut.wait()
            return ["cache"]

    def setup(app: web.Application) -> None:
        lifecycle = app[keys.LIFECYCLE]
        cut_in_flight = lifecycle.cut_in_flight

        def observed() -> int:
            cut.set()
            return cut_in_flight()

        lifecycle.cut_in_flight = observed

    config = _config(shutdown_timeout=0.5)
    server = asyncio.create_task(serve(config, _app(config, SlowToStop(), setup=setup)))
    await _listening(events, server)
    os.kill(os.getpid(), signal.SIGTERM)
    assert await server == EXIT_ABANDONED
    assert "cut_in_flight" not in events.events()  # nothing was in flight
    assert events.record("abandoned").items == ["actor:cache"]  # type: ignore[attr-defined]


async def test_a_failing_start_exits_1(events: ServerEvents) -> None:
    async def broken(_app: web.Application) -> AsyncIterator[None]:
        raise RuntimeError("no database")
        yield

    config = _config()
    assert await serve(config, _app(config, StandInSupervisor(), broken)) == EXIT_START_FAILED
    assert events.events() == ["start_failed"]


async def test_a_taken_port_exits_1(events: ServerEvents) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        supervisor = StandInSupervisor()
        config = _config(port=taken.getsockname()[1])
        assert await serve(config, _app(config, supervisor)) == EXIT_START_FAILED
    assert "cannot listen on 127.0.0.1" in events.records[-1].getMessage()
    assert supervisor.stopped  # what start-up opened is closed again


async def test_a_worker_tells_its_parent_then_drains_when_the_parent_is_gone(
    events: ServerEvents,
) -> None:
    """The `INDEX PID` line on the ready pipe, then the orphan check (a parent pid that is
    not this process's parent stands for a parent that died)."""
    read_end, write_end = os.pipe()
    try:
        config = _config()
        link = ParentLink(ready_fd=write_end, parent_pid=os.getppid() + 1)
        assert await serve(config, _app(config, StandInSupervisor()), link) == EXIT_OK
        assert os.read(read_end, 100) == f"0 {os.getpid()}\n".encode()
        assert os.read(read_end, 100) == b""  # the worker closed its end after the line
    finally:
        os.close(read_end)
    assert events.events()[-3:] == ["orphaned", "drain_http", "stopped"]


async def test_a_worker_whose_parent_closed_the_pipe_still_serves_until_it_notices(
    events: ServerEvents,
) -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)  # the parent is gone: writing fails with EPIPE
    config = _config()
    link = ParentLink(ready_fd=write_end, parent_pid=os.getppid() + 1)
    assert await serve(config, _app(config, StandInSupervisor()), link) == EXIT_OK
    warning = next(r for r in events.records if r.levelno == logging.WARNING)
    assert "cannot reach the parent process" in warning.getMessage()
    assert "orphaned" in events.events()
