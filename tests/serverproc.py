"""Helpers for tests that run `kensho serve` as a real process (signals, exit codes, logs)."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import sys
import time
from pathlib import Path

__all__ = [
    "hold_coverage",
    "measured_env",
    "read_log",
    "server_env",
    "start_server",
    "wait_for_port",
]

#: Under coverage, `patch = ["subprocess"]` (pyproject.toml) hands the run's settings to Python
#: subprocesses in this variable, and each measures itself (its data is combined with the run's).
#: A measured `kensho serve` starts about twice as slow (on Python 3.11 the tracer sees every
#: call, in measured modules or not) and the timing-sensitive process tests flake under it, so
#: the session takes the variable out of its environment (`hold_coverage`) and gives it back to
#: the `kensho serve` processes only when asked, with `KENSHO_TEST_MEASURE_SERVERS=1` (`make
#: coverage` does not). `serve()` itself is covered in-process (tests/http/test_serve.py).
_COVERAGE_VAR = "COVERAGE_PROCESS_CONFIG"
_held: dict[str, str] = {}


def hold_coverage() -> None:
    """Keep coverage's subprocess settings for the servers that are to be measured."""
    value = os.environ.pop(_COVERAGE_VAR, None)
    if value is not None:
        _held[_COVERAGE_VAR] = value


def measured_env() -> dict[str, str]:
    """Coverage's settings for a `kensho serve` under `KENSHO_TEST_MEASURE_SERVERS=1`; empty
    otherwise, and when the run is not under coverage."""
    if os.environ.get("KENSHO_TEST_MEASURE_SERVERS") == "1":
        return dict(_held)
    return {}


def read_log(path: Path) -> str:
    return path.read_text(encoding="utf-8")


#: this test run's part of every Redis namespace below
_RUN = secrets.token_hex(4)


def server_env(tmp_path: Path, **settings: str) -> dict[str, str]:
    """This process's environment without any `KENSHO_*`, plus a free port and `settings`.

    The in-process simulator gets a free port too, and Redis keys their own namespace, so
    concurrent runs never collide: per test directory (replicas of one test share it) and per
    run (a test directory's name repeats from run to run, and an earlier run's cached anime
    turned a test's uncached read into a Redis hit).
    Measured under `KENSHO_TEST_MEASURE_SERVERS=1` (above).
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("KENSHO_")}
    env |= measured_env()
    env |= {
        "KENSHO_PORT": "0",
        "KENSHO_SIM_PORT": "0",
        "KENSHO_DATA_DIR": str(tmp_path / "data"),
        "KENSHO_REDIS_PREFIX": f"kensho-test:{_RUN}:{tmp_path.name}:",
        "KENSHO_CACHE_PREFIX": f"kensho-test:{_RUN}:{tmp_path.name}:cache:",
    }
    env |= settings
    return env


async def start_server(log: Path, env: dict[str, str]) -> asyncio.subprocess.Process:
    """`python -m kensho serve` with stdout and stderr in `log`."""
    with log.open("w") as out:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "kensho", "serve", stdout=out, stderr=out, env=env
        )


async def wait_for_port(log: Path, proc: asyncio.subprocess.Process, seconds: float = 60) -> int:
    """The port from the server's `listening` log line (it may have picked port 0)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert proc.returncode is None, read_log(log)[-3000:]
        for line in read_log(log).splitlines():
            if '"event":"listening"' in line:
                return int(json.loads(line)["port"])
        await asyncio.sleep(0.05)
    raise AssertionError(f"server did not start:\n{read_log(log)[-3000:]}")
