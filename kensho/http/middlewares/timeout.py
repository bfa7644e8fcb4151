"""Timeouts: each request gets a deadline (the default or its route's own) and a 504 after it.

`Deadlines` runs many deadlines on few timers. `asyncio.timeout()` schedules and cancels one
timer handle per request, about 6 µs on the bench machine, more than the /health/live handler;
here a request joins the bucket its deadline falls in (rounded up to `resolution`), and one
loop timer per bucket cancels the requests still running in it. A deadline therefore fires up
to `resolution` late, which no client can tell apart from network jitter.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from typing import Any, TypeVar

from aiohttp import web

from kensho.errors import ServiceUnavailable, Timeout
from kensho.http.middlewares.base import Handler

__all__ = ["Bucket", "Deadlines", "deadline", "deadline_of"]

_ATTR = "__kensho_deadline__"
_F = TypeVar("_F", bound=Callable[..., object])
_UNSET = object()

#: The running requests whose deadlines fall in one `resolution`-wide slot (task -> None).
Bucket = dict["asyncio.Task[Any]", None]


def deadline(seconds: float | None) -> Callable[[_F], _F]:
    """Give a route handler its own deadline; `None` opts out (long-lived streams)."""
    if seconds is not None and not seconds > 0:
        raise ValueError(f"deadline must be positive, got {seconds!r}")

    def mark(handler: _F) -> _F:
        setattr(handler, _ATTR, seconds)
        return handler

    return mark


def deadline_of(handler: object, default: float | None) -> float | None:
    """The handler's own deadline if it has one (`None`: no deadline), else `default`."""
    seconds = getattr(handler, _ATTR, _UNSET)
    if seconds is _UNSET:
        return default
    assert seconds is None or isinstance(seconds, int | float)
    return seconds


class Deadlines:
    """Cancel requests that outlive their deadline; the cancellation becomes `errors.Timeout`.

    A bucket maps each running request's task to None (a dict: insertion and removal without
    an object per request); a task whose deadline passed is moved to `_expired`, which says
    whether it ran out of time or was cut at shutdown.
    """

    def __init__(self, resolution: float = 0.01) -> None:
        if not resolution > 0:
            raise ValueError(f"resolution must be positive, got {resolution!r}")
        self.resolution = resolution
        self._buckets: dict[int, Bucket] = {}
        self._expired: dict[asyncio.Task[Any], bool] = {}  # task -> cut at shutdown

    def __len__(self) -> int:
        """Requests currently running under a deadline."""
        return sum(len(bucket) for bucket in self._buckets.values())

    def arm(self, task: asyncio.Task[Any], limit: float) -> Bucket:
        """Start `task`'s deadline; pass the returned bucket to `disarm` when it is done."""
        loop = task.get_loop()
        slot = math.ceil((loop.time() + limit) / self.resolution)
        bucket = self._buckets.get(slot)
        if bucket is None:
            bucket = self._buckets[slot] = {}
            loop.call_at(slot * self.resolution, self._expire, slot)
        bucket[task] = None
        return bucket

    def disarm(self, task: asyncio.Task[Any], bucket: Bucket) -> None:
        """`task` is done (answered, failed or cancelled): forget its deadline."""
        bucket.pop(task, None)
        if self._expired:
            self._expired.pop(task, None)  # expired, yet it finished without noticing

    def check_cancelled(self, task: asyncio.Task[Any], cancelling: int, limit: float) -> None:
        """Called on CancelledError: raise `Timeout` (or the shutdown 503) if the cancel was ours.

        Ours alone, as asyncio.timeout decides: a client disconnect or a shutdown that cancelled
        the task as well (more cancel requests than `cancelling` before arming) stays a
        cancellation, and then this returns for the caller to re-raise.
        """
        cut = self._expired.pop(task, None)
        if cut is not None and task.uncancel() <= cancelling:
            if cut:
                raise ServiceUnavailable(
                    "The server is shutting down; retry the request.", retry_after=1
                ) from None
            raise Timeout(f"The request did not complete within {limit:g} s.") from None

    async def call(
        self, limit: float, request: web.Request, handler: Handler
    ) -> web.StreamResponse:
        """`await handler(request)`, cancelled with a `Timeout` after `limit` seconds."""
        task: asyncio.Task[Any] | None = asyncio.current_task()
        assert task is not None
        bucket = self.arm(task, limit)
        cancelling = task.cancelling()
        try:
            return await handler(request)
        except asyncio.CancelledError:
            self.check_cancelled(task, cancelling, limit)
            raise
        finally:
            self.disarm(task, bucket)

    def cut_all(self) -> int:
        """End every running request now with a 503 (the shutdown budget is running out).

        Better a clean, retryable answer than aiohttp cancelling the handler and dropping the
        connection. Returns how many requests were cut.
        """
        count = 0
        for slot in list(self._buckets):
            count += self._cancel(self._buckets[slot], cut=True)
        return count

    def _expire(self, slot: int) -> None:
        bucket = self._buckets.pop(slot, None)
        if bucket:
            self._cancel(bucket, cut=False)

    def _cancel(self, bucket: Bucket, *, cut: bool) -> int:
        count = 0
        for task in bucket:
            if task not in self._expired:
                self._expired[task] = cut
                task.cancel()
                count += 1
        return count
