"""`kensho serve`: run the app with an AppRunner we control, and shut down gracefully.

SIGTERM/SIGINT: readiness fails at once, the server keeps serving for `prestop_delay`, then
`runner.cleanup()` closes the listener, lets in-flight requests finish within
`shutdown_timeout`, and tears the resources down in reverse (jobs, actors, pools). The exit
status says whether everything drained in time.

Under `kensho serve --workers N` each worker runs this too, with a `ParentLink`: it listens
with `SO_REUSEPORT` (the kernel spreads connections over the workers), tells the parent on a
pipe when it listens, and drains by itself if the parent disappears.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
from dataclasses import dataclass

from aiohttp import web

from kensho.config import Config
from kensho.http import keys
from kensho.http.access_log import JsonAccessLogger
from kensho.http.lifecycle import Lifecycle

__all__ = [
    "EXIT_ABANDONED",
    "EXIT_CONFIG",
    "EXIT_ESCALATED",
    "EXIT_OK",
    "EXIT_START_FAILED",
    "ParentLink",
    "serve",
]

log = logging.getLogger("kensho.server")

EXIT_OK = 0
EXIT_START_FAILED = 1
EXIT_CONFIG = 2
EXIT_ABANDONED = 3
EXIT_ESCALATED = 4
_POLL = 0.2


@dataclass(frozen=True, slots=True)
class ParentLink:
    """A worker's line to the parent that supervises it."""

    #: Write end of the parent's pipe: one line `INDEX PID` once this worker listens.
    ready_fd: int
    #: The parent's pid; when `os.getppid()` differs the parent is gone and the worker drains.
    parent_pid: int


async def serve(config: Config, app: web.Application, parent: ParentLink | None = None) -> int:
    """Run `app` until a signal, a root escalation or (for a worker) the parent's death, then
    drain; return the exit status."""
    lifecycle = app[keys.LIFECYCLE]
    runner = web.AppRunner(
        app,
        handle_signals=False,
        access_log_class=JsonAccessLogger,
        shutdown_timeout=config.shutdown_timeout,
    )
    try:
        await runner.setup()
    except Exception:
        log.exception("start-up failed", extra={"event": "start_failed"})
        await runner.cleanup()
        return EXIT_START_FAILED
    lifecycle.bind_runner(runner)
    # Start-up loaded long-lived data (the catalog bundle, the simulator's index, the search
    # index): move it out of the collector's generations so it is not rescanned forever. Each
    # request allocates a few hundred objects, so with the default threshold (700) a young
    # collection ran every other request; cycles are rare on the request path, so collect the
    # young generation every 50,000 allocations instead (paired bench runs: +0.03 of bare).
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)
    site = web.TCPSite(runner, config.host, config.port, reuse_port=parent is not None or None)
    try:
        await site.start()
    except OSError as exc:
        log.error("cannot listen on %s:%s: %s", config.host, config.port, exc.strerror)
        await runner.cleanup()
        return EXIT_START_FAILED
    host, port = runner.addresses[0][:2]
    log.info("listening on %s:%s", host, port, extra={"event": "listening", "port": port})

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, _on_signal, sig, stop)
    if parent is not None:  # only now: from here on the parent's SIGTERM means "drain"
        _tell_parent(parent, f"{lifecycle.worker.index} {os.getpid()}\n")
    try:
        escalated = await _wait_for_stop(app, stop, parent)
        lifecycle.begin_draining()
        if not escalated and config.prestop_delay > 0:
            log.info(
                "draining: readiness fails, serving %gs more",
                config.prestop_delay,
                extra={"event": "prestop"},
            )
            await asyncio.sleep(config.prestop_delay)
        log.info(
            "closing listener; %d request(s) in flight",
            lifecycle.in_flight,
            extra={"event": "drain_http"},
        )
        # Requests still running when the budget is nearly spent get a 503 (retryable) rather
        # than aiohttp cancelling them and dropping their connection at the deadline.
        margin = min(0.5, config.shutdown_timeout / 5)
        cut = loop.call_later(config.shutdown_timeout - margin, _cut_in_flight, lifecycle)
        try:
            await runner.cleanup()
        finally:
            cut.cancel()
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
    return _exit_status(lifecycle.abandoned, lifecycle.abandoned_requests, escalated)


def _cut_in_flight(lifecycle: Lifecycle) -> None:
    count = lifecycle.cut_in_flight()
    if count:
        log.warning(
            "shutdown budget nearly spent: answered %d in-flight request(s) with 503",
            count,
            extra={"event": "cut_in_flight", "requests": count},
        )


def _on_signal(sig: signal.Signals, stop: asyncio.Event) -> None:
    if stop.is_set():
        log.warning("%s again: already shutting down", sig.name)
    else:
        log.info("%s received: shutting down", sig.name, extra={"event": "signal"})
    stop.set()


def _tell_parent(parent: ParentLink, line: str) -> None:
    try:
        os.write(parent.ready_fd, line.encode())  # one short write: atomic on a pipe
    except OSError as exc:  # the parent is gone: the watch below notices and drains
        log.warning("cannot reach the parent process: %s", exc.strerror)
    finally:
        with contextlib.suppress(OSError):
            os.close(parent.ready_fd)


async def _wait_for_stop(
    app: web.Application, stop: asyncio.Event, parent: ParentLink | None = None
) -> bool:
    """Wait for a signal (or the parent's death); return True if the root supervisor
    escalated instead."""
    while True:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), _POLL)
            return False
        if parent is not None and os.getppid() != parent.parent_pid:
            log.error("parent process gone: draining", extra={"event": "orphaned"})
            return False
        sup = app.get(keys.SUPERVISOR)
        if sup is not None and sup.failed:
            log.error("root supervisor escalated: stopping", extra={"event": "escalated"})
            return True


def _exit_status(abandoned: list[str], abandoned_requests: int, escalated: bool) -> int:
    items = list(abandoned)
    if abandoned_requests:
        items.append(f"requests:{abandoned_requests}")
    if items:
        log.error(
            "shutdown abandoned: %s", ", ".join(items), extra={"event": "abandoned", "items": items}
        )
    if escalated:
        return EXIT_ESCALATED
    if items:
        return EXIT_ABANDONED
    log.info("shutdown complete", extra={"event": "stopped"})
    return EXIT_OK
