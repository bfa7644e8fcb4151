"""POST /admin/cache/invalidate: auth, validation, audit; and the cache actor."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from kensho.actors.cache import Invalidate, PurgeExpired, child_spec
from kensho.actors.supervisor import Supervisor
from kensho.cache import CacheService
from kensho.config import Config
from kensho.errors import ServiceUnavailable

from .conftest import MakeApp, admin_headers

pytestmark = pytest.mark.asyncio
URL = "/admin/cache/invalidate"


async def test_needs_the_admin_token(make_app: MakeApp) -> None:
    client = await make_app()
    assert (await client.post(URL, json={"pattern": "x"})).status == 401
    wrong = await client.post(URL, json={"pattern": "x"}, headers={"Authorization": "Bearer no"})
    assert wrong.status == 401
    hidden = await make_app(admin_token=None)
    assert (await hidden.post(URL, json={"pattern": "x"})).status == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "pattern"),
        ({"pattern": ""}, "pattern"),
        ({"pattern": 7}, "pattern"),
        ({"pattern": None}, "pattern"),
        ({"pattern": "a" * 257}, "pattern"),
        ({"pattern": "a\nb"}, "pattern"),
        ({"pattern": "x", "extra": 1}, "extra"),
        ([1, 2], "body"),
        ("pattern", "body"),
    ],
)
async def test_bad_bodies_are_422(make_app: MakeApp, body: Any, field: str) -> None:
    client = await make_app()
    resp = await client.post(URL, json=body, headers=admin_headers())
    assert resp.status == 422
    assert (await resp.json())["errors"][0]["field"] == field


async def test_malformed_json_and_wrong_type(make_app: MakeApp) -> None:
    client = await make_app()
    bad = await client.post(
        URL, data=b"{nope", headers={**admin_headers(), "Content-Type": "application/json"}
    )
    assert bad.status == 400
    text = await client.post(URL, data=b"pattern=x", headers=admin_headers())
    assert text.status == 415


async def test_hostile_glob_is_literal_and_audited(
    make_app: MakeApp, caplog: pytest.LogCaptureFixture
) -> None:
    client = await make_app()
    await client.get("/api/anime?limit=1")
    with caplog.at_level(logging.INFO, logger="kensho.audit"):
        resp = await client.post(URL, json={"pattern": "[a-z]?\\*"}, headers=admin_headers())
    assert resp.status == 200
    assert (await resp.json())["invalidated"] == 0
    audits = [r for r in caplog.records if r.name == "kensho.audit"]
    assert any(getattr(r, "action", "") == "cache-invalidate" for r in audits)


async def test_actor_invalidates_on_the_loop_and_reports_stats() -> None:
    cache = CacheService()
    await cache.set("anime:A|doc", b"x", ttl=60)
    await cache.set("browse:|x", b"y", ttl=60)
    sup = Supervisor(
        "root",
        [child_spec(Config(), cache=cache, loop=asyncio.get_running_loop())],
        ask_timeout=5.0,
    )
    await sup.start()
    try:
        handle = sup.handle("cache")
        assert handle.view("anime:A|doc") == b"x"  # the published L1 reader
        assert await handle.ask(Invalidate("anime:*")) == 1
        assert cache.get_cached("anime:A|doc") is None
        assert cache.get_cached("browse:|x") == b"y"
        assert await handle.ask(PurgeExpired()) == 0
        summary = handle.summary()
        assert summary["attached"] is True and summary["entries"] == 1
        assert summary["admin_invalidations"] == 1
    finally:
        await sup.stop()


async def test_unattached_actor_answers_unavailable() -> None:
    sup = Supervisor("root", [child_spec(Config())], ask_timeout=5.0)
    await sup.start()
    try:
        handle = sup.handle("cache")
        assert handle.summary() == {"attached": False}
        with pytest.raises(ServiceUnavailable):
            await handle.ask(Invalidate("x"))
    finally:
        await sup.stop()
