"""The simulator's CPU shortcuts (orjson bodies, cached per-series/season parts, remembered
bearers and origins): bounded, never stale, never shared between bodies or apps."""

from __future__ import annotations

import dataclasses
import json
from types import MappingProxyType
from typing import Any

from kensho.catalog import Catalog, load_catalog
from kensho.upstream.simulator.auth import MAX_REMEMBERED_BEARERS, encode_jwt
from kensho.upstream.simulator.index import index_for, slugify
from kensho.upstream.simulator.links import MAX_REMEMBERED_ORIGINS
from kensho.upstream.simulator.shapes import (
    SEASON_CACHE,
    SERIES_CACHE,
    BoundedCache,
    episode_flat,
    episodes_flat,
    season_flat,
)
from kensho.upstream.simulator.state import STATE

from .conftest import MakeClient, bearer


def _small_catalog(title: str | None = None, count: int = 3) -> Catalog:
    """The first `count` series, the first one renamed to `title` (same ids, other data)."""
    full = load_catalog()
    entries = list(full.entries[:count])
    if title is not None:
        entries[0] = dataclasses.replace(entries[0], title=title)
    by_id = MappingProxyType({e.series_id: e for e in entries})
    return Catalog(full.version, tuple(entries), by_id)


def test_bounded_cache_never_exceeds_its_limit() -> None:
    cache: BoundedCache[int, str] = BoundedCache(3)
    for i in range(10):
        assert cache.put(i, str(i)) == str(i)
        assert len(cache) <= 3
    assert cache.get(9) == "9"
    assert cache.get(0) is None


def test_shape_caches_stay_bounded_over_the_whole_catalog() -> None:
    index = index_for(load_catalog())
    for season in index.seasons.values():
        season_flat(season, "http://x")
        assert len(SEASON_CACHE) <= SEASON_CACHE.limit
    assert len(SERIES_CACHE) <= SERIES_CACHE.limit
    assert len(index.seasons) > SEASON_CACHE.limit  # the bound was actually exercised


def test_another_catalog_with_the_same_ids_is_not_served_stale_parts() -> None:
    first = index_for(_small_catalog("First Title"))
    second = index_for(_small_catalog("Second Title"))
    entry_id = first.catalog.entries[0].series_id
    one, two = first.seasons_of[entry_id][0], second.seasons_of[entry_id][0]
    assert season_flat(one, "http://x")["slug_title"] == "first-title"
    assert season_flat(two, "http://x")["slug_title"] == "second-title"
    assert season_flat(one, "http://x")["slug_title"] == "first-title"
    episode = first.episodes[first.episode_ids[one.id][0]]
    assert episode_flat(first, episode, "http://x")["series_slug_title"] == "first-title"


def test_episodes_of_one_list_do_not_share_their_varying_parts() -> None:
    index = index_for(load_catalog())
    season = next(s for s in index.seasons.values() if s.plan.episode_count >= 8)
    bodies = episodes_flat(index, season, "http://h")
    assert [b["episode_number"] for b in bodies] == list(range(1, len(bodies) + 1))
    assert bodies[0]["versions"] is not bodies[1]["versions"]
    assert bodies[0]["images"] is not bodies[1]["images"]
    bodies[0]["title"] = "changed"
    assert episodes_flat(index, season, "http://h")[0]["title"] == "Episode 1"
    # the list and the single-episode builder agree, `next_episode_*` included
    for body in episodes_flat(index, season, "http://h"):
        single = episode_flat(index, index.episodes[body["id"]], "http://h")
        assert single == body and list(single) == list(body)
        assert body["slug"] == slugify(body["title"])
    assert "next_episode_id" not in bodies[-1]
    assert bodies[-2]["next_episode_id"] == bodies[-1]["id"]


async def test_json_bodies_are_utf8_with_the_json_content_type(make_sim: MakeClient) -> None:
    sim = await make_sim()
    headers = await bearer(sim)
    entry = next(
        e for e in load_catalog().entries[:2000] if any(not t.text.isascii() for t in e.titles)
    )
    resp = await sim.get(f"/content/v2/cms/series/{entry.series_id}", headers=headers)
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "application/json; charset=utf-8"
    raw = await resp.read()
    doc = json.loads(raw.decode("utf-8"))
    keywords = doc["data"][0]["keywords"]
    assert any(not k.isascii() for k in keywords)
    assert b"\\u" not in raw  # non-ASCII is written as UTF-8, not escaped
    errors = await sim.get("/content/v2/cms/series/NOPE", headers=headers)
    assert errors.headers["Content-Type"] == "application/json; charset=utf-8"
    assert await errors.json() == {"code": "cms.get_series.not_found", "context": []}


async def test_forged_bearers_are_rejected_and_not_remembered(make_sim: MakeClient) -> None:
    sim = await make_sim()
    state = sim.server.app[STATE]
    good = await bearer(sim)
    url = "/content/v2/cms/series/G6QWD3EE6"
    assert (await sim.get(url, headers=good)).status == 200
    remembered = dict(state.bearers)
    assert len(remembered) == 1
    claims = {"exp": 4_000_000_000, "account_id": "x", "benefits": ["cr_premium"]}
    forged = [
        encode_jwt(claims, "not-the-secret"),
        good["Authorization"][len("Bearer ") :] + "x",
        "a.b.c",
        "x" * 5000,
    ]
    for token in forged:
        resp = await sim.get(url, headers={"Authorization": f"Bearer {token}"})
        assert resp.status == 401
    assert state.bearers == remembered


async def test_remembered_bearers_are_bounded(make_sim: MakeClient) -> None:
    sim = await make_sim()
    state = sim.server.app[STATE]
    secret, now = state.config.jwt_secret, int(state.config.clock())
    url = "/content/v2/cms/series/G6QWD3EE6"
    for i in range(MAX_REMEMBERED_BEARERS + 5):
        token = encode_jwt({"exp": now + 60, "account_id": str(i)}, secret)
        resp = await sim.get(url, headers={"Authorization": f"Bearer {token}"})
        assert resp.status == 200
        assert len(state.bearers) <= MAX_REMEMBERED_BEARERS


async def test_image_urls_follow_the_host_header(make_sim: MakeClient) -> None:
    sim = await make_sim()
    state = sim.server.app[STATE]
    headers = await bearer(sim)
    url = "/content/v2/cms/series/G6QWD3EE6"
    sources = set()
    for i in range(MAX_REMEMBERED_ORIGINS + 3):
        resp = await sim.get(url, headers={**headers, "Host": f"h{i}.example:81"})
        body: dict[str, Any] = await resp.json()
        source = body["data"][0]["images"]["poster_tall"][0][0]["source"]
        assert source.startswith(f"http://h{i}.example:81/imgsrv/")
        sources.add(source)
        assert len(state.origins) <= MAX_REMEMBERED_ORIGINS
    assert len(sources) == MAX_REMEMBERED_ORIGINS + 3
