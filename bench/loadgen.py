"""Shared by the HTTP benchmarks: start a server subprocess, drive it with wrk, read the numbers.

`paired_rounds` is how the throughput-ratio benchmarks compare two servers on this shared,
noisy machine (its throughput drifts 20-40 % between seconds): short back-to-back runs of each
side per round, the order alternating every round so a drift favours neither side, one ratio per
round, and the median of those ratios as the result.
"""

from __future__ import annotations

import os
import re
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from typing import TypedDict

__all__ = [
    "PairedRounds",
    "free_port",
    "median_fields",
    "paired_rounds",
    "paired_summary",
    "run_wrk",
    "start_server",
    "summarize",
]

Measure = Callable[[], dict[str, float]]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start_server(
    module: str,
    mode: str,
    extra: Sequence[str] = (),
    *,
    env: dict[str, str] | None = None,
    timeout: float = 30,
) -> tuple[subprocess.Popen[bytes], int]:
    """`python -m MODULE --serve MODE PORT EXTRA…` on a free port, once it accepts connections."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", module, "--serve", mode, str(port), *extra],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc, port
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"{module} {mode} server did not start")


def run_wrk(
    url: str, *, connections: int, seconds: float, script: str | None = None
) -> dict[str, float]:
    """One wrk run (2 threads, latency histogram): req/s, p50, p99 (ms), non-2xx count."""
    cmd = ["wrk", "-t2", f"-c{connections}", f"-d{seconds:g}s", "--latency"]
    if script is not None:
        cmd += ["-s", script]
    done = subprocess.run([*cmd, url], capture_output=True, text=True, check=True)
    if script is not None and script in done.stderr:
        # wrk reports a script that does not compile and carries on without it (plain GETs of
        # `url`, all from one client): the numbers would measure another request
        raise RuntimeError(f"wrk could not run its script: {done.stderr.strip()[-500:]}")
    out = done.stdout
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": float(_field(r"Requests/sec:\s+([\d.]+)", out)),
        "p50_ms": _ms(_field(r"50%\s+([\d.]+\w+)", out)),
        "p99_ms": _ms(_field(r"99%\s+([\d.]+\w+)", out)),
        "non_2xx": float(errors.group(1)) if errors else 0.0,
    }


def summarize(latencies: list[float], seconds: float) -> dict[str, float]:
    """The same fields as `run_wrk`, from an in-process client's latencies (seconds)."""
    latencies.sort()
    return {
        "rps": len(latencies) / seconds,
        "p50_ms": latencies[len(latencies) // 2] * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000,
        "non_2xx": 0.0,
    }


def _field(pattern: str, text: str) -> str:
    found = re.search(pattern, text)
    if found is None:
        raise RuntimeError(f"wrk output lacks {pattern!r}:\n{text}")
    return found.group(1)


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(\w+)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def median_fields(runs: Sequence[dict[str, float]]) -> dict[str, float]:
    """Each field's median over `runs` (dicts with the same keys, e.g. `run_wrk` results)."""
    return {k: round(statistics.median(r[k] for r in runs), 3) for k in runs[0]}


class PairedRounds(TypedDict):
    baseline: dict[str, float]  # median of each field over the rounds
    candidate: dict[str, float]
    baseline_runs: list[dict[str, float]]  # one per round, in round order
    candidate_runs: list[dict[str, float]]
    ratios: list[float]  # candidate rps / baseline rps, per round
    ratio: float  # median of `ratios`
    ratio_min: float
    ratio_max: float


def paired_rounds(baseline: Measure, candidate: Measure, rounds: int) -> PairedRounds:
    """`rounds` back-to-back pairs of measurements, baseline first in even rounds, candidate first
    in odd ones; each measurement returns at least `rps`.

    Both servers should already be running and warm. The ratio is taken within a round (the two
    runs are seconds apart, so they see about the same machine) and the median over rounds drops
    the rounds a neighbour spoiled; alternating the order cancels a steady drift within a round.
    """
    if rounds < 1:
        raise ValueError("rounds must be >= 1")
    base_runs: list[dict[str, float]] = []
    cand_runs: list[dict[str, float]] = []
    ratios: list[float] = []
    for n in range(rounds):
        if n % 2 == 0:
            b = baseline()
            c = candidate()
        else:
            c = candidate()
            b = baseline()
        base_runs.append(b)
        cand_runs.append(c)
        ratios.append(c["rps"] / b["rps"] if b["rps"] else 0.0)
    return {
        "baseline": median_fields(base_runs),
        "candidate": median_fields(cand_runs),
        "baseline_runs": base_runs,
        "candidate_runs": cand_runs,
        "ratios": ratios,
        "ratio": statistics.median(ratios),
        "ratio_min": min(ratios),
        "ratio_max": max(ratios),
    }


def paired_summary(paired: PairedRounds) -> dict[str, object]:
    """The per-round part of a benchmark's JSON: method, round ratios, their range, rps."""
    return {
        "method": "paired rounds, order alternating; median of per-round full/bare ratios",
        "round_ratios": [round(r, 3) for r in paired["ratios"]],
        "ratio_min": round(paired["ratio_min"], 3),
        "ratio_max": round(paired["ratio_max"], 3),
        "round_rps": {
            "bare": [round(r["rps"]) for r in paired["baseline_runs"]],
            "full_stack": [round(r["rps"]) for r in paired["candidate_runs"]],
        },
    }
