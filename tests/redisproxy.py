"""A TCP proxy in front of the test Redis, to cut it off and bring it back (outage tests)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

__all__ = ["free_port", "tcp_proxy"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.asynccontextmanager
async def tcp_proxy(port: int, target: str) -> AsyncIterator[None]:
    """Forward 127.0.0.1:`port` to the Redis in `target` (a redis:// URL)."""
    parts = urlsplit(target)
    host, tport = parts.hostname or "127.0.0.1", parts.port or 6379
    pipes: set[asyncio.Task[None]] = set()

    async def pipe(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        try:
            while data := await r.read(65536):
                w.write(data)
                await w.drain()
        except ConnectionError:
            pass
        finally:
            w.close()

    async def handle(cr: asyncio.StreamReader, cw: asyncio.StreamWriter) -> None:
        ur, uw = await asyncio.open_connection(host, tport)
        for t in (pipe(cr, uw), pipe(ur, cw)):
            task = asyncio.create_task(t)
            pipes.add(task)
            task.add_done_callback(pipes.discard)

    server = await asyncio.start_server(handle, "127.0.0.1", port)
    try:
        yield
    finally:
        server.close()
        for task in list(pipes):
            task.cancel()
        await asyncio.gather(*pipes, return_exceptions=True)
        await server.wait_closed()
