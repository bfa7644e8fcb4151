"""What travels to an actor, and the bound on how much may wait.

Every message the bridge sends is a `Letter`: the message, the time it was posted (for the
time-in-mailbox statistic) and, for an ask, a `Reply` that completes an `asyncio.Future` on the
event loop through `loop.call_soon_threadsafe`. Letters go through pykka's public `tell`, so the
reply channel needs nothing private from pykka.

pykka's inbox is an unbounded queue and its `put` would block a full bounded one (on the event
loop, or for pykka's own stop message), so the bound is kept here, before the letter is posted:
`Mailbox.admit` counts letters in, the actor counts them out, and beyond `limit` waiting letters
the sender gets `MailboxFull` (503) at once. When the incarnation ends, `close` fails every ask
still waiting in it with `ActorStopped`, so none is left to run out its timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kensho.errors import ActorError, ActorStopped, MailboxFull

if TYPE_CHECKING:
    from opentelemetry.context import Context

    from kensho.actors.stats import ActorStats

__all__ = ["Letter", "Mailbox", "Reply"]

#: Called on the loop with a reply nobody waits for any more (e.g. a permit to hand back).
Orphan = Callable[[Any], None]


def _deliver(reply: Reply, value: Any) -> None:
    fut = reply.fut
    if not fut.done():
        fut.set_result(value)
    elif reply.on_orphan is not None:
        reply.on_orphan(value)


def _deliver_error(fut: asyncio.Future[Any], exc: BaseException) -> None:
    if not fut.done():
        fut.set_exception(exc)


class Reply:
    """The reply channel of one ask: completes `fut` on its loop; never blocks the actor."""

    __slots__ = ("fut", "loop", "on_orphan")

    def __init__(self, fut: asyncio.Future[Any], on_orphan: Orphan | None = None) -> None:
        self.fut = fut
        self.loop = fut.get_loop()
        self.on_orphan = on_orphan

    def abandoned(self) -> bool:
        """True once the asker stopped waiting (timeout, cancellation, a failure sent to it).

        Read on the actor thread: `done()` only reads the future's state, and a stale False
        merely means the message runs and its reply is dropped (or handed to `on_orphan`).
        """
        return self.fut.done()

    def set(self, value: Any) -> None:
        self._call(_deliver, self, value)

    def fail(self, exc: BaseException) -> None:
        self._call(_deliver_error, self.fut, exc)

    def _call(self, fn: Callable[..., None], *args: Any) -> None:
        # A closed loop raises RuntimeError: nobody is waiting any more.
        with contextlib.suppress(RuntimeError):
            self.loop.call_soon_threadsafe(fn, *args)


class Letter:
    """One message in an actor's inbox; `reply` is None for a tell.

    `context` is the sender's trace context (None when tracing is off): contextvars do not
    cross threads, so the letter carries it to the actor thread.
    """

    __slots__ = ("context", "message", "posted_ns", "reply")

    def __init__(self, message: Any, reply: Reply | None, context: Context | None = None) -> None:
        self.message = message
        self.reply = reply
        self.context = context
        self.posted_ns = time.perf_counter_ns()

    def __repr__(self) -> str:
        kind = "ask" if self.reply is not None else "tell"
        return f"Letter({kind} {type(self.message).__name__})"


class Mailbox:
    """Counts and bounds one incarnation's waiting letters; fails its asks when it closes.

    `admit`/`withdraw`/`close` may run on any thread (under a lock); `took` only on the actor's
    thread, which is therefore the only writer of `_taken`.
    """

    def __init__(self, limit: int | None = None, stats: ActorStats | None = None) -> None:
        if limit is not None and limit < 1:
            raise ValueError("a mailbox limit must be at least 1")
        self.limit = limit
        self.stats = stats
        self._lock = threading.Lock()
        self._posted = 0
        self._taken = 0
        self._waiting: set[Reply] = set()
        self._closed: ActorError | None = None

    def depth(self) -> int:
        """Letters posted and not yet taken by the actor."""
        return max(0, self._posted - self._taken)

    def admit(self, reply: Reply | None, *, bounded: bool = True) -> None:
        """Count a letter in; `MailboxFull` beyond the limit, the close error once closed.

        `bounded=False` is for letters that were already admitted once (a replayed stash).
        """
        with self._lock:
            if self._closed is not None:
                raise type(self._closed)(str(self._closed))
            limit = self.limit
            if bounded and limit is not None and self._posted - self._taken >= limit:
                if self.stats is not None:
                    self.stats.mailbox_rejected += 1
                raise MailboxFull(f"mailbox full ({limit} messages waiting)", retry_after=1)
            self._posted += 1
            if reply is not None:
                self._waiting.add(reply)

    def withdraw(self, reply: Reply | None) -> None:
        """Undo `admit` for a letter that could not be posted after all."""
        with self._lock:
            self._posted -= 1
            if reply is not None:
                self._waiting.discard(reply)

    def took(self, reply: Reply | None) -> None:
        """The actor took a letter out (actor thread only)."""
        self._taken += 1
        if reply is not None:
            with self._lock:
                self._waiting.discard(reply)

    def close(self, error: ActorError | None = None) -> None:
        """No more letters; fail every ask still waiting in here (idempotent)."""
        error = error or ActorStopped("the actor stopped before handling the message")
        with self._lock:
            if self._closed is None:
                self._closed = error
            waiting, self._waiting = self._waiting, set()
        for reply in waiting:
            reply.fail(type(error)(str(error)))

    @property
    def closed(self) -> bool:
        return self._closed is not None
