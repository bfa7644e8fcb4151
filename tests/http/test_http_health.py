"""Liveness, readiness (per dependency, cached, degraded, draining)."""

from __future__ import annotations

import asyncio

from aiohttp import web
from httpkit import MakeClient, StandInSupervisor
from prometheus_client.parser import text_string_to_metric_families

from kensho.http import keys
from kensho.http.readiness import ReadinessCheck, ReadinessRegistry


async def test_live_reports_loop_lag(make_client: MakeClient) -> None:
    client = await make_client()
    resp = await client.get("/health/live")
    assert resp.status == 200
    body = await resp.json()
    assert body["status"] == "ok" and body["loop_lag_ms"] >= 0 and body["uptime_s"] >= 0


async def test_ready_lists_dependencies(make_client: MakeClient) -> None:
    client = await make_client()
    resp = await client.get("/health/ready")
    assert resp.status == 200
    body = await resp.json()
    assert body["status"] == "ready"
    assert body["checks"]["actors"]["status"] == "ok"
    assert body["checks"]["actors"]["required"] is True
    assert body["checks"]["actors"]["latency_ms"] >= 0


async def test_escalated_root_makes_ready_fail(
    make_client: MakeClient, supervisor: StandInSupervisor
) -> None:
    client = await make_client(ready_cache_seconds=0)
    supervisor.failed = True
    resp = await client.get("/health/ready")
    assert resp.status == 503
    body = await resp.json()
    assert body["status"] == "not_ready"
    assert body["checks"]["actors"]["status"] == "failing"
    assert (await client.get("/health/live")).status == 200


def _add_check(app: web.Application, check: ReadinessCheck) -> None:
    app[keys.READINESS].add(check)


async def test_optional_failure_is_degraded_with_200(make_client: MakeClient) -> None:
    async def down() -> None:
        raise ConnectionRefusedError("redis://:password@10.0.0.1 refused")

    client = await make_client(lambda app: _add_check(app, ReadinessCheck("redis", False, down)))
    resp = await client.get("/health/ready")
    assert resp.status == 200
    body = await resp.json()
    assert body["status"] == "degraded"
    assert body["checks"]["redis"] == body["checks"]["redis"] | {
        "status": "failing",
        "required": False,
        "error": "ConnectionRefusedError",
    }
    assert "password" not in await resp.text()


async def test_results_are_cached(make_client: MakeClient) -> None:
    calls = 0

    async def probe() -> None:
        nonlocal calls
        calls += 1

    client = await make_client(
        lambda app: _add_check(app, ReadinessCheck("db", True, probe)), ready_cache_seconds=60
    )
    for _ in range(5):
        assert (await client.get("/health/ready")).status == 200
    assert calls == 1


async def test_uncached_when_cache_is_zero(make_client: MakeClient) -> None:
    calls = 0

    async def probe() -> None:
        nonlocal calls
        calls += 1

    client = await make_client(
        lambda app: _add_check(app, ReadinessCheck("db", True, probe)), ready_cache_seconds=0
    )
    for _ in range(3):
        await client.get("/health/ready")
    assert calls == 3


async def test_concurrent_probes_share_one_evaluation() -> None:
    gate = asyncio.Event()
    calls = 0

    async def probe() -> None:
        nonlocal calls
        calls += 1
        await gate.wait()

    registry = ReadinessRegistry(cache_seconds=0)
    registry.add(ReadinessCheck("db", True, probe))
    waiters = [asyncio.ensure_future(registry.evaluate()) for _ in range(10)]
    await asyncio.sleep(0)
    gate.set()
    reports = await asyncio.gather(*waiters)
    assert calls == 1 and registry.evaluations == 1
    assert all(r is reports[0] and r.status == "ready" for r in reports)


async def test_hung_check_times_out() -> None:
    async def hang() -> None:
        await asyncio.Event().wait()

    registry = ReadinessRegistry(cache_seconds=0)
    registry.add(ReadinessCheck("upstream", True, hang, timeout=0.01))
    report = await registry.evaluate()
    assert report.status == "not_ready"
    assert report.checks[0].error == "no answer within 0.01s"


async def test_cache_expires_on_the_clock() -> None:
    now = [100.0]
    calls = 0

    async def probe() -> None:
        nonlocal calls
        calls += 1

    registry = ReadinessRegistry(cache_seconds=1.0, clock=lambda: now[0])
    registry.add(ReadinessCheck("db", True, probe))
    await registry.evaluate()
    now[0] += 0.5
    await registry.evaluate()
    assert calls == 1
    now[0] += 0.6
    await registry.evaluate()
    assert calls == 2


async def test_draining_is_503_but_live_stays_200(make_client: MakeClient) -> None:
    client = await make_client()
    client.app[keys.LIFECYCLE].begin_draining()  # what SIGTERM does first
    resp = await client.get("/health/ready")
    assert resp.status == 503
    assert (await resp.json())["status"] == "shutting_down"
    assert (await client.get("/health/live")).status == 200


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def test_metrics_show_the_last_readiness_evaluation_per_check(
    make_client: MakeClient,
) -> None:
    up = {"redis": True}

    async def redis() -> None:
        if not up["redis"]:
            raise ConnectionRefusedError

    client = await make_client(
        lambda app: _add_check(app, ReadinessCheck("redis", False, redis)), ready_cache_seconds=0
    )
    before = _samples(await (await client.get("/metrics")).text())
    assert ("readiness_ready", ()) not in before  # nothing evaluated yet: no claim either way
    assert before[("readiness_transitions_total", ())] == 0
    await client.get("/health/ready")
    up["redis"] = False
    await client.get("/health/ready")
    after = _samples(await (await client.get("/metrics")).text())
    assert after[("readiness_check_ok", (("check", "redis"), ("required", "false")))] == 0
    assert after[("readiness_check_ok", (("check", "actors"), ("required", "true")))] == 1
    assert after[("readiness_ready", ())] == 1  # degraded still takes traffic
    assert after[("readiness_transitions_total", ())] == 0


async def test_readiness_flips_are_counted_and_draining_is_not_ready(
    make_client: MakeClient, supervisor: StandInSupervisor
) -> None:
    client = await make_client(ready_cache_seconds=0)
    for failed in (False, True, False, True):
        supervisor.failed = failed
        await client.get("/health/ready")
    samples = _samples(await (await client.get("/metrics")).text())
    assert samples[("readiness_transitions_total", ())] == 3
    assert samples[("readiness_ready", ())] == 0
    supervisor.failed = False
    await client.get("/health/ready")
    client.app[keys.LIFECYCLE].begin_draining()
    samples = _samples(await (await client.get("/metrics")).text())
    assert samples[("readiness_ready", ())] == 0  # the last evaluation was ready, but draining
