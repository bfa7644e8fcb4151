"""`KenshoActor`: a pykka thread actor with a `handle()` method, out-of-band stats and a view.

The actor boundary catches `BaseException` (including `asyncio.CancelledError` and
`SystemExit`): pykka would otherwise stop *every* actor in the process (ARCHITECTURE rule 5).
Here such an exception fails only this actor, and its supervisor restarts it. The boundary
covers `setup()` too: pykka logs an exception from `on_start` and stops the actor without
calling `on_failure`, so without it the supervisor would only learn that the actor stopped.

Messages arrive as `Letter`s (`kensho.actors.mailbox`) through pykka's public `tell`; an ask's
`Reply` rides inside. An ask whose asker has already given up (timed out, cancelled) is skipped
unexecuted: a late `Acquire` must not take a breaker permit nobody will return. A message that
reports something that already happened elsewhere (an upstream token was rotated, a stream
opened) sets the class attribute `run_if_abandoned = True`: it is recorded all the same.
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar

import pykka

from kensho.actors._pykka import start_constructed
from kensho.actors.mailbox import Letter, Mailbox, Reply
from kensho.actors.stats import ActorStats
from kensho.errors import ActorStopped, ActorUnavailable
from kensho.observability import tracing

if TYPE_CHECKING:
    from opentelemetry.context import Context
    from opentelemetry.trace import Span

__all__ = ["ExitReason", "KenshoActor", "Ready", "ReplyLater"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ExitReason:
    """Why an actor incarnation ended; crosses from the actor thread to the event loop."""

    abnormal: bool
    kind: str  # "failure", "start_failed", "thread_died", "stopped", "shutdown" (gave up)
    error: BaseException | None = None


@dataclass(frozen=True, slots=True)
class ReplyLater:
    """Returned by `handle()` to answer when `future` completes, without blocking the actor.

    For work the actor hands to the event loop (`asyncio.run_coroutine_threadsafe`): the actor
    thread goes on with the next message at once, and the asker gets the coroutine's result
    (or exception) when it is done. After a tell, a failure is logged.
    """

    future: concurrent.futures.Future[Any]


@dataclass(frozen=True, slots=True)
class Ready:
    """Start barrier: answered once `on_start` has finished. Not counted in the stats."""


@dataclass(frozen=True, slots=True)
class _WarmUp:
    """Runs `warm_up()` right after the start barrier, as if it had been told."""


class KenshoActor(pykka.ThreadingActor):
    """Base of every Kenshō actor: implement `handle(message)`; optionally `setup()`, `summary()`.

    Subclasses that override `on_failure` or `on_stop` must call `super()`: those hooks tell the
    supervisor that this incarnation ended. `on_start` and `on_receive` are the boundary and
    may not be overridden (use `setup` and `handle`).
    """

    use_daemon_thread = True
    _BOUNDARY: ClassVar[tuple[str, ...]] = ("on_start", "on_receive")

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name in cls._BOUNDARY:
            if name in vars(cls):
                raise TypeError(f"{cls.__name__} overrides {name}: implement setup()/handle()")

    def __init__(self) -> None:
        super().__init__()
        self.stats = ActorStats(type(self).__name__)
        self.mailbox = Mailbox(stats=self.stats)
        self.stats.mailbox = self.mailbox
        self.thread: threading.Thread | None = None
        #: set by the supervisor before it stops this actor: long work should check it
        self.stop_requested = threading.Event()
        self._view: Any = None
        self._exit_hook: Callable[[ExitReason], None] | None = None
        self._exit_reported = False
        self._boundary_error: BaseException | None = None
        #: the trace span of the message being handled (tracing on; actor thread only)
        self._span: Span | None = None

    # -- starting -----------------------------------------------------------------------------

    def bind(
        self,
        stats: ActorStats,
        exit_hook: Callable[[ExitReason], None],
        mailbox_limit: int | None = None,
    ) -> None:
        """Attach the supervisor's stats, exit notification and mailbox bound; before `launch`."""
        self.stats = stats
        self.mailbox.stats = stats
        self.mailbox.limit = mailbox_limit
        stats.mailbox = self.mailbox
        self._exit_hook = exit_hook

    def launch(self) -> pykka.ActorRef[Any]:
        """Register and start an already constructed actor (what `Actor.start()` does)."""
        return start_constructed(self)

    def on_start(self) -> None:
        self.thread = threading.current_thread()  # the watchdog checks that it stays alive
        try:
            self.setup()
        except BaseException as exc:  # an Exception, or rule 5: fail this actor only
            self._report_exit(ExitReason(abnormal=True, kind="start_failed", error=exc))
            # pykka logs this (the cause chained) and stops the actor; it catches Exception.
            raise ActorUnavailable(f"{self.stats.name} failed to start") from exc

    def setup(self) -> None:
        """Runs on the actor's thread before the first message (pykka's `on_start`).

        Keep it quick: the supervisor's start waits for it (`start_timeout`). Slow
        initialisation belongs in `warm_up`.
        """

    def warm_up(self) -> None:
        """Runs on the actor's thread right after the start barrier was answered: slow
        initialisation (building an index) that must not hold up the supervisor's start.
        Messages wait in the mailbox meanwhile; an exception fails the actor, as after a tell.
        """

    # -- the boundary -------------------------------------------------------------------------

    def on_receive(self, message: Any) -> Any:
        if type(message) is Letter and message.context is not None:
            return self._receive_traced(message, message.context)
        return self._receive(message)

    def _receive_traced(self, letter: Letter, context: Context) -> Any:
        """`_receive` inside the message's span (tracing on): a child of the sender's context,
        current on this thread while `handle()` runs, so work it hands to the loop
        (`ReplyLater`) continues the trace. The span ends just before the reply is sent (when
        a `ReplyLater` settles, for those), so the asker's span never ends before it."""
        wait_ns = time.perf_counter_ns() - letter.posted_ns
        started = tracing.actor_span(context, self.stats.name, letter.message, wait_ns)
        if started is None:  # tracing was switched off meanwhile
            return self._receive(letter)
        self._span, token = started
        error: BaseException | None = None
        try:
            return self._receive(letter)
        except BaseException as exc:
            error = exc
            raise
        finally:
            tracing.detach(token)
            if self._span is not None:  # a tell, a skipped ask, or an escaping error
                self._end_span(error)

    def _end_span(
        self,
        error: BaseException | None = None,
        later: concurrent.futures.Future[Any] | None = None,
    ) -> None:
        """End the current message's span now, or when `later` completes."""
        span, self._span = self._span, None
        assert span is not None
        if later is None:
            tracing.end_span(span, error)
        else:
            later.add_done_callback(lambda done: tracing.end_span(span, _error_of(done)))

    def _receive(self, message: Any) -> Any:
        if type(message) is not Letter:  # a plain pykka tell from outside the bridge
            return self._handle_tell(message, 0)
        reply = message.reply
        self.mailbox.took(reply)
        wait_ns = time.perf_counter_ns() - message.posted_ns
        if reply is None:
            return self._handle_tell(message.message, wait_ns)
        if reply.abandoned() and not getattr(message.message, "run_if_abandoned", False):
            self.stats.expired += 1  # the asker gave up: running it would only waste work
            return None
        if type(message.message) is Ready:
            if self._span is not None:  # the barrier's span ends here: the warm-up is a job
                self._end_span()
            reply.set(None)
            self._warm_up(wait_ns)
            return None
        t0 = time.perf_counter_ns()
        try:
            result = self._dispatch(message.message)
        except Exception as exc:  # an ask's failure goes back to the asker; the actor lives
            self.stats.record(time.perf_counter_ns() - t0, wait_ns, ok=False)
            if self._span is not None:
                self._end_span(exc)
            reply.fail(exc)
            return None
        except BaseException as exc:  # rule 5: fail this actor only
            self.stats.record(time.perf_counter_ns() - t0, wait_ns, ok=False)
            error = self._boundary(exc)
            if self._span is not None:
                self._end_span(exc)
            reply.fail(error)
            raise error from exc
        self.stats.record(time.perf_counter_ns() - t0, wait_ns, ok=True)
        if type(result) is ReplyLater:
            if self._span is not None:  # registered first: it runs before the reply is settled
                self._end_span(later=result.future)
            result.future.add_done_callback(lambda done: _settle(reply, done))
        else:
            if self._span is not None:
                self._end_span()
            reply.set(result)
        return None

    def _warm_up(self, wait_ns: int) -> None:
        """Run `warm_up()` as if it had been told; one that does work (an index build) is a
        job with its own root trace, linked to whoever started this incarnation (an admin
        restart's request), not a child of it (tracing on)."""
        if type(self).warm_up is KenshoActor.warm_up:
            self._handle_tell(_WarmUp(), wait_ns)
            return
        with tracing.job_span(f"{self.stats.name} warm_up", actor=self.stats.name):
            self._handle_tell(_WarmUp(), wait_ns)

    def _handle_tell(self, message: Any, wait_ns: int) -> None:
        t0 = time.perf_counter_ns()
        try:
            result = self._dispatch(message)
        except Exception:  # after a tell pykka runs on_failure and stops the actor (rule 5)
            self.stats.record(time.perf_counter_ns() - t0, wait_ns, ok=False)
            raise
        except BaseException as exc:
            self.stats.record(time.perf_counter_ns() - t0, wait_ns, ok=False)
            raise self._boundary(exc) from exc
        self.stats.record(time.perf_counter_ns() - t0, wait_ns, ok=True)
        if type(result) is ReplyLater:
            if self._span is not None:
                self._end_span(later=result.future)
            result.future.add_done_callback(lambda done: _settle(None, done, self.stats.name))

    def _boundary(self, exc: BaseException) -> ActorUnavailable:
        """A BaseException becomes an ordinary one that pykka treats as this actor's failure."""
        self._boundary_error = exc
        error = ActorUnavailable(f"{self.stats.name} failed: {type(exc).__name__}")
        error.__cause__ = exc  # before the asker can see it (`raise … from` sets it too late)
        return error

    def handle(self, message: Any) -> Any:
        """Handle one message; the return value goes to an asker. Override this."""
        raise TypeError(f"{type(self).__name__} cannot handle {type(message).__name__}")

    def _dispatch(self, message: Any) -> Any:
        if type(message) is _WarmUp:
            return self.warm_up()
        return self.handle(message)

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
        # Asks still queued behind this point would wait out their timeout: fail them now.
        self.mailbox.close(ActorStopped(f"{self.stats.name} stopped before handling the message"))

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


def _error_of(done: concurrent.futures.Future[Any]) -> BaseException | None:
    return ActorStopped("the work was cancelled") if done.cancelled() else done.exception()


def _settle(reply: Reply | None, done: concurrent.futures.Future[Any], name: str = "actor") -> None:
    """Answer an ask from a `ReplyLater` future (on whichever thread completed it)."""
    if done.cancelled():
        error: BaseException | None = ActorStopped("the work was cancelled")
    else:
        error = done.exception()
    if reply is None:
        if error is not None:
            log.error("%s: work handed off after a tell failed", name, exc_info=error)
    elif error is not None:
        reply.fail(error)
    else:
        reply.set(done.result())
