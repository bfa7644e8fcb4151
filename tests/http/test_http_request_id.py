"""Request ids: sane inbound ids are echoed, anything else is replaced, every log line has one."""

from __future__ import annotations

import logging
import re

import pytest
from aiohttp import web
from httpkit import LogCapture, MakeClient

from kensho.http.middlewares.request_id import is_sane_request_id
from kensho.http.routing import Routes

GENERATED = re.compile(r"[0-9a-f]{32}")


def _routes(app: web.Application) -> None:
    async def chatty(request: web.Request) -> web.Response:
        logging.getLogger("kensho.test").info("handling")
        return web.Response(text="ok")

    Routes(app).get("/t/chatty", chatty)


@pytest.mark.parametrize("rid", ["abc", "req-1.2:3_x", "A" * 128, "0"])
async def test_sane_inbound_id_is_echoed(make_client: MakeClient, rid: str) -> None:
    client = await make_client()
    resp = await client.get("/health/live", headers={"X-Request-ID": rid})
    assert resp.headers["X-Request-ID"] == rid


@pytest.mark.parametrize(
    "hostile",
    [
        "A" * 129,  # oversized
        "x" * 8000,
        "",
        "has space",
        "<script>alert(1)</script>",
        '"quoted"',
        "a/b",
        "ünïcode",
        "id\t1",
        "${jndi:ldap://x}",
    ],
)
async def test_hostile_inbound_id_is_replaced(make_client: MakeClient, hostile: str) -> None:
    client = await make_client()
    resp = await client.get("/no/route", headers={"X-Request-ID": hostile})
    rid = resp.headers["X-Request-ID"]
    assert GENERATED.fullmatch(rid), rid
    body = await resp.json(content_type="application/problem+json")
    assert body["request_id"] == rid


async def test_missing_id_is_generated_and_unique(make_client: MakeClient) -> None:
    client = await make_client()
    ids = {(await client.get("/health/live")).headers["X-Request-ID"] for _ in range(5)}
    assert len(ids) == 5
    assert all(GENERATED.fullmatch(i) for i in ids)


async def test_every_log_line_carries_the_id(make_client: MakeClient, logs: LogCapture) -> None:
    client = await make_client(_routes)
    resp = await client.get("/t/chatty", headers={"X-Request-ID": "trace-me-42"})
    assert resp.status == 200
    lines = [r for r in logs.records() if r["msg"] == "handling"]
    assert len(lines) == 1 and lines[0]["request_id"] == "trace-me-42"
    assert lines[0]["logger"] == "kensho.test"


def test_sanity_rule() -> None:
    assert is_sane_request_id("a" * 128)
    assert not is_sane_request_id("a" * 129)
    assert not is_sane_request_id("a\n")
    assert not is_sane_request_id("")
