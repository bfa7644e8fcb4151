"""Ask round trip through the bridge from the event loop: asks/s, latency, loop lag.

Run: `.venv/bin/python bench/ask.py` (prints JSON). Measures sequential round trips (latency)
and a concurrent burst (throughput) against a trivial actor, while a ticker records loop lag.
In the same run: how fast an open breaker refuses a call (`BreakerGate.acquire_permit` reads
the breaker actor's published view, no ask), against the ask round trip it avoids; the
resilience tests check that it refuses without an ask, the acceptance asks for under 10 ms.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from typing import Any

from kensho.actors import ChildSpec, KenshoActor, Supervisor
from kensho.actors import breaker as breaker_actor
from kensho.config import Config
from kensho.errors import CircuitOpen


class _Echo(KenshoActor):
    def handle(self, message: Any) -> Any:
        return message


def _pct(data: list[float], q: float) -> float:
    data = sorted(data)
    return data[min(len(data) - 1, round(q / 100 * (len(data) - 1)))]


async def _run(sequential: int, burst: int, concurrency: int) -> dict[str, Any]:
    sup = Supervisor("bench", [ChildSpec("echo", _Echo)])
    await sup.start()
    handle = sup.handle("echo")
    lags: list[float] = []
    stop = asyncio.Event()

    async def ticker() -> None:
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            t0 = loop.time()
            await asyncio.sleep(0.001)
            lags.append(loop.time() - t0 - 0.001)

    tick = asyncio.create_task(ticker())
    for i in range(500):  # warm up
        await handle.ask(i)
    latencies: list[float] = []
    for i in range(sequential):
        t0 = time.perf_counter_ns()
        await handle.ask(i)
        latencies.append((time.perf_counter_ns() - t0) / 1000)

    async def worker(n: int) -> None:
        for i in range(n):
            await handle.ask(i)

    t0 = time.perf_counter()
    await asyncio.gather(*(worker(burst // concurrency) for _ in range(concurrency)))
    elapsed = time.perf_counter() - t0
    stop.set()
    await tick
    await sup.stop()
    return {
        "sequential_asks": sequential,
        "p50_us": round(statistics.median(latencies), 1),
        "p99_us": round(_pct(latencies, 99), 1),
        "sequential_asks_per_s": round(sequential / (sum(latencies) / 1e6)),
        "concurrent_asks": burst,
        "concurrency": concurrency,
        "concurrent_asks_per_s": round(burst / elapsed),
        "loop_lag_p99_ms": round(_pct(lags, 99) * 1000, 3),
        "loop_lag_max_ms": round(max(lags) * 1000, 3),
    }


async def _open_breaker_rejections(n: int) -> dict[str, Any]:
    """`n` calls refused by a forced-open breaker through the production gate."""
    sup = Supervisor("bench", [breaker_actor.child_spec(Config(), "breaker")])
    await sup.start()
    gate = breaker_actor.BreakerGate()
    gate.bind(sup.handle("breaker"))
    await gate.override("forced_open")
    asks = gate.asks
    latencies: list[float] = []
    refused = 0
    for _ in range(n):
        t0 = time.perf_counter_ns()
        try:
            await gate.acquire_permit()
        except CircuitOpen:
            refused += 1
        latencies.append((time.perf_counter_ns() - t0) / 1000)
    await sup.stop()
    assert refused == n and gate.asks == asks, "an open breaker refuses without an ask"
    return {
        "open_breaker_rejections": n,
        "open_breaker_reject_p50_us": round(statistics.median(latencies), 2),
        "open_breaker_reject_p99_us": round(_pct(latencies, 99), 2),
        "open_breaker_reject_max_us": round(max(latencies), 2),
    }


def main() -> dict[str, Any]:
    result = asyncio.run(_run(sequential=5000, burst=20000, concurrency=100))
    result |= asyncio.run(_open_breaker_rejections(5000))
    result["open_breaker_reject_vs_ask_p50"] = round(
        result["open_breaker_reject_p50_us"] / result["p50_us"], 4
    )
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
