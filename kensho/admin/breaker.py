"""`BreakerControl`: the upstream breaker's state, operator override, metrics and readiness."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from kensho.actors.breaker import BreakerGate, BreakerView, Override, OverrideMode
from kensho.actors.handle import ActorHandle
from kensho.errors import ServiceUnavailable
from kensho.upstream.breaker import BreakerState

__all__ = ["BreakerCollector", "BreakerControl", "OverrideMode"]


class BreakerControl:
    """Reads the breaker actor's published view; overrides go through its handle."""

    def __init__(self, handle: ActorHandle | None, gate: BreakerGate | None) -> None:
        self.handle = handle
        self.gate = gate

    def view(self) -> BreakerView | None:
        """The published state, or None when there is no breaker (or it has not started)."""
        view = self.handle.view if self.handle is not None else None
        return view if isinstance(view, BreakerView) else None

    async def override(self, mode: OverrideMode) -> BreakerView:
        """Force the breaker `auto`, `disabled` or `forced_open`; the view after it."""
        if self.handle is None:
            raise ServiceUnavailable("The upstream breaker is not running.")
        view: BreakerView = await self.handle.ask(Override(mode))
        return view

    async def probe(self) -> None:
        """Readiness: an open breaker is *degraded* (cached reads still work)."""
        view = self.view()
        if view is not None and view.state.value in ("open", "forced_open"):
            raise RuntimeError(f"upstream breaker {view.state.value}")


class BreakerCollector(Collector):
    """breaker_state, breaker_transitions_total, breaker_calls_total{outcome} at scrape time."""

    def __init__(self, control: BreakerControl) -> None:
        self._control = control

    def collect(self) -> Iterable[Metric]:
        state = GaugeMetricFamily(
            "breaker_state", "1 for the upstream breaker's current state", labels=["state"]
        )
        transitions = CounterMetricFamily(
            "breaker_transitions", "Breaker state transitions", labels=["from_state", "to_state"]
        )
        calls = CounterMetricFamily(
            "breaker_calls", "Upstream calls by outcome", labels=["outcome"]
        )
        view = self._control.view()
        if view is not None:
            for name in BreakerState:
                state.add_metric([name.value], 1.0 if view.state == name else 0.0)
            for (before, after), count in view.transitions.items():
                transitions.add_metric([before, after], float(count))
            gate = self._control.gate
            for outcome, count in view.calls.items():
                fast = gate.rejected if gate is not None and outcome == "rejected" else 0
                calls.add_metric([outcome], float(count + fast))
        return [state, transitions, calls]
