"""Pins the private library behaviour `kensho/observability/_private.py` relies on.

If an upgrade breaks one of these, `kensho/observability/_private.py` needs a look (a public
form may exist by then) before the version range in pyproject.toml is widened.
"""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import pytest

from kensho.observability._private import db_pool_waiting, http_semconv_mode
from kensho.store.pool import create_pool

_LOOK = "kensho/observability/_private.py needs a look for this library version"


async def test_aiopg_pool_waiters_are_counted(database_url: str) -> None:
    pool: Any = await create_pool(database_url, minsize=1, maxsize=1)
    try:
        assert db_pool_waiting(pool) == 0, _LOOK
        async with pool.acquire():
            waiting = [asyncio.create_task(_acquire_release(pool)) for _ in range(2)]
            async with asyncio.timeout(10):
                while db_pool_waiting(pool) < 2:  # noqa: ASYNC110 - no event to await in aiopg
                    await asyncio.sleep(0.01)
            assert db_pool_waiting(pool) == 2, _LOOK
        await asyncio.gather(*waiting)
        assert db_pool_waiting(pool) == 0, _LOOK
    finally:
        pool.close()
        await pool.wait_closed()


async def _acquire_release(pool: Any) -> None:
    async with pool.acquire():
        pass


@pytest.mark.parametrize(
    ("opt_in", "expected"), [("http", "HTTP"), ("http/dup", "HTTP_DUP"), ("", "DEFAULT")]
)
def test_http_semconv_mode_follows_the_opt_in(
    monkeypatch: pytest.MonkeyPatch, opt_in: str, expected: str
) -> None:
    from opentelemetry.instrumentation import _semconv  # noqa: PLC0415

    stability = _semconv._OpenTelemetrySemanticConventionStability
    # Read afresh from the variable; monkeypatch puts the process's choice back afterwards.
    monkeypatch.setattr(stability, "_initialized", False)
    monkeypatch.setattr(stability, "_OTEL_SEMCONV_STABILITY_SIGNAL_MAPPING", {})
    monkeypatch.setenv("OTEL_SEMCONV_STABILITY_OPT_IN", opt_in)
    assert http_semconv_mode() is getattr(_semconv._StabilityMode, expected), _LOOK


def test_the_client_trace_config_takes_the_mode() -> None:
    from opentelemetry.instrumentation.aiohttp_client import create_trace_config  # noqa: PLC0415

    assert "sem_conv_opt_in_mode" in inspect.signature(create_trace_config).parameters, _LOOK
