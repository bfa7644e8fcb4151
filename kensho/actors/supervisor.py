"""OTP-style supervision for pykka actors: restart strategies, intensity, backoff, draining.

pykka has no supervision, so this module supplies it. A `Supervisor` lives on the event loop:
actor threads report exits through `loop.call_soon_threadsafe`, restart decisions are
coroutines, and anything that may block (a child's constructor, waiting for a stop) runs in the
loop's executor. Children start in order and stop in reverse; more than `intensity` restarts
within `period` seconds stops every child and escalates to the parent supervisor, or, at the
root, sets `failed` and calls `on_escalate`.

Over 400 lines on purpose: one state machine (start, watch, restart, escalate, drain) whose
parts share its lock and bookkeeping, checked scenario by scenario against OTP's own
`supervisor` (docs/actors.md); splitting it would spread that shared state across modules.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import pykka

from kensho.actors.base import ExitReason, KenshoActor, Ready
from kensho.actors.bridge import send_ask
from kensho.actors.handle import ActorHandle
from kensho.actors.stats import ActorStats
from kensho.errors import ActorStopped, ActorTimeout, ActorUnavailable, NotFound

__all__ = ["ChildSpec", "RestartPolicy", "Strategy", "Supervisor", "backoff_delay"]

log = logging.getLogger(__name__)

RestartPolicy = Literal["permanent", "transient", "temporary"]
Strategy = Literal["one_for_one", "one_for_all", "rest_for_one"]
_POLICIES = ("permanent", "transient", "temporary")
_STRATEGIES = ("one_for_one", "one_for_all", "rest_for_one")
_READY = Ready()


@dataclass(frozen=True, slots=True)
class ChildSpec:
    """How to build and treat one child.

    `factory()` returns a *constructed, not started* `KenshoActor` (the supervisor starts it), or
    a `Supervisor` (built once; restarting it restarts its children in place, so handles below
    it stay valid). `restart`: permanent (always restarted), transient (only after an abnormal
    exit), temporary (never, not even by a sibling's group restart). `mailbox_limit`: messages
    that may wait for this actor (None: the supervisor's default).
    """

    name: str
    factory: Callable[[], KenshoActor | Supervisor]
    restart: RestartPolicy = "permanent"
    shutdown_timeout: float = 5.0
    mailbox_limit: int | None = None

    def __post_init__(self) -> None:
        if not self.name or "/" in self.name or len(self.name) > 100:
            raise ValueError(f"invalid child name {self.name!r}: 1-100 characters, no '/'")
        if self.restart not in _POLICIES:
            raise ValueError(f"restart must be one of {_POLICIES}, not {self.restart!r}")
        if not self.shutdown_timeout > 0:
            raise ValueError("shutdown_timeout must be positive")
        if self.mailbox_limit is not None and self.mailbox_limit < 1:
            raise ValueError("mailbox_limit must be at least 1")


def backoff_delay(
    n: int, min_backoff: float, max_backoff: float, random_factor: float, u: float | None = None
) -> float:
    """Akka's restart backoff: min(max, min * 2**n) * (1 + random_factor * U), U in [0, 1)."""
    u = random.random() if u is None else u
    base = max_backoff if n >= 64 else min(max_backoff, min_backoff * 2**n)
    return float(base * (1 + random_factor * u))


class _Child:
    """The slot a child occupies: survives restarts, owns the stats and the stable handle."""

    def __init__(self, spec: ChildSpec, ask_timeout: float, stash_limit: int) -> None:
        self.spec = spec
        self.name = spec.name
        self.stats = ActorStats(spec.name)
        self.handle = ActorHandle(
            spec.name, self.stats, ask_timeout=ask_timeout, stash_limit=stash_limit
        )
        self.actor: KenshoActor | None = None
        self.sub: Supervisor | None = None
        self.sub_running = False
        self.incarnation = 0
        self.exit_fut: asyncio.Future[ExitReason] | None = None
        self.watched = 0  # the running incarnation whose exit goes straight to `_on_exit`
        self.stopping = False
        self.restart_times: collections.deque[float] = collections.deque()

    @property
    def running(self) -> bool:
        return self.sub_running if self.sub is not None else self.actor is not None


class Supervisor:
    """Starts, watches, restarts and drains an ordered list of children."""

    def __init__(
        self,
        name: str,
        children: Sequence[ChildSpec],
        *,
        strategy: Strategy = "one_for_one",
        intensity: int = 3,
        period: float = 5.0,
        min_backoff: float = 0.05,
        max_backoff: float = 5.0,
        random_factor: float = 0.2,
        ask_timeout: float = 5.0,
        stash_limit: int = 1000,
        mailbox_limit: int | None = 10_000,
        start_timeout: float = 10.0,
        watchdog_interval: float = 0.25,
        on_escalate: Callable[[Supervisor, str], None] | None = None,
    ) -> None:
        if strategy not in _STRATEGIES:
            raise ValueError(f"strategy must be one of {_STRATEGIES}, not {strategy!r}")
        if intensity < 0 or not period > 0:
            raise ValueError("intensity must be >= 0 and period > 0")
        if not 0 <= min_backoff <= max_backoff or random_factor < 0:
            raise ValueError("need 0 <= min_backoff <= max_backoff and random_factor >= 0")
        if not (ask_timeout > 0 and start_timeout > 0 and watchdog_interval > 0) or stash_limit < 0:
            raise ValueError("timeouts and the watchdog interval must be positive")
        if mailbox_limit is not None and mailbox_limit < 1:
            raise ValueError("mailbox_limit must be at least 1")
        names = [c.name for c in children]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate child names in {names}")
        self.name = name
        self.strategy: Strategy = strategy
        self.intensity = intensity
        self.period = period
        self.min_backoff = min_backoff
        self.max_backoff = max_backoff
        self.random_factor = random_factor
        self.start_timeout = start_timeout
        self.watchdog_interval = watchdog_interval
        self.on_escalate = on_escalate
        self.mailbox_limit = mailbox_limit
        self.failed = False
        self.failure_reason: str | None = None
        self._children = [_Child(spec, ask_timeout, stash_limit) for spec in children]
        self._by_name = {c.name: c for c in self._children}
        self._restart_log: collections.deque[float] = collections.deque()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._lock: asyncio.Lock | None = None
        self._stop_fut: asyncio.Future[None] | None = None
        self._watchdog_task: asyncio.Task[None] | None = None
        self._running = False
        self._stopping = False
        self._parent_exit: Callable[[ExitReason], None] | None = None

    # -- public API ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Start every child in order, each once its `on_start` has finished (a barrier).

        If a child cannot start, the ones already started are stopped and `ActorUnavailable`
        is raised.
        """
        if self._running:
            raise RuntimeError(f"supervisor {self.name} is already running")
        loop = asyncio.get_running_loop()
        self.failed, self.failure_reason, self._stopping = False, None, False
        self._lock = asyncio.Lock()
        self._stop_fut = loop.create_future()
        self._restart_log.clear()
        self._watchdog_task = loop.create_task(self._watchdog(), name=f"watchdog:{self.name}")
        started: list[_Child] = []
        for child in self._children:
            child.stats.state = "starting"
            reason = await self._start_one(child)
            if reason is not None:
                self._note_failure(child, reason)
                child.stats.state = "failed"
                log.error(
                    "%s/%s failed to start: %s",
                    self.name,
                    child.name,
                    _describe(reason),
                    exc_info=reason.error,
                )
                for done in reversed(started):
                    await self._stop_one(done, final=True)
                await self._cancel_watchdog()
                detail = f"{self.name}/{child.name} failed to start: {_describe(reason)}"
                raise ActorUnavailable(detail)
            started.append(child)
        self._running = True

    async def stop(self) -> list[str]:
        """Drain children in reverse start order, each within its shutdown_timeout.

        Returns the names of children that did not stop in time (abandoned); logs them too.
        """
        self._stopping = True
        if self._stop_fut is not None and not self._stop_fut.done():
            self._stop_fut.set_result(None)
        await self._cancel_watchdog()
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        abandoned: list[str] = []
        for child in reversed(self._children):
            abandoned += await self._stop_one(child, final=True)
        self._running = False
        if abandoned:
            log.warning("supervisor %s abandoned children: %s", self.name, ", ".join(abandoned))
        return abandoned

    async def idle(self) -> None:
        """Wait until no restart cycle runs here or in a child supervisor (tests, operators).

        Exits that actor threads have reported already are taken into account: one pass of
        the loop runs their reports first.
        """
        await asyncio.sleep(0)
        while True:
            tasks = set(self._tasks)
            for child in self._children:
                if child.sub is not None:
                    tasks |= child.sub._tasks
            if not tasks:
                return
            await asyncio.gather(*tasks, return_exceptions=True)

    def handle(self, name: str) -> ActorHandle:
        """The stable handle of a child actor; `"sub/child"` reaches into a nested supervisor."""
        head, sep, rest = name.partition("/")
        child = self._by_name.get(head)
        if child is None or (sep and not rest):
            raise NotFound(f"no actor named {name!r}")
        if rest:
            if child.sub is None:
                raise NotFound(f"{head!r} is not a supervisor")
            return child.sub.handle(rest)
        if child.sub is not None:
            raise NotFound(f"{name!r} is a supervisor, not an actor")
        return child.handle

    @property
    def children(self) -> tuple[str, ...]:
        return tuple(c.name for c in self._children)

    @property
    def child_specs(self) -> tuple[ChildSpec, ...]:
        """The children's specs in start order (deployment checks add up their timeouts)."""
        return tuple(c.spec for c in self._children)

    def snapshot(self) -> dict[str, Any]:
        """The supervision tree as JSON-able data: per actor its stats and summary()."""
        kids: list[dict[str, Any]] = []
        for c in self._children:
            if c.sub is not None:
                node = c.sub.snapshot()
                node.update(state=c.stats.state, restarts=c.stats.restarts, restart=c.spec.restart)
                kids.append(node)
            else:
                node = c.stats.snapshot()
                node.update(kind="actor", restart=c.spec.restart, summary=c.handle.summary())
                kids.append(node)
        return {
            "name": self.name,
            "kind": "supervisor",
            "strategy": self.strategy,
            "failed": self.failed,
            "failure_reason": self.failure_reason,
            "restarts_in_period": self._recent_restarts(time.monotonic()),
            "intensity": self.intensity,
            "period": self.period,
            "children": kids,
        }

    async def restart_child(self, name: str) -> None:
        """Operator restart (admin endpoint): stop then start one child; messages stash meanwhile.

        Does not count against the restart intensity.
        """
        child = self._by_name.get(name)
        if child is None:
            raise NotFound(f"no child named {name!r}")
        if not self._running or self._stopping or self.failed or self._lock is None:
            raise ActorUnavailable(f"supervisor {self.name} is not running")
        async with self._lock:
            if child.running:
                child.stats.state = "restarting"
                await self._stop_one(child, final=False)
            child.stats.state = "restarting"
            child.stats.restarts += 1
            reason = await self._start_one(child)
        if reason is not None:
            self._on_exit(child, child.incarnation, reason)

    # -- starting and stopping one child -------------------------------------------------------

    def _report_exit(self, child: _Child, incarnation: int, reason: ExitReason) -> None:
        """On the loop: the given incarnation ended (first report wins)."""
        fut = child.exit_fut
        # Not covered: the else (a late report: a replaced incarnation, or the watchdog and the
        # thread reporting one exit) is a race between threads no test can order.
        if (
            incarnation == child.incarnation and fut is not None and not fut.done()
        ):  # pragma: no branch
            fut.set_result(reason)
            if child.watched == incarnation:
                self._on_exit(child, incarnation, reason)

    def _watch(self, child: _Child, incarnation: int, exit_fut: asyncio.Future[ExitReason]) -> None:
        """From now on an exit of this (started) incarnation is handled as it is reported."""
        child.watched = incarnation
        if exit_fut.done():  # pragma: no cover - exited between its ready reply and this line
            self._on_exit(child, incarnation, exit_fut.result())

    def _threadsafe_reporter(
        self, loop: asyncio.AbstractEventLoop, child: _Child, incarnation: int
    ) -> Callable[[ExitReason], None]:
        def report(reason: ExitReason) -> None:
            with contextlib.suppress(RuntimeError):  # loop closed: the process is exiting
                loop.call_soon_threadsafe(self._report_exit, child, incarnation, reason)

        return report

    async def _start_one(self, child: _Child) -> ExitReason | None:
        """Start a new incarnation; None on success, else why it failed."""
        loop = asyncio.get_running_loop()
        child.incarnation += 1
        inc = child.incarnation
        exit_fut: asyncio.Future[ExitReason] = loop.create_future()
        child.exit_fut = exit_fut
        child.stopping = False
        try:
            obj = (
                child.sub
                if child.sub is not None
                else await loop.run_in_executor(None, child.spec.factory)
            )
        except Exception as exc:
            return ExitReason(abnormal=True, kind="start_failed", error=exc)
        if self._stopping:
            return ExitReason(abnormal=False, kind="stopped")
        if isinstance(obj, Supervisor):
            child.sub = obj
            obj._parent_exit = lambda reason: self._report_exit(child, inc, reason)
            try:
                await obj.start()
            except Exception as exc:
                return ExitReason(abnormal=True, kind="start_failed", error=exc)
            child.sub_running = True
            child.stats.state = "running"
            child.stats.started_at = time.monotonic()
            self._watch(child, inc, exit_fut)
            return None
        if not isinstance(obj, KenshoActor):
            error = TypeError(f"factory of {child.name} returned {type(obj).__name__}")
            return ExitReason(abnormal=True, kind="start_failed", error=error)
        obj.stats.name = child.name
        limit = child.spec.mailbox_limit or self.mailbox_limit
        obj.bind(child.stats, self._threadsafe_reporter(loop, child, inc), limit)
        obj.launch()
        child.actor = obj
        ready: asyncio.Future[Any] = loop.create_future()
        send_ask(obj, _READY, ready, bounded=False)
        await asyncio.wait(
            {ready, exit_fut}, timeout=self.start_timeout, return_when="FIRST_COMPLETED"
        )
        if ready.done() and ready.exception() is None:
            child.stats.state = "running"
            child.stats.started_at = time.monotonic()
            child.handle._attach(obj)
            self._watch(child, inc, exit_fut)
            return None
        child.actor = None
        if obj.actor_ref.is_alive():
            obj.stop()  # a tell: never blocks; a wedged on_start is abandoned
        if exit_fut.done():
            ready.cancel()
            return exit_fut.result()
        error_: BaseException
        if ready.done():  # pragma: no cover - on_start failed but its exit report is not in yet
            error_ = ready.exception() or ActorStopped("stopped in on_start")
        else:
            ready.cancel()
            error_ = ActorTimeout(f"on_start did not finish within {self.start_timeout:g} s")
        return ExitReason(abnormal=True, kind="start_failed", error=error_)

    async def _stop_one(self, child: _Child, *, final: bool) -> list[str]:
        """Stop the current incarnation; returns the names abandoned after their timeout."""
        child.stopping = True
        if child.sub is not None:
            if not child.sub_running:  # only a final stop reaches a child that is not running
                child.stats.state = "stopped"
                return []
            if final:
                child.stats.state = "stopping"
            abandoned = await child.sub.stop()
            child.sub_running = False
            if final:
                child.stats.state = "stopped"
            return [f"{child.name}/{name}" for name in abandoned]
        actor = child.actor
        child.actor = None
        child.handle._detach()
        if final:
            child.stats.state = "stopping"
            child.handle._fail_stash(ActorStopped(f"{child.name} is stopped"))
        if actor is None:  # only a final stop reaches a child that is not running
            child.stats.state = "stopped"
            return []
        loop = asyncio.get_running_loop()
        actor.stop_requested.set()  # long work (an index build) checks it and gives up
        stopped = await loop.run_in_executor(None, _stop_actor, actor, child.spec.shutdown_timeout)
        if final:
            child.stats.state = "stopped"
        if not stopped:
            log.warning(
                "%s/%s did not stop within %g s", self.name, child.name, child.spec.shutdown_timeout
            )
            return [child.name]
        return []

    # -- reacting to exits ---------------------------------------------------------------------

    def _on_exit(self, child: _Child, incarnation: int, reason: ExitReason) -> None:
        if incarnation != child.incarnation or child.stopping or self._stopping or self.failed:
            return
        if child.actor is not None:  # a dead thread reports nothing itself: fail its asks
            child.actor.mailbox.close()
        child.actor = None
        child.sub_running = False
        child.handle._detach()
        self._note_failure(child, reason)
        policy = child.spec.restart
        if policy == "temporary" or (policy == "transient" and not reason.abnormal):
            child.stats.state = "failed" if reason.abnormal else "stopped"
            child.handle._fail_stash(ActorUnavailable(f"{child.name} is {child.stats.state}"))
            log.info(
                "%s/%s exited (%s); %s, not restarted", self.name, child.name, reason.kind, policy
            )
            return
        child.stats.state = "restarting"
        log.warning("%s/%s exited (%s); restarting", self.name, child.name, _describe(reason))
        self._spawn(self._restart(child, incarnation))

    def _note_failure(self, child: _Child, reason: ExitReason) -> None:
        # "failure" was recorded by the actor itself, with the original exception; a child
        # supervisor's "shutdown" is a normal exit that still says why it gave up.
        if (reason.abnormal or reason.error is not None) and reason.kind != "failure":
            child.stats.record_failure(reason.error, reason.kind)

    def _targets(self, child: _Child) -> list[_Child]:
        if self.strategy == "one_for_all":
            return list(self._children)
        if self.strategy == "rest_for_one":
            return self._children[self._children.index(child) :]
        return [child]

    def _recent_restarts(self, now: float) -> int:
        while self._restart_log and self._restart_log[0] < now - self.period:
            self._restart_log.popleft()
        return len(self._restart_log)

    async def _restart(self, child: _Child, incarnation: int) -> None:
        """One restart cycle for `child`'s exit (its `incarnation`), under the lock.

        As OTP: if an earlier cycle (a group restart for a sibling that failed at the same
        time) has restarted this child already, there is nothing left to do and no restart is
        counted; every running target is stopped before any starts, so no replaced
        incarnation keeps running; `temporary` targets are stopped and never started again.
        """
        assert self._lock is not None and self._stop_fut is not None
        async with self._lock:
            if child.incarnation != incarnation or child.running:
                return
            while not (self._stopping or self.failed):
                now = time.monotonic()
                self._restart_log.append(now)
                if self._recent_restarts(now) > self.intensity:
                    why = f"{child.name}: more than {self.intensity} restarts in {self.period:g} s"
                    await self._escalate(why)
                    return
                targets = self._targets(child)
                for target in reversed(targets):
                    if target.running:
                        target.stats.state = "restarting"
                        await self._stop_one(target, final=False)
                for target in targets:
                    if target.spec.restart == "temporary" and target is not child:
                        self._retire(target)
                targets = [t for t in targets if t.spec.restart != "temporary"]
                while child.restart_times and child.restart_times[0] < now - self.period:
                    child.restart_times.popleft()
                delay = backoff_delay(
                    len(child.restart_times), self.min_backoff, self.max_backoff, self.random_factor
                )
                child.restart_times.append(now)
                for target in targets:
                    target.stats.state = "backing_off"
                await asyncio.wait({self._stop_fut}, timeout=delay)
                if self._stopping:
                    return
                failed: tuple[_Child, ExitReason] | None = None
                for target in targets:
                    target.stats.state = "restarting"
                    target.stats.restarts += 1
                    reason = await self._start_one(target)
                    if reason is not None:
                        failed = (target, reason)
                        break
                if failed is None:
                    return
                child, reason = failed
                self._note_failure(child, reason)
                log.warning(
                    "%s/%s failed to restart: %s",
                    self.name,
                    child.name,
                    _describe(reason),
                    exc_info=reason.error,
                )

    def _retire(self, child: _Child) -> None:
        """A temporary child stopped by a group restart: it stays stopped (OTP removes it)."""
        if child.stats.state in ("stopped", "failed"):
            return
        child.stats.state = "stopped"
        child.handle._fail_stash(ActorStopped(f"{child.name} is stopped"))
        log.info(
            "%s/%s stopped by a group restart; temporary, not restarted", self.name, child.name
        )

    async def _escalate(self, why: str) -> None:
        log.error("supervisor %s gives up: %s", self.name, why)
        self.failed = True
        self.failure_reason = why
        for child in reversed(self._children):
            await self._stop_one(child, final=True)
            child.stats.state = "failed"
            child.handle._fail_stash(ActorUnavailable(f"{child.name} failed: {why}"))
        self._running = False
        await self._cancel_watchdog()
        parent = self._parent_exit
        if parent is not None:
            # As OTP: a supervisor that gives up exits with reason `shutdown`, a normal exit
            # for its parent (a transient spec is then not restarted; a permanent one is).
            parent(ExitReason(abnormal=False, kind="shutdown", error=ActorUnavailable(why)))
        elif self.on_escalate is not None:
            self.on_escalate(self, why)

    async def _cancel_watchdog(self) -> None:
        task, self._watchdog_task = self._watchdog_task, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        # Not covered: a restart cycle catches what its steps raise; this log is the last
        # resort for a bug in the supervisor itself, which no test can provoke honestly.
        if not task.cancelled() and task.exception() is not None:  # pragma: no cover
            log.error("supervisor %s task failed", self.name, exc_info=task.exception())

    async def _watchdog(self) -> None:
        """Notice actor threads that died without a stop request (nothing else reports those)."""
        while True:
            await asyncio.sleep(self.watchdog_interval)
            for child in self._children:
                actor = child.actor
                if (
                    actor is None
                    or child.stopping
                    or child.exit_fut is None
                    or child.exit_fut.done()
                ):
                    continue
                thread = actor.thread
                if thread is not None and not thread.is_alive():
                    error = RuntimeError("actor thread died without a stop request")
                    self._report_exit(
                        child, child.incarnation, ExitReason(True, "thread_died", error)
                    )


def _stop_actor(actor: KenshoActor, timeout: float) -> bool:
    """Blocking (run in an executor): stop and join; False when it did not finish in time."""
    deadline = time.monotonic() + timeout
    if actor.thread is not None and not actor.thread.is_alive():
        return True
    try:
        actor.actor_ref.stop(block=True, timeout=timeout)
    except pykka.Timeout:
        return False
    thread = actor.thread
    if thread is not None:
        thread.join(max(0.0, deadline - time.monotonic()))
        return not thread.is_alive()
    return True


def _describe(reason: ExitReason) -> str:
    if reason.error is None:
        return reason.kind
    return f"{reason.kind}: {type(reason.error).__name__}: {reason.error}"
