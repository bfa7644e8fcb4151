"""Circuit breaker actor for the Crunchyroll API, and the `PermitGate` the client calls.

The actor owns one `CircuitBreaker` (resilience4j model, `kensho.upstream.breaker`) and, after
every message, publishes an immutable `BreakerView` (ARCHITECTURE rule 3). `BreakerGate` reads
that view on the event loop: an OPEN or FORCED_OPEN breaker rejects with no thread hop, and a
CLOSED or DISABLED one grants the permit locally and reports the outcome by `tell`. Only the
time-driven and rationed states (OPEN whose wait is over, HALF_OPEN) ask the actor.

Restarts: the operator's override (disabled, forced_open) is kept in a `BreakerMemory` that
belongs to the child spec, not to the actor, and a new incarnation re-applies it (and logs so);
the measured state (windows, OPEN/HALF_OPEN) starts afresh, CLOSED, as after a deploy.
An `Acquire` whose asker timed out is skipped unexecuted; a permit granted just as the asker
gave up is handed back (`Record`, IGNORED), so no half-open permit or outstanding call leaks.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from kensho.actors.base import KenshoActor
from kensho.actors.handle import ActorHandle
from kensho.actors.supervisor import ChildSpec
from kensho.config import Config
from kensho.errors import ActorError, CircuitOpen, ServiceUnavailable
from kensho.upstream.breaker import (
    BreakerConfig,
    BreakerSnapshot,
    BreakerState,
    CircuitBreaker,
    Outcome,
    Permit,
    Transition,
)

__all__ = [
    "Acquire",
    "BreakerActor",
    "BreakerGate",
    "BreakerMemory",
    "BreakerView",
    "Override",
    "OverrideMode",
    "Record",
    "RecordLocal",
    "breaker_config",
    "child_spec",
]

log = logging.getLogger(__name__)

OverrideMode = Literal["auto", "disabled", "forced_open"]
#: Permits granted from the view carry this id; the actor counts them on `RecordLocal`.
LOCAL_PERMIT_ID = -1
_FAST_STATES = frozenset({BreakerState.CLOSED, BreakerState.DISABLED})


# -- messages (frozen: they cross threads) ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class Acquire:
    """Ask for a permit (OPEN past its wait, HALF_OPEN); raises `CircuitOpen` when refused."""


@dataclass(frozen=True, slots=True)
class Record:
    """Tell how a call permitted by the actor ended."""

    permit: Permit
    outcome: Outcome
    duration: float


@dataclass(frozen=True, slots=True)
class RecordLocal:
    """Tell how a call permitted from the view (in `epoch`) ended."""

    epoch: int
    outcome: Outcome
    duration: float


@dataclass(frozen=True, slots=True)
class Override:
    """Admin override; answered with the new `BreakerView`."""

    mode: OverrideMode


@dataclass(frozen=True, slots=True)
class GetView:
    """Apply due time-driven transitions and answer the fresh view."""


@dataclass(frozen=True, slots=True)
class BreakerView:
    """What handlers read without a mailbox hop; replaced (never mutated) by the actor."""

    state: BreakerState
    epoch: int
    #: monotonic time the OPEN wait ends (0 when not OPEN)
    open_until: float
    retry_after: float | None
    failure_rate: float
    slow_call_rate: float
    buffered_calls: int
    calls: Mapping[str, int]
    transitions: Mapping[tuple[str, str], int]
    mode: OverrideMode
    last_transition: str | None = None
    at: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "state": self.state.value,
            "mode": self.mode,
            "failure_rate": None if self.failure_rate < 0 else round(self.failure_rate / 100, 4),
            "slow_call_rate": (
                None if self.slow_call_rate < 0 else round(self.slow_call_rate / 100, 4)
            ),
            "buffered_calls": self.buffered_calls,
            "retry_after": self.retry_after,
            "calls": dict(self.calls),
            "transitions": sum(self.transitions.values()),
            "last_transition": self.last_transition,
        }


@dataclass(slots=True)
class BreakerMemory:
    """What survives a restart of the breaker actor: the operator's override.

    One per supervised slot (made by `child_spec`); only the running incarnation writes it.
    """

    mode: OverrideMode = "auto"


def breaker_config(config: Config) -> BreakerConfig:
    """The breaker's settings from `KENSHO_BREAKER_*`."""
    return BreakerConfig(
        window_size=config.breaker_window_size,
        minimum_calls=min(config.breaker_minimum_calls, config.breaker_window_size),
        failure_rate_threshold=config.breaker_failure_rate,
        slow_call_duration=max(config.upstream_timeout, 0.001),
        wait_in_open=config.breaker_wait_in_open,
        max_wait_in_open=max(config.breaker_max_wait_in_open, config.breaker_wait_in_open),
        permitted_calls_in_half_open=config.breaker_half_open_calls,
    )


class BreakerActor(KenshoActor):
    """Owns the `CircuitBreaker`; never does I/O (rule 2)."""

    def __init__(
        self,
        config: Config,
        *,
        breaker: BreakerConfig | None = None,
        clock: Callable[[], float] = time.monotonic,
        name: str = "crunchyroll",
        memory: BreakerMemory | None = None,
    ) -> None:
        super().__init__()
        self.config = config
        self._clock = clock
        self._transitions: dict[tuple[str, str], int] = {}
        self._last: str | None = None
        self._memory = memory if memory is not None else BreakerMemory()
        self._mode: OverrideMode = "auto"
        self.breaker = CircuitBreaker(
            breaker or breaker_config(config), name=name, listener=self._on_transition
        )
        self._refresh()

    def _on_transition(self, t: Transition) -> None:
        key = (t.from_state.value, t.to_state.value)
        self._transitions[key] = self._transitions.get(key, 0) + 1
        self._last = f"{t.from_state.value} -> {t.to_state.value}: {t.reason}"

    def _refresh(self) -> BreakerView:
        now = self._clock()
        snap: BreakerSnapshot = self.breaker.snapshot(now)
        open_until = now + (snap.retry_after or 0.0) if snap.state is BreakerState.OPEN else 0.0
        view = BreakerView(
            state=snap.state,
            epoch=self.breaker._epoch,
            open_until=open_until,
            retry_after=snap.retry_after,
            failure_rate=snap.failure_rate,
            slow_call_rate=snap.slow_call_rate,
            buffered_calls=snap.buffered_calls,
            calls=MappingProxyType(dict(snap.calls)),
            transitions=MappingProxyType(dict(self._transitions)),
            mode=self._mode,
            last_transition=self._last,
            at=now,
        )
        self.publish(view)
        return view

    def setup(self) -> None:
        mode = self._memory.mode
        if mode != "auto":
            log.warning(
                "breaker %s: re-applying the operator's override %r", self.breaker.name, mode
            )
            self._override(mode, self._clock())
        self._refresh()

    def handle(self, message: Any) -> Any:
        now = self._clock()
        try:
            if isinstance(message, Acquire):
                return self.breaker.acquire(now)
            if isinstance(message, Record):
                self.breaker.record(message.permit, message.outcome, message.duration, now)
                return None
            if isinstance(message, RecordLocal):
                self._record_local(message, now)
                return None
            if isinstance(message, Override):
                self._override(message.mode, now)
                return self._refresh()
            if isinstance(message, GetView):
                return self._refresh()
            raise TypeError(f"BreakerActor cannot handle {type(message).__name__}")
        finally:
            self._refresh()

    def _record_local(self, msg: RecordLocal, now: float) -> None:
        """Count a view-granted call: only if the breaker is still in the granting epoch."""
        if self.breaker.state(now) not in _FAST_STATES:
            return
        permit = self.breaker.acquire(now)  # a fast state always grants
        outcome = msg.outcome if permit.epoch == msg.epoch else Outcome.IGNORED
        self.breaker.record(permit, outcome, msg.duration, now)

    def _override(self, mode: OverrideMode, now: float) -> None:
        self._mode = self._memory.mode = mode
        if mode == "disabled":
            self.breaker.disable(now)
        elif mode == "forced_open":
            self.breaker.force_open(now)
        else:
            self.breaker.reset(now)

    def summary(self) -> dict[str, Any]:
        view = self.view
        return view.as_dict() if isinstance(view, BreakerView) else {}


def child_spec(config: Config, name: str = "breaker", **deps: Any) -> ChildSpec:
    """`deps`: optional `breaker` (BreakerConfig) and `clock` (tests drive time with them).

    The spec owns the slot's `BreakerMemory`, so an override outlives the actor's restarts.
    """
    kwargs = {k: v for k, v in deps.items() if k in ("breaker", "clock")}
    memory = BreakerMemory()
    return ChildSpec(
        name,
        lambda: BreakerActor(config, memory=memory, **kwargs),
        restart="permanent",
        shutdown_timeout=5.0,
    )


@dataclass(slots=True)
class BreakerGate:
    """The production `PermitGate`: fail fast from the view, ask the actor only when needed.

    Built unbound (it then permits everything, like `NoopGate`) because the HTTP client opens
    before the actor tree; `bind(handle)` attaches the breaker once the tree runs.
    """

    clock: Callable[[], float] = time.monotonic
    handle: ActorHandle | None = None
    asks: int = field(default=0)
    #: calls refused from the view (the actor never sees them; metrics add them to "rejected")
    rejected: int = field(default=0)

    def bind(self, handle: ActorHandle | None) -> None:
        self.handle = handle

    @property
    def view(self) -> BreakerView | None:
        handle = self.handle
        view = handle.view if handle is not None else None
        return view if isinstance(view, BreakerView) else None

    async def acquire_permit(self) -> Permit:
        handle = self.handle
        if handle is None:
            return Permit(LOCAL_PERMIT_ID, -1, BreakerState.DISABLED)
        view = self.view
        if view is not None:
            if view.state in _FAST_STATES:
                return Permit(LOCAL_PERMIT_ID, view.epoch, view.state)
            if view.state is BreakerState.FORCED_OPEN:
                self.rejected += 1
                raise CircuitOpen(
                    "the upstream circuit is forced open", retry_after=view.retry_after
                )
            now = self.clock()
            if view.state is BreakerState.OPEN and now < view.open_until:
                self.rejected += 1
                raise CircuitOpen("the upstream circuit is open", retry_after=view.open_until - now)
        self.asks += 1
        permit: Permit = await handle.ask(Acquire(), on_orphan=self._hand_back)
        return permit

    def _hand_back(self, permit: Any) -> None:
        """A permit granted after its asker gave up: return it unused (IGNORED)."""
        handle = self.handle
        if handle is None or not isinstance(permit, Permit):
            return
        try:
            handle.tell(Record(permit, Outcome.IGNORED, 0.0))
        except ActorError:  # restarting with a full stash: the new incarnation has no such permit
            log.debug("breaker: an unused permit could not be handed back")

    async def record(self, permit: Permit, outcome: Outcome, duration: float) -> None:
        handle = self.handle
        if handle is None or permit.epoch < 0:
            return
        message: Record | RecordLocal = (
            RecordLocal(permit.epoch, outcome, duration)
            if permit.id == LOCAL_PERMIT_ID
            else Record(permit, outcome, duration)
        )
        try:
            handle.tell(message)
        except ActorError:  # restarting with a full stash: losing one outcome is harmless
            log.debug("breaker outcome dropped: the actor is unavailable")

    async def override(self, mode: OverrideMode) -> BreakerView:
        if self.handle is None:
            raise ServiceUnavailable("the breaker is not running")
        view: BreakerView = await self.handle.ask(Override(mode))
        return view
