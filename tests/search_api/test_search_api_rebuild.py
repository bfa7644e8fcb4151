"""Rebuilds: cursors across a rebuild, queries served during one, fallbacks, restarts, keys."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kensho.actors.search import SearchActor, cursor_key_for
from kensho.actors.search import child_spec as search_child_spec
from kensho.actors.supervisor import Supervisor
from kensho.config import Config
from kensho.errors import ActorStopped, ActorTimeout, ServiceUnavailable
from kensho.http import keys
from kensho.search.protocol import Published, Rebuild
from kensho.signing import KEY_FILE, derive_key
from kensho.store.search_queries import CatalogSearchRow

from .conftest import MakeSearchApp, fresh_database, seed
from .test_search_api_endpoints import get_json

NEW = CatalogSearchRow(
    id="GZZTEST01",
    title="Gate of Zzyzx",
    kind="tv",
    genres=("Comedy",),
    members=1,
    rating=None,
    titles=(("romaji", "Gate of Zzyzx"),),
    external_ids={},
)


async def test_cursor_survives_a_rebuild_of_the_same_catalog_and_410s_after_a_change(
    make_search_app: MakeSearchApp,
    make_database: Callable[[], str],
    catalog_rows: list[CatalogSearchRow],
) -> None:
    async with fresh_database(make_database, catalog_rows) as dsn:
        app = await make_search_app(dsn=dsn)
        full = await get_json(app, "/api/search?q=gate&limit=50")
        first = await get_json(app, "/api/search?q=gate&limit=2")
        version = app.service.view().index.version

        info = await app.app[keys.SEARCH].rebuild("catalog-sync")
        assert info is not None and info.rebuilt and info.version == version
        assert app.cache is not None and len(app.cache.l1) == 0  # search:* invalidated
        second = await get_json(app, f"/api/search?q=gate&limit=2&cursor={first['next_cursor']}")
        ids = [i["id"] for i in first["items"] + second["items"]]
        assert ids == [i["id"] for i in full["items"][:4]]

        await asyncio.to_thread(seed, dsn, [*catalog_rows, NEW])
        changed = await app.app[keys.SEARCH].rebuild("catalog-sync")
        assert changed is not None and changed.version != version
        gone = await get_json(app, f"/api/search?q=gate&cursor={second['next_cursor']}", 410)
        assert gone["type"].endswith("/gone")
        fresh = await get_json(app, "/api/search?q=gate%20of%20zzyzx&limit=1")
        assert fresh["items"][0]["id"] == NEW.id


async def test_queries_are_served_from_the_old_view_while_a_rebuild_runs(
    make_search_app: MakeSearchApp, catalog_rows: list[CatalogSearchRow]
) -> None:
    entered, release = threading.Event(), threading.Event()
    calls = 0

    def load_rows() -> list[CatalogSearchRow]:
        nonlocal calls
        calls += 1
        if calls == 1:
            return catalog_rows
        entered.set()
        release.wait(30)  # the actor's thread is busy "building" until the test says so
        return [*catalog_rows, NEW]

    app = await make_search_app(load_rows=load_rows)
    old = app.service.view().index.version
    rebuild = asyncio.create_task(app.service.rebuild("test"))
    try:
        assert await asyncio.to_thread(entered.wait, 10)
        assert app.service.handle.summary()["building"] is True
        answers = await asyncio.gather(
            *(app.client.get(f"/api/search?q={q}") for q in ["naruto", "gate", "titan"] * 10),
            app.client.get("/api/search/suggest?q=shin"),
        )
        assert [r.status for r in answers] == [200] * len(answers)
        assert app.service.view().index.version == old
        assert (await answers[0].json())["items"][0]["id"] == "GY9PJ5KWR"
    finally:
        release.set()
    info = await rebuild
    assert info.rebuilt and info.version != old
    summary = app.service.handle.summary()
    assert summary["version"] == info.version and summary["builds"] == 2
    assert summary["entries"] == len(catalog_rows) + 1 and summary["building"] is False
    assert summary["last_build_seconds"] >= 0 and summary["source"] == "database"


async def test_a_rebuild_requested_before_the_last_build_started_is_coalesced(
    make_search_app: MakeSearchApp,
) -> None:
    app = await make_search_app()
    stale = Rebuild(requested_at=float("-inf"))
    info = await app.service.handle.ask(stale)
    assert info.rebuilt is False
    assert app.service.handle.summary()["builds"] == 1


async def test_a_failed_rebuild_keeps_the_old_view(
    make_search_app: MakeSearchApp, catalog_rows: list[CatalogSearchRow]
) -> None:
    calls = 0

    def load_rows() -> list[CatalogSearchRow]:
        nonlocal calls
        calls += 1
        if calls > 1:
            raise ConnectionError("database went away")
        return catalog_rows

    app = await make_search_app(load_rows=load_rows)
    version = app.service.view().index.version
    try:
        await app.service.rebuild()
    except ConnectionError:
        pass
    else:
        raise AssertionError("the rebuild should have failed")
    assert app.service.view().index.version == version
    summary = app.service.handle.summary()
    assert summary["build_failures"] == 1 and "database went away" in summary["last_error"]
    await get_json(app, "/api/search?q=naruto")


async def test_unreachable_database_at_start_falls_back_to_the_bundle(
    make_search_app: MakeSearchApp,
) -> None:
    app = await make_search_app(database_url="postgresql://postgres@127.0.0.1:1/none")
    summary = app.service.handle.summary()
    assert summary["source"] == "bundle" and summary["entries"] > 10_000
    body = await get_json(app, "/api/search?q=steins%20gate&limit=1")
    assert body["items"][0]["id"] == "GC94T080Z"


async def test_empty_catalog_falls_back_to_the_bundle(make_search_app: MakeSearchApp) -> None:
    app = await make_search_app(load_rows=list)
    assert app.service.handle.summary()["source"] == "bundle"


async def test_a_restarted_actor_rebuilds_and_search_never_stops(
    make_search_app: MakeSearchApp,
) -> None:
    app = await make_search_app()
    sup: Any = app.app[keys.SUPERVISOR]
    assert isinstance(sup, Supervisor)
    restart = asyncio.create_task(sup.restart_child("search"))
    during = await app.client.get("/api/search?q=naruto")
    assert during.status == 200
    await restart
    assert (await app.client.get("/api/search?q=naruto")).status == 200  # the previous index
    await app.service.handle.ask(Published())
    assert app.service.handle.summary()["builds"] == 1  # the new incarnation built its own
    await get_json(app, "/api/search?q=naruto")


def test_cursor_key_precedence(tmp_path: Path) -> None:
    base = Config(data_dir=tmp_path)
    configured = dataclasses.replace(base, cursor_secret="k1", admin_token="t")
    assert cursor_key_for(configured) == cursor_key_for(
        dataclasses.replace(base, cursor_secret="k1")
    )
    assert cursor_key_for(configured) != cursor_key_for(
        dataclasses.replace(base, cursor_secret="k2")
    )
    by_token = dataclasses.replace(base, admin_token="t")
    assert cursor_key_for(by_token) == cursor_key_for(dataclasses.replace(base, admin_token="t"))
    assert cursor_key_for(by_token) != cursor_key_for(configured)
    assert not (tmp_path / KEY_FILE).exists()  # neither of those touches the data dir


def test_search_and_list_cursors_share_the_secret_but_not_the_key(tmp_path: Path) -> None:
    config = Config(data_dir=tmp_path, cursor_secret="s")
    assert cursor_key_for(config) == derive_key(config, "search-cursor")
    assert derive_key(config, "search-cursor") != derive_key(config, "list-cursor")


def test_persisted_cursor_key_is_stable_and_private(tmp_path: Path) -> None:
    config = Config(data_dir=tmp_path / "state")
    key = cursor_key_for(config)
    assert len(key) == 32 and cursor_key_for(config) == key  # a restart verifies old cursors
    assert (os.stat(tmp_path / "state" / KEY_FILE).st_mode & 0o777) == 0o600


def test_damaged_key_file_gives_a_process_key(tmp_path: Path) -> None:
    (tmp_path / KEY_FILE).write_text("short")
    config = Config(data_dir=tmp_path)
    assert cursor_key_for(config) != cursor_key_for(config)


def test_actor_without_a_database_indexes_the_bundle_rows_it_is_given(
    catalog_rows: list[CatalogSearchRow],
) -> None:
    actor = SearchActor(Config(cursor_secret="k"), load_rows=lambda: catalog_rows[:5])
    actor.setup()
    actor.warm_up()
    assert actor.summary()["entries"] == 5 and actor.summary()["source"] == "database"


@pytest.mark.parametrize(
    "config",
    [Config(cursor_secret="k", log_format="text", ready_cache_seconds=0)],
)
async def test_the_server_serves_before_the_index_is_built_but_is_not_ready_until_it_is(
    make_search_app: MakeSearchApp, catalog_rows: list[CatalogSearchRow]
) -> None:
    """The listener opens at once (liveness 200, search 503 + Retry-After), but readiness
    fails until the first index is published, so a balancer sends a fresh replica nothing it
    would refuse (the rolling-restart benchmark lost searches when this check was optional)."""
    release = threading.Event()

    def slow_rows() -> list[CatalogSearchRow]:
        release.wait(30)  # a build that takes as long as the test wants
        return catalog_rows

    try:
        app = await make_search_app(load_rows=slow_rows, built=False)  # nothing waits for it
        assert (await app.client.get("/health/live")).status == 200
        ready = await app.client.get("/health/ready")
        assert ready.status == 503
        assert (await ready.json())["checks"]["search"]["status"] == "failing"
        resp = await app.client.get("/api/search?q=gate")
        assert resp.status == 503
        assert resp.content_type == "application/problem+json"
        assert int(resp.headers["Retry-After"]) >= 1
        assert (await resp.json())["request_id"]
    finally:
        release.set()
    handle = app.app[keys.SUPERVISOR].handle("search")
    info = await handle.ask(Published(), timeout=30)
    assert info.entries == len(catalog_rows) and not info.rebuilt
    assert (await app.client.get("/api/search?q=gate")).status == 200
    assert (await app.client.get("/health/ready")).status == 200


async def test_a_slow_first_build_does_not_hit_the_start_timeout(
    catalog_rows: list[CatalogSearchRow],
) -> None:
    release = threading.Event()

    def slow_rows() -> list[CatalogSearchRow]:
        release.wait(30)
        return catalog_rows[:5]

    spec = search_child_spec(Config(cursor_secret="k"), load_rows=slow_rows)
    sup = Supervisor("root", [spec], start_timeout=0.5)
    await sup.start()  # before the fix: the build ran in on_start and this timed out
    try:
        handle = sup.handle("search")
        assert handle.view is None
        with pytest.raises(ActorTimeout):  # it waits behind the build
            await handle.ask(Published(), timeout=0.05)
        release.set()
        info = await handle.ask(Published(), timeout=30)
        assert info.entries == 5 and handle.view is not None
    finally:
        release.set()
        await sup.stop()


def test_a_stopping_actor_abandons_its_build(catalog_rows: list[CatalogSearchRow]) -> None:
    actor = SearchActor(Config(cursor_secret="k"), load_rows=lambda: catalog_rows[:5])
    actor.setup()
    with pytest.raises(ServiceUnavailable):
        actor.handle(Published())  # nothing built yet
    actor.stop_requested.set()  # what the supervisor does before it stops the actor
    actor.warm_up()  # gives up at once, no fallback to the bundle
    assert actor.view is None and actor.summary()["build_failures"] == 0
    with pytest.raises(ActorStopped, match="rebuild was abandoned"):
        actor.handle(Rebuild(reason="sync"))


async def test_a_stop_does_not_wait_for_a_hanging_row_load(
    catalog_rows: list[CatalogSearchRow],
) -> None:
    """The first build's loads (rows, the bundle, the kana dictionaries) take seconds on a
    loaded machine and cannot be interrupted: the actor stops without waiting for them (it
    used to miss its shutdown timeout, and `stop()` reported it)."""
    entered, release = threading.Event(), threading.Event()

    def hanging_rows() -> list[CatalogSearchRow]:
        entered.set()
        release.wait(30)
        return catalog_rows[:5]

    sup = Supervisor("root", [search_child_spec(Config(cursor_secret="k"), load_rows=hanging_rows)])
    await sup.start()
    try:
        assert await asyncio.to_thread(entered.wait, 10)
        assert await sup.stop() == []  # stopped within its timeout, the load still hanging
    finally:
        release.set()
