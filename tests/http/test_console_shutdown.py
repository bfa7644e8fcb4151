"""SIGTERM to a real `kensho serve` while an operator console follows `GET /admin/events`.

The stream must end with a `shutdown` event as soon as the drain starts (not at the end of
the shutdown budget), and the process must exit 0: an open console never holds the drain up
or makes the shutdown abandon a request.
"""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import aiohttp
import pytest
from httpkit import read_event
from openapi.live_server import small_catalog
from serverproc import read_log, server_env, start_server, wait_for_port

from kensho.serving import serving
from kensho.upstream.simulator import SimConfig, create_sim_app

pytestmark = pytest.mark.slow

TOKEN = "console-shutdown-admin-token"
SHUTDOWN_BUDGET = 20.0  # what a stream that ignored the drain would hold the exit up by


async def test_sigterm_ends_open_console_streams_and_exits_cleanly(
    tmp_path: Path, database_url: str, redis_url: str
) -> None:

    log = tmp_path / "server.log"
    async with serving(create_sim_app(SimConfig(catalog=small_catalog(5, 0)))) as sim_url:
        env = server_env(
            tmp_path,
            KENSHO_DATABASE_URL=database_url,
            KENSHO_REDIS_URL=redis_url,
            KENSHO_UPSTREAM_URL=sim_url,
            KENSHO_ADMIN_TOKEN=TOKEN,
            KENSHO_PRESTOP_DELAY="0",
            KENSHO_SHUTDOWN_TIMEOUT=str(SHUTDOWN_BUDGET),
            KENSHO_CATALOG_SYNC_INTERVAL="0",
        )
        proc = await start_server(log, env)
        try:
            port = await wait_for_port(log, proc)
            url = f"http://127.0.0.1:{port}/admin/events"
            headers = {"Authorization": f"Bearer {TOKEN}"}
            timeout = aiohttp.ClientTimeout(total=60)
            async with aiohttp.ClientSession(timeout=timeout) as session:
                streams = [await session.get(url, headers=headers) for _ in range(2)]
                for resp in streams:
                    assert resp.status == 200, await resp.text()
                    assert (await read_event(resp))[0] == "state"
                signalled = time.monotonic()
                proc.send_signal(signal.SIGTERM)
                for resp in streams:
                    names = []
                    with pytest.raises(EOFError):
                        while True:
                            names.append((await read_event(resp))[0])
                    assert names[-1] == "shutdown", names
                    resp.release()
                status = await asyncio.wait_for(proc.wait(), 60)
                took = time.monotonic() - signalled
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    text = read_log(log)
    assert status == 0, text[-3000:]
    assert took < SHUTDOWN_BUDGET, (took, text[-3000:])  # the streams did not wait it out
    assert "shutdown abandoned" not in text
