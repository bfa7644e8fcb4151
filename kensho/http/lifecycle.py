"""Process lifecycle state shared by the server loop, health routes and middlewares.

Plain mutable objects stored in app keys at creation time: the app is frozen once it starts,
so state that changes later (draining, the bound server) lives inside these holders.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aiohttp import web

__all__ = ["Lifecycle", "WorkerRole"]


@dataclass(frozen=True, slots=True)
class WorkerRole:
    """Which process of a `--workers N` server this is.

    `supervised` means a parent process started the shared resources (embedded servers, the
    simulator) and applied the migrations, and watches this one; `--workers 1` is a lone
    process, index 0 of 1.
    """

    index: int = 0
    count: int = 1
    supervised: bool = False

    def describe(self) -> dict[str, int | bool]:
        """What `/admin/actors` reports: which worker answered."""
        return {"index": self.index, "count": self.count, "pid": os.getpid()}


@dataclass(slots=True)
class Lifecycle:
    """Draining flag, in-flight accounting, and what shutdown had to abandon."""

    started_at: float = field(default_factory=time.monotonic)
    draining: bool = False
    draining_since: float | None = None
    in_flight: int = 0
    #: Requests cancelled because they outlived the shutdown budget.
    abandoned_requests: int = 0
    #: Human-readable items teardown could not finish in time (actors, jobs, pools).
    abandoned: list[str] = field(default_factory=list)
    #: Counts open client connections; bound by whoever runs the server.
    connections: Callable[[], int] = field(default=lambda: 0)
    #: Which worker process this is (`kensho serve --workers N`).
    worker: WorkerRole = field(default_factory=WorkerRole)
    #: Ends every request still running under a deadline (bound by the envelope middleware).
    cut_in_flight: Callable[[], int] = field(default=lambda: 0)

    def begin_draining(self) -> None:
        """Readiness fails from now on; liveness is unaffected."""
        if not self.draining:
            self.draining = True
            self.draining_since = time.monotonic()

    def bind_runner(self, runner: web.BaseRunner) -> None:
        """Count the runner's open connections for `active_connections`."""
        self.connections = lambda: len(runner.server.connections) if runner.server else 0

    def uptime(self) -> float:
        return time.monotonic() - self.started_at
