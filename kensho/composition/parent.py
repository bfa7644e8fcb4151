"""The parent of `kensho serve --workers N`: start what the workers share once, then run them.

Once, in this process: the embedded PostgreSQL and Redis (when their URLs are unset), the
Crunchyroll simulator (when no upstream is set) and the migrations. The workers get the resolved
URLs in their environment, so each of them is an ordinary replica of the fleet on real servers,
and none of them migrates. The parent also binds the port first (with `SO_REUSEPORT`, never
listening): that resolves port 0 to one port for all workers, fails fast when the port is taken,
and keeps it reserved while a worker restarts. It serves no HTTP itself.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

from kensho.composition.upstream import simulator_config
from kensho.composition.worker_pool import WorkerPool
from kensho.config import Config
from kensho.http.server import EXIT_OK, EXIT_START_FAILED
from kensho.store import embedded
from kensho.store.migrations import MigrationError, migrate
from kensho.upstream.simulator import running_simulator

__all__ = ["drain_timeout", "run_parent"]

log = logging.getLogger("kensho.server")


def drain_timeout(config: Config) -> float:
    """How long the parent waits for its workers after SIGTERM before killing them: each worker
    serves `prestop_delay`, finishes requests within `shutdown_timeout`, then stops its two jobs
    and its actors, each within `shutdown_timeout` again; plus a margin."""
    return config.prestop_delay + 3 * config.shutdown_timeout + 10


async def run_parent(config: Config, count: int) -> int:
    """Run `count` workers until SIGTERM/SIGINT; the exit status (0 when all drained)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, _on_signal, sig, stop)
    try:
        async with AsyncExitStack() as shared:
            try:
                env = await shared.enter_async_context(_shared_resources(config))
                listener = _reserve_port(config.host, config.port)
            except (OSError, MigrationError) as exc:
                log.error("start-up failed: %s", exc, extra={"event": "start_failed"})
                return EXIT_START_FAILED
            shared.callback(listener.close)
            env["KENSHO_PORT"] = str(listener.getsockname()[1])
            if stop.is_set():  # a signal while the shared servers started
                return EXIT_OK
            pool = WorkerPool(
                count,
                lambda index, ready_fd: _worker_command(index, count, ready_fd),
                env=env,
                drain_timeout=drain_timeout(config),
            )
            log.info(
                "starting %d workers on port %s",
                count,
                env["KENSHO_PORT"],
                extra={"event": "workers_starting", "workers": count},
            )
            return await pool.run(stop)
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)


@asynccontextmanager
async def _shared_resources(config: Config) -> AsyncIterator[dict[str, str]]:
    """Start the embedded servers and the simulator as configured, migrate; yield the workers'
    environment (this one's, with the resolved URLs)."""
    env = dict(os.environ)
    async with AsyncExitStack() as stack:
        dsn, redis_url = config.database_url, config.redis_url
        data_dir = Path(config.data_dir)
        if dsn is None:
            log.info("KENSHO_DATABASE_URL unset: starting embedded PostgreSQL in %s", data_dir)
            dsn, stop_pg = await asyncio.to_thread(embedded.start_embedded_postgres, data_dir)
            stack.push_async_callback(asyncio.to_thread, stop_pg)
        if redis_url is None:
            log.info("KENSHO_REDIS_URL unset: starting embedded Redis in %s", data_dir)
            redis_url, stop_redis = await asyncio.to_thread(embedded.start_embedded_redis, data_dir)
            stack.push_async_callback(asyncio.to_thread, stop_redis)
        upstream_url = config.upstream_url
        if upstream_url is None:
            upstream_url = await stack.enter_async_context(
                running_simulator(simulator_config(config))
            )
            log.info("KENSHO_UPSTREAM_URL unset: Crunchyroll simulator at %s", upstream_url)
        assert dsn is not None and redis_url is not None
        applied = await migrate(dsn)
        log.info(
            "schema current (%d migration(s) applied)",
            len(applied),
            extra={"event": "migrated", "applied": len(applied)},
        )
        env |= {
            "KENSHO_DATABASE_URL": dsn,
            "KENSHO_REDIS_URL": redis_url,
            "KENSHO_UPSTREAM_URL": upstream_url,
        }
        yield env


def _reserve_port(host: str, port: int) -> socket.socket:
    """Bind (not listen) `host:port` with SO_REUSEPORT; raises OSError when it is taken."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise OSError(exc.errno, f"cannot listen on {host}:{port}: {exc.strerror}") from None
    return sock


def _worker_command(index: int, count: int, ready_fd: int) -> Sequence[str]:
    return [
        sys.executable,
        "-m",
        "kensho",
        "serve",
        "--worker-index",
        str(index),
        "--worker-count",
        str(count),
        "--ready-fd",
        str(ready_fd),
        "--parent-pid",
        str(os.getpid()),
    ]


def _on_signal(sig: signal.Signals, stop: asyncio.Event) -> None:
    if stop.is_set():
        log.warning("%s again: already shutting down", sig.name)
    else:
        log.info("%s received: draining the workers", sig.name, extra={"event": "signal"})
    stop.set()
