"""Per-actor statistics kept out of band.

The actor thread is the only writer of the hot-path counters; any thread may read them without
a mailbox round trip, so `/admin/actors` still reports on a wedged actor. One `ActorStats`
belongs to a supervisor's child slot and therefore survives restarts.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Literal, Protocol

__all__ = ["ActorState", "ActorStats", "FailureInfo", "Reservoir"]

ActorState = Literal[
    "starting", "running", "restarting", "backing_off", "stopping", "stopped", "failed"
]


class _Mailbox(Protocol):
    limit: int | None

    def depth(self) -> int: ...


@dataclass(frozen=True, slots=True)
class FailureInfo:
    """The last failure of an actor, immutable so readers on other threads see a whole record."""

    type: str
    message: str
    at: float  # wall-clock time (epoch seconds)

    @classmethod
    def of(cls, exc: BaseException | None, fallback: str = "failure") -> FailureInfo:
        if exc is None:
            return cls(fallback, "", time.time())
        return cls(type(exc).__name__, str(exc)[:500], time.time())

    def as_dict(self) -> dict[str, Any]:
        return {"type": self.type, "message": self.message, "at": self.at}


class Reservoir:
    """The last `size` samples in a ring; percentiles are computed by readers, not the writer.

    Recording is one list store and one increment, cheap enough for every message. Readers copy
    the list (atomic under the GIL) and sort the copy.
    """

    __slots__ = ("_count", "_ring", "_size")

    def __init__(self, size: int = 512) -> None:
        if size < 1:
            raise ValueError("reservoir size must be positive")
        self._size = size
        self._ring: list[int] = [0] * size
        self._count = 0

    def add(self, value_ns: int) -> None:
        self._ring[self._count % self._size] = value_ns
        self._count += 1

    @property
    def count(self) -> int:
        return self._count

    def percentiles(self, *qs: float) -> tuple[float, ...]:
        """Percentiles (0..100) of the retained samples in microseconds; zeros when empty."""
        n = min(self._count, self._size)
        if n == 0:
            return tuple(0.0 for _ in qs)
        data = sorted(list(self._ring)[:n])
        out = []
        for q in qs:
            idx = min(n - 1, max(0, round(q / 100 * (n - 1))))
            out.append(data[idx] / 1000.0)
        return tuple(out)


class ActorStats:
    """Counters and timings of one supervised child, across all its incarnations."""

    def __init__(self, name: str, reservoir_size: int = 512) -> None:
        self.name = name
        self.state: ActorState = "starting"
        self.processed = 0
        self.failed = 0
        self.restarts = 0
        self.last_failure: FailureInfo | None = None
        self.started_at: float | None = None  # monotonic, current incarnation
        self.processing = Reservoir(reservoir_size)
        self.mailbox_wait = Reservoir(reservoir_size)
        self.mailbox: _Mailbox | None = None  # the current incarnation's
        self.mailbox_rejected = 0  # messages refused because the mailbox was full
        self.expired = 0  # asks skipped because the asker had given up (timed out, cancelled)
        self.stashed: int = 0
        #: reads of the published view by handlers (no message: rule 3); loop thread only
        self.view_reads = 0

    def record(self, processing_ns: int, wait_ns: int, *, ok: bool) -> None:
        """Account for one handled message (called on the actor thread)."""
        self.processing.add(processing_ns)
        self.mailbox_wait.add(wait_ns)
        if ok:
            self.processed += 1
        else:
            self.failed += 1

    def record_failure(self, exc: BaseException | None, fallback: str = "failure") -> None:
        self.last_failure = FailureInfo.of(exc, fallback)

    def mailbox_depth(self) -> int:
        mailbox = self.mailbox
        return mailbox.depth() if mailbox is not None else 0

    def mailbox_limit(self) -> int | None:
        mailbox = self.mailbox
        return mailbox.limit if mailbox is not None else None

    def uptime(self) -> float:
        started = self.started_at
        if started is None or self.state != "running":
            return 0.0
        return time.monotonic() - started

    def snapshot(self) -> dict[str, Any]:
        """A JSON-able view; safe from any thread."""
        p50, p99 = self.processing.percentiles(50, 99)
        w50, w99 = self.mailbox_wait.percentiles(50, 99)
        failure = self.last_failure
        return {
            "name": self.name,
            "state": self.state,
            "mailbox_depth": self.mailbox_depth(),
            "mailbox_limit": self.mailbox_limit(),
            "mailbox_rejected": self.mailbox_rejected,
            "expired_asks": self.expired,
            "stashed": self.stashed,
            "processed": self.processed,
            "view_reads": self.view_reads,
            "failed": self.failed,
            "restarts": self.restarts,
            "processing_us": {"p50": p50, "p99": p99},
            "mailbox_wait_us": {"p50": w50, "p99": w99},
            "last_failure": failure.as_dict() if failure is not None else None,
            "uptime_s": round(self.uptime(), 3),
        }
