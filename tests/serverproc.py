"""Helpers for tests that run `kensho serve` as a real process (signals, exit codes, logs)."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import sys
import time
from pathlib import Path

__all__ = ["read_log", "server_env", "start_server", "wait_for_port"]


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
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("KENSHO_")}
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
