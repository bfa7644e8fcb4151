"""The cost of tracing on the hot path: cached GET /api/anime/{id} with tracing off, on at a
sampler ratio of 0.01 and on at 1.0, in the same run; and the request histogram's cost.

Three full servers (`bench.catalog`'s app and data: the real envelope, cache, negotiation; the
same Zipf-sampled ids, every one cached before the load) run side by side, each in its own
process; the two tracing ones export over OTLP/HTTP to a sink in this process that reads and
discards the batches, so the export thread's work is paid as in production. Rounds as in
`bench.catalog`: `BENCH_ROUNDS` rounds of one `BENCH_DURATION`-second wrk run per server, the
order rotating each round; each round gives on/off throughput ratios, and the headline ratios
are their medians (the machine is shared: within a round the three runs see about the same
machine).

Also, in this process: `prometheus_client.Histogram.observe` (what the request histogram would
be with the library) against our `_RequestHistogram.observe`, per call, same run: the reason
the hand-rolled histogram is kept.
"""

from __future__ import annotations

import asyncio
import http.server
import os
import shutil
import statistics
import sys
import threading
import timeit
from collections.abc import Callable
from typing import Any

from bench.catalog import (
    REDIS_URL,
    SERVER_DSN,
    _fetch_all,
    _load,
    _load_database,
    _zipf_ids,
)
from bench.catalog import _serve as _serve_catalog
from bench.loadgen import median_fields, start_server
from kensho.store.scratch import create_scratch_database

DURATION = float(os.environ.get("BENCH_DURATION", "2"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "10"))
WARM_UP = float(os.environ.get("BENCH_WARM_UP", "2"))
MODES = {"off": None, "ratio_0.01": "0.01", "ratio_1.0": "1.0"}


class _Sink(http.server.BaseHTTPRequestHandler):
    """Accepts OTLP/HTTP exports and drops them; counts the bytes received."""

    received = 0

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        type(self).received += len(self.rfile.read(length))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        return


def _serve(port: int, dsn: str, ratio: str, endpoint: str) -> None:
    """A `bench.catalog` full server, tracing per `ratio` ("off" or a sampler ratio)."""
    settings = (
        {} if ratio == "off" else {"otel_endpoint": endpoint, "otel_sampler_ratio": float(ratio)}
    )
    _serve_catalog("full", port, dsn, "", **settings)


def _histograms() -> dict[str, float]:
    """ns per observe: the library's labelled histogram vs ours, same run, same labels."""
    from prometheus_client import CollectorRegistry, Histogram  # noqa: PLC0415

    from kensho.observability.metrics import _BUCKETS, _RequestHistogram  # noqa: PLC0415

    library = Histogram(
        "request_duration_seconds",
        "",
        ["route", "method", "status"],
        buckets=_BUCKETS,
        registry=CollectorRegistry(),
    )
    ours = _RequestHistogram()

    def lib() -> None:
        library.labels("/api/anime/{id}", "GET", "200").observe(0.0012)

    def own() -> None:
        ours.observe("/api/anime/{id}", "GET", 200, 0.0012)

    def per_call(fn: Callable[[], None]) -> float:
        n = 200_000
        return min(timeit.repeat(fn, number=n, repeat=5)) / n * 1e9

    return {"prometheus_client_ns": round(per_call(lib)), "hand_rolled_ns": round(per_call(own))}


def main() -> dict[str, Any]:
    tool = "wrk" if shutil.which("wrk") else "aiohttp"
    sink = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{sink.server_address[1]}/v1/traces"
    dsn, drop = create_scratch_database(SERVER_DSN, "kensho_bench")
    procs: list[Any] = []
    try:
        popular = asyncio.run(_load_database(dsn))
        ids = _zipf_ids(popular, 20_000)
        ports: dict[str, int] = {}
        for mode, ratio in MODES.items():
            proc, port = start_server("bench.tracing", mode, (dsn, ratio or "off", endpoint))
            procs.append(proc)
            ports[mode] = port
        for port in ports.values():
            _fetch_all(port, ids)
            _load(tool, port, ids, WARM_UP)
        runs: dict[str, list[dict[str, float]]] = {mode: [] for mode in MODES}
        ratios: dict[str, list[float]] = {"ratio_0.01": [], "ratio_1.0": []}
        order = list(MODES)
        for n in range(ROUNDS):
            rotated = order[n % 3 :] + order[: n % 3]
            got = {mode: _load(tool, ports[mode], ids, DURATION) for mode in rotated}
            for mode, run in got.items():
                runs[mode].append(run)
            off = got["off"]["rps"]
            for mode, values in ratios.items():
                values.append(got[mode]["rps"] / off if off else 0.0)
        result: dict[str, Any] = {
            "benchmark": "GET /api/anime/{id}, Zipf ids, cached; tracing off / 0.01 / 1.0",
            "load_generator": tool,
            "anime": len(popular),
            "duration_s": DURATION,
            "rounds": ROUNDS,
            **{mode: median_fields(r) for mode, r in runs.items()},
            "throughput_vs_off": {m: round(statistics.median(r), 3) for m, r in ratios.items()},
            "throughput_vs_off_range": {
                m: [round(min(r), 3), round(max(r), 3)] for m, r in ratios.items()
            },
            "throughput_vs_off_rounds": {m: [round(x, 3) for x in r] for m, r in ratios.items()},
            "otlp_bytes_received": _Sink.received,
            "request_histogram": _histograms(),
            "redis": REDIS_URL.rsplit("@", 1)[-1],
        }
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=30)
        sink.shutdown()
        drop()
    return result


if __name__ == "__main__":
    if len(sys.argv) == 7 and sys.argv[1] == "--serve":
        _serve(int(sys.argv[3]), sys.argv[4], sys.argv[5], sys.argv[6])
    else:
        import json

        print(json.dumps(main(), indent=2))
