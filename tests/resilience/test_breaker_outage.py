"""Full upstream outage: the breaker opens, fails fast, cached reads go on, and it recovers."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from auth.kit import ADMIN, DEMO, bearer, episodes

from kensho.actors.breaker import BreakerView, GetView
from kensho.composition.services import child_handle
from kensho.errors import CircuitOpen
from kensho.upstream.breaker import BreakerConfig, BreakerState

pytestmark = pytest.mark.usefixtures("redis_client")

OUTAGE_BREAKER = BreakerConfig(
    window_size=4,
    minimum_calls=4,
    failure_rate_threshold=50,
    wait_in_open=30.0,
    permitted_calls_in_half_open=1,
    max_wait_in_half_open=0,
)


def _handle(app: Any, name: str) -> Any:
    handle = child_handle(app, name)
    assert handle is not None
    return handle


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def _upstream_requests(kit: Any) -> int:
    """Requests the simulator has served (its own `/_sim/` routes are not counted)."""
    async with kit.upstream.session.get(f"{kit.sim_url}/_sim/stats") as r:
        total: int = (await r.json())["total"]
    return total


async def _view(kit: Any) -> BreakerView:
    view: BreakerView = await _handle(kit.app, "breaker").ask(GetView())
    return view


async def test_outage_opens_fails_fast_serves_cache_and_recovers(make_kit: Any) -> None:
    free1, free2, _ = episodes()
    clock = FakeClock()
    async with make_kit(breaker=OUTAGE_BREAKER, breaker_clock=clock) as kit:
        token = await kit.login(DEMO)
        cached = await kit.client.get(f"/api/episodes/{free1}/stream", headers=bearer(token))
        assert cached.status == 200

        await kit.fault(status=503, error_rate=1.0)
        for _ in range(4):
            resp = await kit.client.get(f"/api/episodes/{free2}/stream", headers=bearer(token))
            assert resp.status == 503
        view = await _view(kit)
        assert view.state is BreakerState.OPEN

        # fail fast: refused from the published view, with no ask (no thread hop, nothing in
        # the breaker's mailbox) and no upstream request; how fast that is: bench/ask.py
        breaker = _handle(kit.app, "breaker")
        asks, rejected = kit.gate.asks, kit.gate.rejected
        processed = breaker.stats()["processed"]
        upstream_calls = await _upstream_requests(kit)
        with pytest.raises(CircuitOpen) as caught:
            await kit.gate.acquire_permit()
        assert caught.value.retry_after is not None and caught.value.retry_after > 0
        assert (kit.gate.asks, kit.gate.rejected) == (asks, rejected + 1)
        fast = await kit.client.get(f"/api/episodes/{free2}/stream", headers=bearer(token))
        assert fast.status == 503
        assert (kit.gate.asks, kit.gate.rejected) == (asks, rejected + 2)
        assert breaker.stats()["processed"] == processed
        assert await _upstream_requests(kit) == upstream_calls
        assert int(fast.headers["Retry-After"]) >= 1
        assert (await fast.json())["type"].endswith("/circuit-open")
        login = await kit.client.post(
            "/api/auth/login", json={"username": DEMO[0], "password": DEMO[1]}
        )
        assert login.status == 503

        # reads the cache (or the session store) can answer still work
        again = await kit.client.get(f"/api/episodes/{free1}/stream", headers=bearer(token))
        assert again.status == 200
        assert (await kit.client.get("/api/auth/me", headers=bearer(token))).status == 200

        ready = await kit.client.get("/health/ready")
        assert (await ready.json())["status"] == "degraded"
        metrics = await (await kit.client.get("/metrics")).text()
        assert 'breaker_state{state="open"} 1.0' in metrics
        assert 'breaker_transitions_total{from_state="closed",to_state="open"} 1.0' in metrics
        # window of 4 = login, play, manifest successes then failures: opens at 2 of 4 failed
        assert 'breaker_calls_total{outcome="failure"} 2.0' in metrics
        assert 'breaker_calls_total{outcome="rejected"} 0.0' not in metrics

        # the upstream recovers; time passes; the next call probes and closes the breaker
        await kit.clear_faults()
        clock.now += 31
        probe = await kit.client.get(f"/api/episodes/{free2}/stream", headers=bearer(token))
        assert probe.status == 200
        view = await _view(kit)
        assert view.state is BreakerState.CLOSED
        assert ("open", "half_open") in view.transitions
        assert ("half_open", "closed") in view.transitions


async def test_admin_override_forced_open_and_auto(make_kit: Any) -> None:
    free1, _, _ = episodes()
    async with make_kit() as kit:
        token = await kit.login(DEMO)
        admin = {"Authorization": f"Bearer {ADMIN}"}
        denied = await kit.client.post("/admin/breaker", json={"mode": "forced_open"})
        assert denied.status == 401
        for bad in ({"mode": "off"}, {"mode": 1}, {}, {"mode": "auto", "x": 1}, ["auto"]):
            resp = await kit.client.post("/admin/breaker", json=bad, headers=admin)
            assert resp.status == 422, bad
        resp = await kit.client.post("/admin/breaker", json={"mode": "forced_open"}, headers=admin)
        assert resp.status == 200
        assert (await resp.json())["state"] == "forced_open"
        blocked = await kit.client.get(f"/api/episodes/{free1}/stream", headers=bearer(token))
        assert blocked.status == 503 and "Retry-After" in blocked.headers
        resp = await kit.client.post("/admin/breaker", json={"mode": "disabled"}, headers=admin)
        assert (await resp.json())["state"] == "disabled"
        resp = await kit.client.post("/admin/breaker", json={"mode": "auto"}, headers=admin)
        assert (await resp.json())["state"] == "closed"
        ok = await kit.client.get(f"/api/episodes/{free1}/stream", headers=bearer(token))
        assert ok.status == 200


async def test_shutdown_with_upstream_calls_in_flight(make_kit: Any) -> None:
    """Closing the app while upstream calls wait: each finishes or fails cleanly, none hangs."""
    free1, _, _ = episodes()
    async with make_kit() as kit:
        token = await kit.login(DEMO)
        await kit.fault(latency_ms=300)
        calls = [
            asyncio.ensure_future(
                kit.client.get(f"/api/episodes/{free1}/stream", headers=bearer(token))
            )
            for _ in range(3)
        ]
        await asyncio.sleep(0)  # let them start
        started = time.perf_counter()
        async with asyncio.timeout(15):
            await kit.client.close()
            results = await asyncio.gather(*calls, return_exceptions=True)
        assert time.perf_counter() - started < 15
        for result in results:
            if isinstance(result, BaseException):
                assert isinstance(result, Exception)  # a clean client-side error, not a hang
            else:
                assert result.status in (200, 503)
