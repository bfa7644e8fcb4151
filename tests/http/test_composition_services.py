"""The composition's service resources at their edges: what a supervisor's stop reports, an
actor tree without the children auth needs, and stream sweeps that fail or outlive the drain."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from aiohttp import web
from auth.kit import kensho_app
from httpkit import StandInSupervisor

from kensho.composition.services import actor_tree, auth, catalog
from kensho.config import Config
from kensho.http import keys
from kensho.http.app import create_app


async def test_a_single_name_returned_by_the_supervisors_stop_is_reported_abandoned(
    aiohttp_client: Any,
) -> None:
    class OneStuck(StandInSupervisor):
        async def stop(self) -> str:  # type: ignore[override]
            await super().stop()
            return "cache"  # the contract allows None, a name, or names

    app = create_app(Config(), resources=[actor_tree(lambda _c: OneStuck())])
    client = await aiohttp_client(app)
    await client.close()
    assert app[keys.LIFECYCLE].abandoned == ["actor:cache"]


async def test_auth_refuses_to_start_without_a_session_pool_actor() -> None:
    supervisor = StandInSupervisor()  # not a real Supervisor: it has no children to hand out
    app = create_app(Config(), resources=[actor_tree(lambda _c: supervisor), auth()])
    app[keys.UPSTREAM] = object()  # type: ignore[assignment]  # never reached
    runner = web.AppRunner(app)
    with pytest.raises(RuntimeError, match="no session_pool child"):
        await runner.setup()
    await runner.cleanup()  # as `serve()` does after a failed start
    assert supervisor.stopped  # what started before it was closed again


async def test_failing_stream_sweeps_are_logged_and_never_stop_the_sweeper_or_the_drain(
    aiohttp_client: Any,
    db_pool: Any,
    redis_url: str,
    redis_prefix: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    failures = 0
    failed_twice = asyncio.Event()

    async def failing_sweep() -> Any:
        nonlocal failures
        failures += 1
        if failures == 2:
            failed_twice.set()
        raise ConnectionError("session pool restarting")

    caplog.set_level(logging.WARNING, logger="kensho.composition")
    async with kensho_app(
        aiohttp_client, db_pool, redis_url, redis_prefix, stream_sweep_interval=0.01
    ) as kit:
        kit.app[keys.PLAYBACK].sweep = failing_sweep  # type: ignore[method-assign]
        await asyncio.wait_for(failed_twice.wait(), 10)  # the sweeper went on after a failure
    messages = [r.getMessage() for r in caplog.records if r.name == "kensho.composition"]
    assert "stream sweep failed: ConnectionError" in messages
    assert messages[-1] == "the last stream sweep failed: ConnectionError"


async def test_a_last_stream_sweep_that_outlives_its_budget_is_cancelled(
    aiohttp_client: Any, db_pool: Any, redis_url: str, redis_prefix: str
) -> None:
    cancelled = asyncio.Event()

    async def stuck_sweep() -> Any:
        try:
            await asyncio.Event().wait()
        finally:
            cancelled.set()

    async with kensho_app(
        aiohttp_client, db_pool, redis_url, redis_prefix, shutdown_timeout=0.2
    ) as kit:
        kit.app[keys.PLAYBACK].sweep = stuck_sweep  # type: ignore[method-assign]
    assert cancelled.is_set()  # the drain went on without it


async def test_without_a_database_and_a_cache_there_is_no_catalog(aiohttp_client: Any) -> None:
    app = create_app(Config(), resources=[catalog()])
    client = await aiohttp_client(app)
    assert keys.CATALOG not in app and keys.CACHE_ADMIN not in app
    assert (await client.get("/api/anime/GRMG8ZQZR")).status == 503
