"""Fault injection (/_sim/faults), stats (/_sim/stats), and the in-process runner."""

from __future__ import annotations

import argparse
from typing import Any

import aiohttp
import pytest

import kensho.upstream.simulator.faults as faults
from kensho.catalog import load_catalog
from kensho.upstream.simulator import DEFAULT_ACCOUNTS, SimConfig, parse_accounts, running_simulator
from kensho.upstream.simulator.cli import sim_main

from .conftest import bearer

SERIES = "/content/v2/cms/series/G6QWD3EE6"


async def _fault(sim: Any, body: Any, status: int = 201) -> Any:
    resp = await sim.post("/_sim/faults", json=body)
    assert resp.status == status, await resp.text()
    return await resp.json()


async def test_full_outage_then_clear(sim: Any) -> None:
    auth = await bearer(sim)
    fault = await _fault(sim, {"path_prefix": "/content/", "error_rate": 1.0, "status": 503})
    assert fault["status"] == 503 and fault["mode"] == "error"
    for _ in range(3):
        resp = await sim.get(SERIES, headers=auth)
        assert resp.status == 503
        assert "<title>Crunchyroll - Overloaded</title>" in await resp.text()
    # auth is outside the prefix and keeps working
    await bearer(sim)
    assert (await sim.delete("/_sim/faults")).status == 204
    assert (await sim.get(SERIES, headers=auth)).status == 200
    assert (await (await sim.get("/_sim/faults")).json()) == {"faults": []}


async def test_rate_limit_and_block_shapes(sim: Any) -> None:
    auth = await bearer(sim)
    await _fault(sim, {"path_prefix": "/content/v2/cms/series", "status": 429, "retry_after": 2})
    await _fault(sim, {"path_prefix": "/content/v2/discover", "status": 403})
    resp = await sim.get(SERIES, headers=auth)
    assert resp.status == 429 and resp.headers["Retry-After"] == "2"
    assert "Error 1015" in await resp.text()
    block = await sim.get("/content/v2/discover/browse", headers=auth)
    assert block.status == 403 and "<title>Just a moment...</title>" in await block.text()


async def test_error_rate_is_seeded(make_sim: Any) -> None:
    async def run() -> list[int]:
        sim = await make_sim(seed=7)
        auth = await bearer(sim)
        await _fault(sim, {"path_prefix": "/content/", "error_rate": 0.5, "status": 502})
        return [(await sim.get(SERIES, headers=auth)).status for _ in range(30)]

    first, second = await run(), await run()
    assert first == second
    assert set(first) == {200, 502}


async def test_latency_only(sim: Any, monkeypatch: pytest.MonkeyPatch) -> None:

    slept: list[float] = []
    real_sleep = faults.asyncio.sleep

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)
        await real_sleep(0)

    monkeypatch.setattr(faults.asyncio, "sleep", fake_sleep)
    auth = await bearer(sim)
    fault = await _fault(sim, {"path_prefix": "/content/", "latency_ms": 200})
    assert fault["error_rate"] == 0.0
    assert (await sim.get(SERIES, headers=auth)).status == 200
    assert slept == [0.2]


async def test_slow_drip_delivers_full_body(sim: Any) -> None:
    auth = await bearer(sim)
    plain = await (await sim.get(SERIES, headers=auth)).read()
    await _fault(sim, {"path_prefix": "/content/", "mode": "slow_drip", "latency_ms": 50})
    resp = await sim.get(SERIES, headers=auth)
    assert resp.status == 200 and await resp.read() == plain


async def test_reset_drops_connection(sim: Any) -> None:
    auth = await bearer(sim)
    await _fault(sim, {"path_prefix": "/content/", "mode": "reset"})
    with pytest.raises(aiohttp.ClientError):
        await sim.get(SERIES, headers=auth)
    stats = await (await sim.get("/_sim/stats")).json()
    assert stats["paths"]["/content/v2/cms/series/{id}"]["statuses"] == {"reset": 1}


async def test_stats_count_per_route_and_status(sim: Any) -> None:
    auth = await bearer(sim)
    await sim.get(SERIES, headers=auth)
    await sim.get("/content/v2/cms/series/GNOPE", headers=auth)
    await sim.get("/definitely/not/here")
    stats = await (await sim.get("/_sim/stats")).json()
    assert stats["paths"]["/content/v2/cms/series/{id}"] == {
        "count": 2,
        "statuses": {"200": 1, "404": 1},
    }
    assert stats["paths"]["/auth/v1/token"]["count"] == 1
    assert stats["paths"]["<unmatched>"]["count"] == 1
    assert stats["total"] == 4
    assert (await sim.delete("/_sim/stats")).status == 204
    assert (await (await sim.get("/_sim/stats")).json())["total"] == 0


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[1,2]",
        b'"str"',
        b"null",
        b'{"error_rate": 1.5}',
        b'{"error_rate": true}',
        b'{"status": 200}',
        b'{"status": "503"}',
        b'{"latency_ms": -1}',
        b'{"latency_ms": 1e9}',
        b'{"mode": "explode"}',
        b'{"path_prefix": "content"}',
        b'{"path_prefix": 5}',
        b'{"retry_after": -3}',
        b'{"unknown": 1}',
        b"\xff\xfe",
        b'{"path_prefix": "/' + b"a" * 300 + b'"}',
    ],
)
async def test_bad_fault_bodies_are_422(sim: Any, body: bytes) -> None:
    resp = await sim.post("/_sim/faults", data=body, headers={"Content-Type": "application/json"})
    assert resp.status == 422
    doc = await resp.json()
    assert doc["code"] == "sim.invalid_fault" and doc["context"]
    assert (await (await sim.get("/_sim/faults")).json()) == {"faults": []}


async def test_fault_count_is_bounded(make_sim: Any) -> None:
    sim = await make_sim(max_faults=2)
    await _fault(sim, {"latency_ms": 1})
    await _fault(sim, {"latency_ms": 1})
    await _fault(sim, {"latency_ms": 1}, status=422)


async def test_running_simulator_serves_on_loopback() -> None:
    async with running_simulator(SimConfig()) as base_url, aiohttp.ClientSession() as http:
        assert base_url.startswith("http://127.0.0.1:")
        async with http.get(f"{base_url}/_sim/stats") as resp:
            assert resp.status == 200


def test_parse_accounts() -> None:
    [a, b] = parse_accounts("x@y.z:pw:premium; q@y.z:pw2:free:JP")
    assert a.premium and not b.premium and b.country == "JP"
    for bad in ("nope", "x@y.z:pw:gold", "x@y.z::free", "x@y.z:pw:free:JPN", "noat:pw:free"):
        with pytest.raises(ValueError):
            parse_accounts(bad)


async def test_extra_accounts_can_log_in(make_sim: Any) -> None:

    sim = await make_sim(accounts=DEFAULT_ACCOUNTS + parse_accounts("extra@kensho.dev:pw:free"))
    await bearer(sim, username="extra@kensho.dev", password="pw")


def test_cli_rejects_bad_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    args = argparse.Namespace(host="127.0.0.1", port=0, expires_in=300)
    monkeypatch.setenv("KENSHO_SIM_ACCOUNTS", "broken")
    assert sim_main(args) == 2
    monkeypatch.delenv("KENSHO_SIM_ACCOUNTS")
    assert sim_main(argparse.Namespace(host="127.0.0.1", port=0, expires_in=0)) == 2
    assert sim_main(argparse.Namespace(host="127.0.0.1", port=0, expires_in=300, series=-1)) == 2


def test_a_small_catalog_serves_the_most_popular_series_only() -> None:
    full = load_catalog()
    small = full.head(3)
    assert small.entries == full.entries[:3]
    assert set(small.by_series_id) == {e.series_id for e in full.entries[:3]}
