"""`kensho serve --workers 2` as an operator runs it: real processes, PostgreSQL and Redis.

One parent, two workers on one port: both answer (`/admin/actors` names the worker), a worker
killed with SIGKILL is replaced, and SIGTERM to the parent drains both and exits 0.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from serverproc import read_log, server_env, wait_for_port

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

TOKEN = "workers-test-token"


async def _start(log: Path, env: dict[str, str], *args: str) -> asyncio.subprocess.Process:
    with log.open("w") as out:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "kensho", "serve", *args, stdout=out, stderr=out, env=env
        )


def _events(log: Path, event: str) -> list[dict[str, Any]]:
    out = []
    for line in read_log(log).splitlines():
        if f'"event":"{event}"' in line:
            out.append(json.loads(line))
    return out


async def _until(check: Any, what: str, log: Path, seconds: float = 90) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if result := await check():
            return result
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}:\n{read_log(log)[-4000:]}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def test_two_workers_serve_a_killed_one_is_replaced_and_sigterm_drains(
    tmp_path: Path, database_url: str, redis_url: str
) -> None:
    log = tmp_path / "server.log"
    env = server_env(
        tmp_path,
        KENSHO_DATABASE_URL=database_url,
        KENSHO_REDIS_URL=redis_url,
        KENSHO_ADMIN_TOKEN=TOKEN,
        KENSHO_PRESTOP_DELAY="0.2",
        KENSHO_SHUTDOWN_TIMEOUT="5",
    )
    proc = await _start(log, env, "--workers", "2")
    try:
        port = await wait_for_port(log, proc)
        base = f"http://127.0.0.1:{port}"
        # A fresh connection per request: the kernel picks a worker per connection.
        connector = aiohttp.TCPConnector(force_close=True)
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with aiohttp.ClientSession(connector=connector, headers=headers) as http:
            seen: dict[int, int] = {}  # worker index -> pid

            async def both_answer() -> bool:
                async with http.get(base + "/admin/actors") as resp:
                    if resp.status == 200:
                        body = await resp.json()
                        assert body["tree"]["name"] == "root"
                        worker = body["worker"]
                        assert worker["count"] == 2 and worker["pid"] != proc.pid
                        seen[worker["index"]] = worker["pid"]
                return set(seen) == {0, 1}

            await _until(both_answer, "both workers to answer", log)
            first = dict(seen)
            assert first[0] != first[1]
            assert len(_events(log, "migrated")) == 1  # by the parent, once

            os.kill(first[1], signal.SIGKILL)

            async def replaced() -> bool:
                seen.clear()
                for _ in range(8):
                    await both_answer()
                return seen.get(1) not in (None, first[1]) and seen.get(0) == first[0]

            await _until(replaced, "worker 1 to be replaced", log)
            (exited,) = _events(log, "worker_exited")
            assert exited["worker"] == 1 and exited["code"] == -signal.SIGKILL
            pids = [first[0], seen[1]]

        proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(proc.wait(), 90)
        text = read_log(log)
        assert code == 0, text[-4000:]
        assert len(_events(log, "stopped")) == 3  # each worker, then the parent
        assert '"event":"abandoned"' not in text
        assert not any(_alive(pid) for pid in pids)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
