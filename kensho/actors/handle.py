"""`ActorHandle`: the stable address of a supervised actor (ARCHITECTURE rule 4).

A restarted pykka actor gets a new `ActorRef`, so callers never keep refs: they keep the
handle, which the supervisor re-points at each new incarnation. While the child is (re)starting
the handle stashes messages, bounded by `stash_limit`, and replays them in order once the new
actor is ready; a full stash fails fast with `ActorUnavailable` (503).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
from typing import TYPE_CHECKING, Any

from kensho.actors.bridge import await_reply, post, send_ask
from kensho.actors.mailbox import Orphan
from kensho.actors.stats import ActorStats
from kensho.errors import ActorError, ActorStopped, ActorUnavailable
from kensho.observability.timings import ACTOR_ASK, timed
from kensho.observability.tracing import capture_context

if TYPE_CHECKING:
    from opentelemetry.context import Context

    from kensho.actors.base import KenshoActor

__all__ = ["ActorHandle"]

_STASHING = frozenset({"starting", "restarting", "backing_off"})
#: (message, the asker's future or None for a tell, on_orphan, the sender's trace context)
_Stashed = tuple[Any, "asyncio.Future[Any] | None", "Orphan | None", "Context | None"]


class ActorHandle:
    """Ask or tell the current incarnation of one supervised actor; stash while it restarts."""

    def __init__(
        self, name: str, stats: ActorStats, *, ask_timeout: float, stash_limit: int
    ) -> None:
        self.name = name
        self._stats = stats
        self._ask_timeout = ask_timeout
        self._stash_limit = stash_limit
        self._stash: collections.deque[_Stashed] = collections.deque()
        self._actor: KenshoActor | None = None
        self._last_view: Any = None
        self._ask_time = ACTOR_ASK.labels(name)

    # -- callers ------------------------------------------------------------------------------

    async def ask(
        self,
        message: Any,
        timeout: float | None = None,  # noqa: ASYNC109
        *,
        on_orphan: Orphan | None = None,
    ) -> Any:
        """Ask the current incarnation (or stash while it restarts).

        Raises ActorTimeout, MailboxFull, ActorUnavailable, ActorStopped, or what `handle()`
        raised. An ask that times out is skipped by the actor if it has not started on it; a
        reply that arrives anyway goes to `on_orphan` (e.g. to hand back a permit).
        """
        timeout = self._ask_timeout if timeout is None else timeout
        if not timeout > 0:
            raise ValueError("an ask needs a positive timeout")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        fut: asyncio.Future[Any] = loop.create_future()
        actor = self._actor
        if actor is not None:
            send_ask(actor, message, fut, on_orphan=on_orphan)
        else:
            self._enqueue(message, fut, on_orphan)
        try:
            return await timed(self._ask_time, await_reply(fut, timeout, on_orphan))
        except ActorStopped:
            # The incarnation died with the message unhandled; if a restart is coming, wait for it.
            if self._stats.state not in _STASHING and self._stats.state != "running":
                raise
        retry: asyncio.Future[Any] = loop.create_future()
        self._enqueue(message, retry, on_orphan)
        return await await_reply(retry, max(deadline - loop.time(), 1e-6), on_orphan)

    def tell(self, message: Any) -> None:
        """Fire and forget; stashed while restarting; ActorUnavailable when it cannot queue,
        MailboxFull when too many messages wait already."""
        actor = self._actor
        if actor is not None:
            try:
                post(actor, message, None)
            except ActorStopped:
                pass
            else:
                return
        self._enqueue(message, None, None)

    @property
    def view(self) -> Any:
        """The latest view the current incarnation published, or None (no mailbox hop).

        Each read is counted (`view_reads`): the actor's real load, which its processed
        messages do not show."""
        self._stats.view_reads += 1
        actor = self._actor
        return actor.view if actor is not None else None

    @property
    def last_view(self) -> Any:
        """The current incarnation's view, else the last one any incarnation published.

        For readers that may serve a slightly older view while the actor restarts or
        rebuilds after a restart (search keeps answering from the previous index). Counted as
        `view` is.
        """
        self._stats.view_reads += 1
        actor = self._actor
        view = actor.view if actor is not None else None
        return view if view is not None else self._last_view

    def stats(self) -> dict[str, Any]:
        return self._stats.snapshot()

    def summary(self) -> dict[str, Any]:
        actor = self._actor
        if actor is None:
            return {}
        try:
            return actor.summary()
        except Exception as exc:  # a broken summary must not break /admin/actors
            return {"error": f"{type(exc).__name__}: {exc}"}

    # -- supervisor side ----------------------------------------------------------------------

    def _enqueue(
        self, message: Any, fut: asyncio.Future[Any] | None, on_orphan: Orphan | None
    ) -> None:
        state = self._stats.state
        # "running" with no live ref: the exit report is on its way to the supervisor, which
        # will either replay the stash to a new incarnation or fail it.
        if state not in _STASHING and state != "running":
            error: ActorError = (
                ActorStopped(f"{self.name} is stopped")
                if state in ("stopping", "stopped")
                else ActorUnavailable(f"{self.name} is {state}")
            )
            raise error
        if len(self._stash) >= self._stash_limit:
            raise ActorUnavailable(f"{self.name} is restarting and its stash is full")
        self._stash.append((message, fut, on_orphan, capture_context()))
        self._stats.stashed = len(self._stash)

    def _attach(self, actor: KenshoActor) -> None:
        """Point at a ready incarnation and replay the stash in order (on the loop, atomically).

        Replayed messages were admitted into the stash already: the mailbox bound is not
        applied to them a second time.
        """
        while self._stash:
            message, fut, on_orphan, context = self._stash.popleft()
            if fut is None:
                with contextlib.suppress(ActorStopped):  # died already: its exit is reported
                    post(actor, message, None, bounded=False, context=context)
            elif not fut.done():
                send_ask(actor, message, fut, on_orphan=on_orphan, bounded=False, context=context)
        self._stats.stashed = 0
        self._actor = actor

    def _detach(self) -> None:
        """The incarnation is gone; until `_attach`, messages stash or fail by state."""
        self._last_view = self.last_view
        self._actor = None

    def _fail_stash(self, error: ActorError) -> None:
        while self._stash:
            _message, fut, _orphan, _context = self._stash.popleft()
            if fut is not None and not fut.done():
                fut.set_exception(error)
        self._stats.stashed = 0
