"""Schemathesis against a live server: no 5xx, and every response matches the document.

The server runs the real app factory on a loopback port in its own thread (Schemathesis
drives it synchronously through `requests`). A few examples per operation keep it short.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import schemathesis
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

from kensho.config import Config
from kensho.http.openapi import SPEC_PATH

CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]


@pytest.fixture(scope="module")
def live_url(make_app: Callable[[Config], web.Application]) -> Iterator[str]:
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(make_app(Config(admin_token="schemathesis-admin-token")))
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    host, port = runner.addresses[0][:2]
    thread = threading.Thread(target=loop.run_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{port}"
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


def test_api_conforms_to_its_document(live_url: str) -> None:
    # Operations are driven one by one with hypothesis rather than `schema.parametrize()`,
    # whose lazy fixture loader does not work with pytest 9 (Function has no `_nodeid`).
    api = schemathesis.openapi.from_url(live_url + SPEC_PATH)
    tested: list[str] = []
    for result in api.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(
            max_examples=5,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def run(case: Any) -> None:
            case.call_and_validate(base_url=live_url, checks=CHECKS)

        run()
        tested.append(operation.label)
    assert "GET /health/ready" in tested
    assert "POST /api/auth/login" in tested
    assert len(tested) >= 8
