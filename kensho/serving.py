"""Serve an aiohttp app on a socket for as long as a context lasts (simulator, tests, tools).

`kensho serve` has its own runner (`kensho.http.server`): signals, draining, exit status. This
module imports nothing of Kenshō: the simulator (which must not import `kensho.http`) uses it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web

__all__ = ["serving"]


@asynccontextmanager
async def serving(
    app: web.Application, host: str = "127.0.0.1", port: int = 0
) -> AsyncIterator[str]:
    """Serve `app` on `host:port` (0 = a free port), without an access log; yields the base
    URL and cleans the runner up (closing the app's resources) on exit."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        bound_host, bound_port = runner.addresses[0][:2]
        yield f"http://{bound_host}:{bound_port}"
    finally:
        await runner.cleanup()
