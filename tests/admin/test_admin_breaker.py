"""The breaker's admin face without a running breaker: overrides refused, readiness and metrics
still answer (a process whose breaker actor is down must not fail its scrape)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from kensho.actors.breaker import BreakerView
from kensho.admin.breaker import BreakerCollector, BreakerControl
from kensho.errors import ServiceUnavailable
from kensho.upstream.breaker import BreakerState


def view(state: BreakerState) -> BreakerView:
    return BreakerView(
        state=state,
        epoch=1,
        open_until=0.0,
        retry_after=None,
        failure_rate=0.0,
        slow_call_rate=0.0,
        buffered_calls=0,
        calls={"success": 3, "rejected": 2},
        transitions={("closed", "open"): 1},
        mode="auto",
    )


def control(state: BreakerState | None) -> BreakerControl:
    handle = SimpleNamespace(view=view(state) if state is not None else None)
    return BreakerControl(handle, None)  # type: ignore[arg-type]


async def test_an_override_without_a_breaker_is_a_503() -> None:
    with pytest.raises(ServiceUnavailable, match="not running"):
        await BreakerControl(None, None).override("disabled")


@pytest.mark.parametrize("state", [None, BreakerState.CLOSED, BreakerState.HALF_OPEN])
async def test_readiness_passes_unless_the_breaker_is_open(state: BreakerState | None) -> None:
    await control(state).probe()


@pytest.mark.parametrize("state", [BreakerState.OPEN, BreakerState.FORCED_OPEN])
async def test_readiness_reports_an_open_breaker(state: BreakerState) -> None:
    with pytest.raises(RuntimeError, match=f"upstream breaker {state.value}"):
        await control(state).probe()


def test_metrics_without_a_view_are_empty_families() -> None:
    families = list(BreakerCollector(control(None)).collect())
    assert [f.name for f in families] == ["breaker_state", "breaker_transitions", "breaker_calls"]
    assert all(f.samples == [] for f in families)


def test_metrics_without_a_gate_count_only_the_actors_rejections() -> None:
    families = {f.name: f for f in BreakerCollector(control(BreakerState.OPEN)).collect()}
    calls = {s.labels["outcome"]: s.value for s in families["breaker_calls"].samples}
    assert calls == {"success": 3.0, "rejected": 2.0}
    states = {s.labels["state"]: s.value for s in families["breaker_state"].samples}
    assert states["open"] == 1.0 and sum(states.values()) == 1.0
