"""`KenshoActor`: a pykka thread actor with a `handle()` method, out-of-band stats and a view.

The actor boundary catches `BaseException` (including `asyncio.CancelledError` and
`SystemExit`): pykka would otherwise stop *every* actor in the process (ARCHITECTURE rule 5).
Here such an exception fails only this actor, and its supervisor restarts it.
"""

from __future__ import annotations

import collections
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any

import pykka

from kensho.actors.stats import ActorStats
from kensho.errors import ActorUnavailable

if TYPE_CHECKING:
    from pykka._envelope import Envelope

__all__ = ["ExitReason", "KenshoActor", "Ready"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ExitReason:
    """Why an actor incarnation ended; crosses from the actor thread to the event loop."""

    abnormal: bool
    kind: str  # "failure", "start_failed", "thread_died", "stopped", "escalated"
    error: BaseException | None = None


@dataclass(frozen=True, slots=True)
class Ready:
    """Start barrier: answered once `on_start` has finished. Not counted in the stats."""


class _StampedInbox(queue.Queue["Envelope[Any]"]):
    """A pykka inbox that stamps each envelope, so the actor knows its time in the mailbox.

    `_put`/`_get` are the hooks `queue.Queue` offers subclasses (as `LifoQueue` uses); they run
    under the queue's lock. Only the actor thread calls `get`, so `last_wait_ns` and
    `current_is_ask` describe the message being handled.
    """

    def _init(self, maxsize: int) -> None:
        self.queue: collections.deque[tuple[int, Envelope[Any]]] = collections.deque()
        self.last_wait_ns = 0
        self.current_is_ask = False

    def _put(self, item: Envelope[Any]) -> None:
        self.queue.append((time.perf_counter_ns(), item))

    def _get(self) -> Envelope[Any]:
        stamp, item = self.queue.popleft()
        self.last_wait_ns = time.perf_counter_ns() - stamp
        self.current_is_ask = item.reply_to is not None
        return item


class KenshoActor(pykka.ThreadingActor):
    """Base of every Kenshō actor: implement `handle(message)`; optionally `summary()`.

    Subclasses that override `on_failure` or `on_stop` must call `super()`: those hooks tell the
    supervisor that this incarnation ended.
    """

    use_daemon_thread = True

    def __init__(self) -> None:
        super().__init__()
        self.stats = ActorStats(type(self).__name__)
        self.stats.inbox = self.actor_inbox  # type: ignore[assignment]
        self.thread: threading.Thread | None = None
        self._view: Any = None
        self._exit_hook: Callable[[ExitReason], None] | None = None
        self._exit_reported = False
        self._boundary_error: BaseException | None = None

    # -- pykka plumbing -----------------------------------------------------------------------

    @staticmethod
    def _create_actor_inbox() -> _StampedInbox:
        return _StampedInbox()

    def _start_actor_loop(self) -> None:
        # As pykka's, but keeps the thread so the supervisor's watchdog can see it die.
        thread = threading.Thread(
            target=self._actor_loop,
            name=f"{type(self).__name__}-actor",
            daemon=self.use_daemon_thread,
        )
        self.thread = thread
        thread.start()

    def bind(self, stats: ActorStats, exit_hook: Callable[[ExitReason], None]) -> None:
        """Attach the supervisor's stats and exit notification. Call before `launch()`."""
        self.stats = stats
        stats.inbox = self.actor_inbox  # type: ignore[assignment]
        self._exit_hook = exit_hook

    def launch(self) -> pykka.ActorRef[Any]:
        """Register and start an already constructed actor (what `Actor.start()` does)."""
        pykka.ActorRegistry.register(self.actor_ref)
        self._start_actor_loop()
        return self.actor_ref

    # -- the boundary -------------------------------------------------------------------------

    def on_receive(self, message: Any) -> Any:
        if type(message) is Ready:
            return None
        inbox: _StampedInbox = self.actor_inbox  # type: ignore[assignment]
        wait_ns = inbox.last_wait_ns
        t0 = time.perf_counter_ns()
        try:
            result = self.handle(message)
        except Exception:
            self.stats.record(time.perf_counter_ns() - t0, wait_ns, ok=False)
            raise
        except BaseException as exc:  # rule 5: fail this actor only
            self.stats.record(time.perf_counter_ns() - t0, wait_ns, ok=False)
            self._fail_at_boundary(exc, is_ask=inbox.current_is_ask)
        self.stats.record(time.perf_counter_ns() - t0, wait_ns, ok=True)
        return result

    def _fail_at_boundary(self, exc: BaseException, *, is_ask: bool) -> None:
        self._boundary_error = exc
        error = ActorUnavailable(f"{self.stats.name} failed: {type(exc).__name__}")
        if is_ask:
            # pykka keeps an actor alive after an ask fails; this failure must stop it.
            log.error("%s failed at the actor boundary", self, exc_info=exc)
            self.on_failure(type(exc), exc, exc.__traceback__)
            pykka.ActorRegistry.unregister(self.actor_ref)
            self.actor_stopped.set()
        # For an ask the asker receives `error`; after a tell pykka runs on_failure and stops.
        raise error from exc

    def handle(self, message: Any) -> Any:
        """Handle one message; the return value goes to an asker. Override this."""
        raise TypeError(f"{type(self).__name__} cannot handle {type(message).__name__}")

    # -- hooks --------------------------------------------------------------------------------

    def on_failure(
        self,
        exception_type: type[BaseException] | None,
        exception_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        exc = self._boundary_error or exception_value
        self._report_exit(ExitReason(abnormal=True, kind="failure", error=exc))

    def on_stop(self) -> None:
        self._report_exit(ExitReason(abnormal=False, kind="stopped"))

    def _report_exit(self, reason: ExitReason) -> None:
        if self._exit_reported:
            return
        self._exit_reported = True
        if reason.abnormal:
            self.stats.record_failure(reason.error, reason.kind)
        hook = self._exit_hook
        if hook is not None:
            hook(reason)

    # -- out-of-band reads --------------------------------------------------------------------

    def publish(self, view: Any) -> None:
        """Replace the read-only view that handlers read without a mailbox hop (rule 3).

        Publish immutable values (or a dict only this actor writes); readers never lock.
        """
        self._view = view

    @property
    def view(self) -> Any:
        return self._view

    def summary(self) -> dict[str, Any]:
        """Domain statistics for `/admin/actors`; read from other threads, so keep it cheap."""
        return {}
