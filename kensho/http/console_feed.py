"""The operator console's live feed: one state snapshot per tick, fanned out to every listener.

One task per app takes the snapshot (the supervision tree is read from each actor's published
statistics, never through a mailbox) and encodes it once; each subscriber holds only the latest
encoding (a queue of one that a newer tick overwrites), so a slow reader costs memory for one
snapshot, not a backlog. The task runs only while someone listens. `close()` (at shutdown)
hands every subscriber `None`, which ends its stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson

__all__ = ["TICK", "ConsoleFeed", "Subscription"]

log = logging.getLogger(__name__)

#: Seconds between snapshots: an actor restart reaches an open console within one tick.
TICK = 0.5

#: What a subscriber reads: the next encoded snapshot, or None when the feed closed.
Subscription = asyncio.Queue[bytes | None]


class ConsoleFeed:
    """Snapshots from `state()` every `interval` seconds, to each current subscriber."""

    def __init__(self, state: Callable[[], Any], interval: float = TICK) -> None:
        if not interval > 0:
            raise ValueError(f"interval must be positive, got {interval!r}")
        self._state = state
        self.interval = interval
        self._subscribers: set[Subscription] = set()
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        #: snapshots taken
        self.ticks = 0
        #: set while nobody listens (and the ticking task is stopped)
        self.idle = asyncio.Event()
        self.idle.set()

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    @property
    def closed(self) -> bool:
        return self._closed

    @contextlib.asynccontextmanager
    async def subscribe(self) -> AsyncIterator[Subscription]:
        """A subscription for the duration of the block; the first snapshot comes at once."""
        queue: Subscription = asyncio.Queue(maxsize=1)
        if self._closed:
            queue.put_nowait(None)
            yield queue
            return
        queue.put_nowait(self._encode())
        self._subscribers.add(queue)
        self.idle.clear()
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="console-feed")
        try:
            yield queue
        finally:
            self._subscribers.discard(queue)
            if not self._subscribers:
                if self._task is not None:
                    self._task.cancel()
                    self._task = None
                self.idle.set()

    async def close(self) -> None:
        """End every stream (graceful shutdown) and stop ticking; new subscribers get None."""
        self._closed = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for queue in self._subscribers:
            _replace(queue, None)

    def _encode(self) -> bytes:
        self.ticks += 1
        return orjson.dumps(self._state(), option=orjson.OPT_NON_STR_KEYS)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                data = self._encode()
            except Exception:
                log.exception("console feed: the state snapshot failed")
                continue
            for queue in self._subscribers:
                _replace(queue, data)


def _replace(queue: Subscription, item: bytes | None) -> None:
    """Put `item`, dropping an unread older one: readers want the latest state only."""
    if queue.full():
        queue.get_nowait()
    queue.put_nowait(item)
