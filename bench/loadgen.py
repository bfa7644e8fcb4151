"""Shared by the HTTP benchmarks: start a server subprocess, drive it with wrk, read the numbers."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Sequence

__all__ = ["free_port", "run_wrk", "start_server", "summarize"]


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
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
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
