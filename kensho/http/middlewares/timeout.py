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
from typing import TypeVar

from aiohttp import web

from kensho.errors import ServiceUnavailable, Timeout
from kensho.http.middlewares.base import Handler

__all__ = ["Deadlines", "deadline", "deadline_of"]

_ATTR = "__kensho_deadline__"
_F = TypeVar("_F", bound=Callable[..., object])
_UNSET = object()


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


class _Armed:
    __slots__ = ("cut", "expired", "task")

    def __init__(self, task: asyncio.Task[object]) -> None:
        self.task = task
        self.expired = False
        self.cut = False


class Deadlines:
    """Cancel requests that outlive their deadline; the cancellation becomes `errors.Timeout`."""

    def __init__(self, resolution: float = 0.01) -> None:
        if not resolution > 0:
            raise ValueError(f"resolution must be positive, got {resolution!r}")
        self.resolution = resolution
        self._buckets: dict[int, set[_Armed]] = {}

    def __len__(self) -> int:
        """Requests currently running under a deadline."""
        return sum(len(bucket) for bucket in self._buckets.values())

    async def call(
        self, limit: float, request: web.Request, handler: Handler
    ) -> web.StreamResponse:
        """`await handler(request)`, cancelled with a `Timeout` after `limit` seconds."""
        task = asyncio.current_task()
        assert task is not None
        loop = task.get_loop()
        slot = math.ceil((loop.time() + limit) / self.resolution)
        bucket = self._buckets.get(slot)
        if bucket is None:
            bucket = self._buckets[slot] = set()
            loop.call_at(slot * self.resolution, self._expire, slot)
        armed = _Armed(task)
        bucket.add(armed)
        cancelling = task.cancelling()
        try:
            return await handler(request)
        except asyncio.CancelledError:
            # Ours alone (as asyncio.timeout decides): a client disconnect or a shutdown that
            # cancelled the task as well stays a cancellation.
            if armed.expired and task.uncancel() <= cancelling:
                if armed.cut:
                    raise ServiceUnavailable(
                        "The server is shutting down; retry the request.", retry_after=1
                    ) from None
                raise Timeout(f"The request did not complete within {limit:g} s.") from None
            raise
        finally:
            bucket.discard(armed)

    def cut_all(self) -> int:
        """End every running request now with a 503 (the shutdown budget is running out).

        Better a clean, retryable answer than aiohttp cancelling the handler and dropping the
        connection. Returns how many requests were cut.
        """
        count = 0
        for slot in list(self._buckets):
            for armed in self._buckets.pop(slot, ()):
                armed.expired = armed.cut = True
                armed.task.cancel()
                count += 1
        return count

    def _expire(self, slot: int) -> None:
        for armed in self._buckets.pop(slot, ()):
            armed.expired = True
            armed.task.cancel()
