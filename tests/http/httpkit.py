"""Helpers for the HTTP tests: a stand-in supervisor, log capture, problem assertions."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from kensho.config import Config
from kensho.http.access_log import JsonAccessLogger
from kensho.http.app import create_app
from kensho.http.routing import Routes
from kensho.observability.tracing import Tracing

TOKEN = "s3cret-admin-token"


class StandInSupervisor:
    """The supervisor contract (docs/contracts.md) with fixed statistics; nothing is mocked."""

    def __init__(self) -> None:
        self.failed = False
        self.started = False
        self.stopped = False
        self.restarted: list[str] = []

    async def start(self) -> None:
        self.started = True

    async def stop(self) -> list[str]:
        self.stopped = True
        return []

    def snapshot(self) -> dict[str, Any]:
        def actor(name: str, depth: int, processed: int) -> dict[str, Any]:
            return {
                "name": name,
                "state": "running",
                "mailbox_depth": depth,
                "processed": processed,
                "failed": 1,
                "restarts": len([n for n in self.restarted if n == name]),
                "processing_us": {"p50": 10.0, "p99": 90.0},
                "uptime_s": 1.5,
            }

        return {
            "name": "root",
            "strategy": "one_for_one",
            "children": [actor("cache", 2, 5), actor("breaker", 0, 7)],
        }

    async def restart_child(self, name: str) -> None:
        self.restarted.append(name)


class LogCapture:
    """JSON log lines as the server writes them, parsed."""

    def __init__(self) -> None:
        self.stream = io.StringIO()

    def records(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stream.getvalue().splitlines() if line]


MakeClient = Callable[..., Awaitable[TestClient[web.Request, web.Application]]]


def assert_problem(body: dict[str, Any], status: int, slug: str, rid: str | None = None) -> None:
    """The RFC 9457 fields every Kenshō error carries."""
    assert body["type"] == f"https://kensho.dev/problems/{slug}"
    assert body["status"] == status
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str) and body["detail"]
    assert isinstance(body["instance"], str) and body["instance"].startswith("/")
    assert isinstance(body["request_id"], str) and body["request_id"]
    if rid is not None:
        assert body["request_id"] == rid


async def access_log_client(aiohttp_client: Any, tracing: Tracing | None = None) -> Any:
    """An app with a `/t/items/{id}` route, served with our access logger as `kensho serve`
    runs it (traced by `tracing`, if given)."""

    app = create_app(Config(), resources=[], api_routes=False, tracing=tracing)

    async def item(request: web.Request) -> web.Response:
        return web.Response(text="x" * 10)

    Routes(app).add("*", "/t/items/{id}", item)
    server = TestServer(app)
    await server.start_server(access_log_class=JsonAccessLogger)
    return await aiohttp_client(server)


async def read_event(resp: aiohttp.ClientResponse) -> tuple[str, Any]:
    """The next event (name, parsed data) of an event stream; comment lines are skipped."""
    name, data = "message", []
    while True:
        raw = await asyncio.wait_for(resp.content.readline(), 10)
        if not raw:
            raise EOFError("the stream ended")
        line = raw.decode().rstrip("\r\n")
        if not line:
            if data:
                return name, json.loads("\n".join(data))
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "event":
            name = value
        elif field == "data":
            data.append(value)
