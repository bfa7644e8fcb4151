"""Supervise the worker processes of `kensho serve --workers N`: start, restart, drain.

The parent starts N copies of `kensho serve` (each a whole replica, listening on the same port
with `SO_REUSEPORT`) and keeps them alive the way a supervisor keeps actors alive: a worker that
exits while the fleet runs is restarted after an Akka-style backoff (`backoff_delay`, reset once
the worker has stayed up `stable_after` seconds). A worker that dies before the fleet first came
up is a start failure (bad database, port taken…): the others are stopped and the parent exits 1,
since restarting would only repeat it. On SIGTERM/SIGINT the parent sends SIGTERM to every worker,
waits `drain_timeout` for them to drain, kills what is left, and returns 0 only if every worker
exited 0.

Each worker writes one line `INDEX PID` on a pipe the parent holds once it listens; the parent
uses it to know that the fleet is up. Workers run in their own session, so a terminal's Ctrl-C
reaches only the parent, which then drains them in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from kensho.actors.supervisor import backoff_delay
from kensho.http.server import EXIT_ABANDONED, EXIT_OK, EXIT_START_FAILED

__all__ = ["WorkerPool"]

log = logging.getLogger("kensho.workers")

#: argv of worker `index`, given the write end of the ready pipe.
Command = Callable[[int, int], Sequence[str]]


@dataclass(slots=True)
class _Slot:
    """One worker position: its current process and how often it failed lately."""

    index: int
    proc: asyncio.subprocess.Process | None = None
    ready_at: float | None = None
    failures: int = 0
    restarts: int = 0
    exit_code: int | None = None


class WorkerPool:
    """N supervised worker processes; `run(stop)` returns the parent's exit status."""

    def __init__(
        self,
        count: int,
        command: Command,
        *,
        env: Mapping[str, str] | None = None,
        drain_timeout: float = 60.0,
        min_backoff: float = 0.5,
        max_backoff: float = 30.0,
        random_factor: float = 0.2,
        stable_after: float = 30.0,
    ) -> None:
        if count < 1:
            raise ValueError("count must be >= 1")
        self._slots = [_Slot(i) for i in range(count)]
        self._command = command
        self._env = dict(env) if env is not None else None
        self._drain_timeout = drain_timeout
        self._backoff = (min_backoff, max_backoff, random_factor)
        self._stable_after = stable_after
        self._stop = asyncio.Event()
        self._up = asyncio.Event()
        self._start_failed = False
        self._killed: list[int] = []
        self._ready_r, self._ready_w = os.pipe()
        self._pending = b""
        #: Pids that reported listening; a fast worker may report before `_spawn` saw its pid.
        self._reported: set[int] = set()

    async def wait_up(self) -> None:
        """Return once every worker has listened at least once (the fleet came up)."""
        await self._up.wait()

    @property
    def pids(self) -> list[int | None]:
        """The current pid of each worker (None while it is being restarted)."""
        return [s.proc.pid if s.proc and s.proc.returncode is None else None for s in self._slots]

    async def run(self, stop: asyncio.Event) -> int:
        """Start every worker, keep them up until `stop` is set, then drain them."""
        loop = asyncio.get_running_loop()
        os.set_blocking(self._ready_r, False)
        loop.add_reader(self._ready_r, self._on_ready)
        self._stop = stop
        tasks = [asyncio.create_task(self._keep(slot)) for slot in self._slots]
        try:
            await stop.wait()
            return await self._drain(tasks)
        finally:
            loop.remove_reader(self._ready_r)
            os.close(self._ready_r)
            os.close(self._ready_w)

    async def _keep(self, slot: _Slot) -> None:
        """Run worker `slot.index` until the pool stops, restarting it when it dies."""
        while not self._stop.is_set():
            proc = await self._spawn(slot)
            code = await proc.wait()
            self._on_ready()  # a line it wrote just before dying counts: read the pipe first
            slot.exit_code = code
            up_for = time.monotonic() - slot.ready_at if slot.ready_at is not None else 0.0
            was_ready, slot.ready_at = slot.ready_at is not None, None
            if self._stop.is_set():
                if not was_ready and code == -signal.SIGTERM:
                    log.info("worker %d was still starting: stopped", slot.index)
                    slot.exit_code = EXIT_OK  # nothing was served, nothing to drain
                return
            if not self._up.is_set():
                log.error(
                    "worker %d exited with %s before the server came up: stopping",
                    slot.index,
                    code,
                    extra={"event": "worker_start_failed", "worker": slot.index, "code": code},
                )
                self._start_failed = True
                self._stop.set()
                return
            slot.exit_code = None  # logged below; the drain's outcome is the next process's
            if up_for >= self._stable_after:
                slot.failures = 0
            delay = backoff_delay(slot.failures, *self._backoff)
            slot.failures += 1
            slot.restarts += 1
            log.warning(
                "worker %d (pid %d) exited with %s: restarting in %.2fs",
                slot.index,
                proc.pid,
                code,
                delay,
                extra={
                    "event": "worker_exited",
                    "worker": slot.index,
                    "pid": proc.pid,
                    "code": code,
                    "restart_in": round(delay, 3),
                },
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), delay)

    async def _spawn(self, slot: _Slot) -> asyncio.subprocess.Process:
        proc = await asyncio.create_subprocess_exec(
            *self._command(slot.index, self._ready_w),
            env=self._env,
            pass_fds=(self._ready_w,),
            start_new_session=True,
        )
        slot.proc = proc
        log.info(
            "worker %d started (pid %d)",
            slot.index,
            proc.pid,
            extra={"event": "worker_started", "worker": slot.index, "pid": proc.pid},
        )
        self._on_ready()
        if self._stop.is_set():  # the pool began stopping while this one was being spawned
            proc.send_signal(signal.SIGTERM)
        return proc

    def _on_ready(self) -> None:
        """Read `INDEX PID` lines from the pipe; the fleet is up once every worker listened."""
        with contextlib.suppress(BlockingIOError):
            self._pending += os.read(self._ready_r, 4096)
        *lines, self._pending = self._pending.split(b"\n")
        for line in lines:
            try:
                _, reported = (int(part) for part in line.split())
            except ValueError:
                log.warning("unreadable line on the ready pipe: %r", line[:80])
                continue
            self._reported.add(reported)
        for slot in self._slots:
            if slot.proc is None or slot.ready_at is not None:
                continue
            if (pid := slot.proc.pid) in self._reported:
                self._reported.discard(pid)
                slot.ready_at = time.monotonic()
                log.info(
                    "worker %d listening (pid %d)",
                    slot.index,
                    pid,
                    extra={"event": "worker_ready", "worker": slot.index, "pid": pid},
                )
        if not self._up.is_set() and all(s.ready_at is not None for s in self._slots):
            self._up.set()
            log.info(
                "all %d workers listening",
                len(self._slots),
                extra={"event": "workers_up", "workers": len(self._slots)},
            )

    async def _drain(self, tasks: list[asyncio.Task[None]]) -> int:
        """SIGTERM every worker, wait for them within the budget, kill the rest."""
        log.info(
            "draining %d worker(s)",
            sum(pid is not None for pid in self.pids),
            extra={"event": "workers_drain"},
        )
        for slot in self._slots:
            if slot.proc is not None and slot.proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    slot.proc.send_signal(signal.SIGTERM)
        _, pending = await asyncio.wait(tasks, timeout=self._drain_timeout)
        if pending:
            for slot in self._slots:
                if slot.proc is not None and slot.proc.returncode is None:
                    self._killed.append(slot.index)
                    with contextlib.suppress(ProcessLookupError):
                        slot.proc.kill()
            await asyncio.wait(pending)
        return self._exit_status()

    def _exit_status(self) -> int:
        codes = {s.index: s.exit_code for s in self._slots}
        bad = {i: c for i, c in codes.items() if c not in (EXIT_OK, None)}
        if self._killed:
            log.error(
                "workers %s did not drain in %gs: killed",
                self._killed,
                self._drain_timeout,
                extra={"event": "abandoned", "items": [f"worker:{i}" for i in self._killed]},
            )
        if self._start_failed:
            return EXIT_START_FAILED
        if bad:
            log.error("workers exited with %s", bad, extra={"event": "workers_failed"})
        if self._killed or bad:
            return EXIT_ABANDONED
        log.info("all workers drained", extra={"event": "stopped"})
        return EXIT_OK
