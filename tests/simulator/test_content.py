"""CMS, objects, browse and search: strict key sets per the reference, to catch drift."""

from __future__ import annotations

from typing import Any

import pytest

from kensho.catalog import load_catalog
from kensho.catalog.derive import episode_id, season_id

from .conftest import bearer

SERIES_KEYS = {
    "id",
    "channel_id",
    "slug",
    "slug_title",
    "title",
    "description",
    "extended_description",
    "series_launch_year",
    "episode_count",
    "season_count",
    "media_count",
    "is_subbed",
    "is_dubbed",
    "is_simulcast",
    "audio_locales",
    "subtitle_locales",
    "images",
    "maturity_ratings",
    "is_mature",
    "mature_blocked",
    "extended_maturity_rating",
    "content_descriptors",
    "keywords",
    "season_tags",
    "tenant_categories",
    "availability_notes",
    "availability_status",
    "content_provider",
    "awards",
    "livestream",
    "language_presentation",
}
SEASON_KEYS = {
    "id",
    "series_id",
    "channel_id",
    "title",
    "slug_title",
    "description",
    "identifier",
    "season_number",
    "season_sequence_number",
    "season_display_number",
    "number_of_episodes",
    "is_complete",
    "is_subbed",
    "is_dubbed",
    "is_simulcast",
    "audio_locale",
    "audio_locales",
    "subtitle_locales",
    "maturity_ratings",
    "is_mature",
    "mature_blocked",
    "extended_maturity_rating",
    "keywords",
    "season_tags",
    "images",
    "availability_notes",
    "versions",
}
EPISODE_KEYS = {
    "id",
    "channel_id",
    "slug",
    "slug_title",
    "title",
    "description",
    "identifier",
    "series_id",
    "series_title",
    "series_slug_title",
    "season_id",
    "season_title",
    "season_slug_title",
    "season_number",
    "season_display_number",
    "season_sequence_number",
    "episode",
    "episode_number",
    "sequence_number",
    "duration_ms",
    "episode_air_date",
    "upload_date",
    "free_available_date",
    "premium_available_date",
    "availability_starts",
    "availability_ends",
    "audio_locale",
    "subtitle_locales",
    "images",
    "eligible_region",
    "is_premium_only",
    "is_clip",
    "is_dubbed",
    "is_subbed",
    "is_mature",
    "mature_blocked",
    "maturity_ratings",
    "available_offline",
    "closed_captions_available",
    "availability_notes",
    "availability_status",
    "versions",
    "ad_breaks",
    "streams_link",
    "hd_flag",
    "tenant_categories",
    "available_date",
    "premium_date",
    "extended_maturity_rating",
}
PANEL_KEYS = {
    "id",
    "type",
    "title",
    "slug_title",
    "description",
    "images",
    "promo_title",
    "promo_description",
    "slug",
    "channel_id",
    "linked_resource_key",
    "external_id",
    "new",
    "search_metadata",
}
EPISODE_VERSION_KEYS = {
    "guid",
    "media_guid",
    "season_guid",
    "audio_locale",
    "is_premium_only",
    "original",
    "variant",
    "roles",
}
DEATH_NOTE = "G6QWD3EE6"  # a real Crunchyroll id from bangumi-data


@pytest.fixture
async def auth(sim: Any) -> dict[str, str]:
    return await bearer(sim)


async def _get(sim: Any, url: str, auth: dict[str, str], status: int = 200) -> Any:
    resp = await sim.get(url, headers=auth)
    assert resp.status == status, await resp.text()
    return await resp.json()


def _envelope(body: Any) -> list[dict[str, Any]]:
    assert set(body) == {"total", "data", "meta"}
    assert body["total"] == len(body["data"]) or "next_page" in body["meta"]
    data: list[dict[str, Any]] = body["data"]
    return data


def _images_ok(images: dict[str, Any], kinds: set[str]) -> None:
    assert set(images) == kinds
    for variants in images.values():
        assert isinstance(variants, list) and isinstance(variants[0], list)
        assert set(variants[0][0]) == {"source", "type", "width", "height"}


async def test_series(sim: Any, auth: dict[str, str]) -> None:
    [series] = _envelope(await _get(sim, f"/content/v2/cms/series/{DEATH_NOTE}", auth))
    assert set(series) == SERIES_KEYS
    assert series["id"] == DEATH_NOTE and series["title"] == "Death Note"
    # one season upstream (and on Crunchyroll): never split by length (issue 16)
    assert series["episode_count"] == 37 and series["season_count"] == 1
    assert series["series_launch_year"] == 2006
    assert "Mystery" in series["tenant_categories"] and "死亡笔记" in series["keywords"]
    _images_ok(series["images"], {"poster_tall", "poster_wide"})


async def test_seasons_and_episodes(sim: Any, auth: dict[str, str]) -> None:
    seasons = _envelope(await _get(sim, f"/content/v2/cms/series/{DEATH_NOTE}/seasons", auth))
    assert [s["id"] for s in seasons] == [season_id(DEATH_NOTE, 1)]
    assert set(seasons[0]) == SEASON_KEYS
    assert seasons[0]["identifier"] == f"{DEATH_NOTE}|S1"
    assert seasons[0]["number_of_episodes"] == 37
    [single] = _envelope(await _get(sim, f"/content/v2/cms/seasons/{seasons[0]['id']}", auth))
    assert single == seasons[0]
    # the second season earlier releases derived by length is gone
    await _get(sim, f"/content/v2/cms/seasons/{season_id(DEATH_NOTE, 2)}", auth, status=404)

    episodes = _envelope(
        await _get(sim, f"/content/v2/cms/seasons/{seasons[0]['id']}/episodes", auth)
    )
    assert len(episodes) == 37
    assert [e["episode_number"] for e in episodes] == list(range(1, 38))
    for ep in episodes[:-1]:
        assert set(ep) == EPISODE_KEYS | {"next_episode_id", "next_episode_title"}
    assert set(episodes[-1]) == EPISODE_KEYS  # the last one has no next episode
    assert episodes[0]["next_episode_id"] == episodes[1]["id"]
    # ids of the first 26 episodes are the ones earlier releases gave them
    assert episodes[0]["id"] == episode_id(DEATH_NOTE, 1, 1) == "GA2WD0B9AX9S1"
    assert episodes[36]["id"] == episode_id(DEATH_NOTE, 1, 37)
    assert episodes[0]["is_premium_only"] is False and episodes[-1]["is_premium_only"] is True
    assert set(episodes[0]["versions"][0]) == EPISODE_VERSION_KEYS
    _images_ok(episodes[0]["images"], {"thumbnail"})
    assert episodes[0]["episode_air_date"].endswith("Z")

    [one] = _envelope(await _get(sim, f"/content/v2/cms/episodes/{episodes[30]['id']}", auth))
    assert one == episodes[30]


async def test_long_run_is_split_into_seasons(sim: Any, auth: dict[str, str]) -> None:
    """BLEACH (366 episodes in one MyAnimeList entry) is the kind of run that is split."""
    bleach = next(e for e in load_catalog().entries if e.key == "mal:269")
    url = f"/content/v2/cms/series/{bleach.series_id}/seasons"
    seasons = _envelope(await _get(sim, url, auth))
    counts = [s["number_of_episodes"] for s in seasons]
    assert counts == [26] * 14 + [2] and sum(counts) == 366
    assert [s["season_number"] for s in seasons] == list(range(1, 16))


@pytest.mark.parametrize(
    "path",
    [
        "series/GNOPE0000",
        "series/GNOPE0000/seasons",
        "seasons/GNOPE",
        "seasons/GNOPE/episodes",
        "episodes/GNOPE",
        "series/%27%20OR%201%3D1",
        "series/" + "G" * 500,
        "series/g6qwd3ee6",
        "episodes/..%2F..%2Fetc",
    ],
)
async def test_unknown_ids_are_404(sim: Any, auth: dict[str, str], path: str) -> None:
    body = await _get(sim, f"/content/v2/cms/{path}", auth, status=404)
    assert set(body) == {"code", "context"} and body["context"] == []


async def test_unknown_route_is_json_404(sim: Any, auth: dict[str, str]) -> None:
    body = await _get(sim, "/content/v2/nope", auth, status=404)
    assert body["code"] == "cms.resource_not_found"


async def test_objects_panels(sim: Any, auth: dict[str, str]) -> None:
    ep = episode_id(DEATH_NOTE, 1, 1)
    ids = ",".join([DEATH_NOTE, "GNOPE", season_id(DEATH_NOTE, 1), ep])
    data = _envelope(await _get(sim, f"/content/v2/cms/objects/{ids}?ratings=true", auth))
    assert [d["type"] for d in data] == ["series", "season", "episode"]
    assert set(data[0]) == PANEL_KEYS | {"series_metadata", "rating"}
    assert set(data[0]["series_metadata"]) == SERIES_KEYS - {
        "id",
        "title",
        "slug",
        "slug_title",
        "description",
        "images",
        "channel_id",
    }
    assert set(data[2]) == PANEL_KEYS | {"episode_metadata", "streams_link", "rating"}
    assert set(data[2]["rating"]) == {"up", "down", "total", "rating"}
    assert data[2]["episode_metadata"]["season_id"] == season_id(DEATH_NOTE, 1)
    assert float(data[0]["rating"]["average"]) == pytest.approx(8.71 / 2, abs=0.05)


@pytest.mark.parametrize("ids", [",,,", ",".join(["GX"] * 101)])
async def test_objects_bad_ids(sim: Any, auth: dict[str, str], ids: str) -> None:
    await _get(sim, f"/content/v2/cms/objects/{ids}", auth, status=400)


async def test_browse_pages_through_everything(sim: Any, auth: dict[str, str]) -> None:
    body = await _get(sim, "/content/v2/discover/browse?n=100&start=0", auth)
    data = _envelope(body)
    total = len(load_catalog().entries)
    assert body["total"] == total and len(data) == 100
    assert body["meta"]["prev_page"] == ""
    assert "start=100" in body["meta"]["next_page"]
    assert data[0]["id"] == load_catalog().entries[0].series_id
    assert set(data[0]) == PANEL_KEYS | {"series_metadata"}
    nxt = await _get(sim, body["meta"]["next_page"], auth)
    assert nxt["data"][0]["id"] == load_catalog().entries[100].series_id
    last = await _get(sim, f"/content/v2/discover/browse?n=100&start={total - 5}", auth)
    assert len(last["data"]) == 5 and last["meta"]["next_page"] == ""
    past = await _get(sim, f"/content/v2/discover/browse?start={total + 10}", auth)
    assert past["data"] == [] and past["meta"]["next_page"] == ""


async def test_browse_huge_n_is_clamped(sim: Any, auth: dict[str, str]) -> None:
    body = await _get(sim, "/content/v2/discover/browse?n=100000000", auth)
    assert len(body["data"]) == 100


@pytest.mark.parametrize(
    "query",
    [
        "n=-1",
        "n=0",
        "n=abc",
        "start=-5",
        "start=1e3",
        "sort_by=random",
        "n=" + "9" * 40,
        "categories=" + "x" * 100,
    ],
)
async def test_browse_bad_params(sim: Any, auth: dict[str, str], query: str) -> None:
    body = await _get(sim, f"/content/v2/discover/browse?{query}", auth, status=400)
    assert body["code"] == "cms.invalid_request"


async def test_browse_sorts_and_categories(sim: Any, auth: dict[str, str]) -> None:
    alpha = await _get(sim, "/content/v2/discover/browse?sort_by=alphabetical&n=50", auth)
    titles = [d["title"].casefold() for d in alpha["data"]]
    assert titles == sorted(titles)
    new = await _get(sim, "/content/v2/discover/browse?sort_by=newly_added&n=5", auth)
    years = [d["series_metadata"]["series_launch_year"] for d in new["data"]]
    assert years[0] is not None and years[0] >= 2025
    horror = await _get(sim, "/content/v2/discover/browse?categories=horror&n=100", auth)
    assert 0 < horror["total"] < len(load_catalog().entries)
    assert all("Horror" in d["series_metadata"]["tenant_categories"] for d in horror["data"])
    none = await _get(sim, "/content/v2/discover/browse?categories=no-such-genre", auth)
    assert none["total"] == 0 and none["data"] == []


async def test_search_grouped(sim: Any, auth: dict[str, str]) -> None:
    body = await _get(sim, "/content/v2/discover/search?q=death%20note&n=3", auth)
    assert set(body) == {"total", "data", "meta"}
    assert [g["type"] for g in body["data"]] == ["series", "movie_listing", "episode"]
    series = body["data"][0]
    assert set(series) == {"type", "count", "items"}
    assert series["count"] > 3 and len(series["items"]) == 3
    assert series["items"][0]["id"] == DEATH_NOTE  # exact title ranks first
    assert set(series["items"][0]) == PANEL_KEYS | {"series_metadata"}
    page2 = await _get(
        sim, "/content/v2/discover/search?q=death%20note&type=series&limit=3&start=3", auth
    )
    assert [g["type"] for g in page2["data"]] == ["series"]
    assert not {i["id"] for i in page2["data"][0]["items"]} & {i["id"] for i in series["items"]}


async def test_search_other_languages_and_music(sim: Any, auth: dict[str, str]) -> None:
    body = await _get(
        sim,
        "/content/v2/discover/search?q=%E6%AD%BB%E4%BA%A1%E7%AC%94%E8%AE%B0&type=series,music",
        auth,
    )
    assert body["data"][0]["items"][0]["id"] == DEATH_NOTE
    assert body["data"][1] == {"type": "musicVideo", "count": 0, "items": []}


@pytest.mark.parametrize(
    "query", ["q=" + "a" * 300, "q=x&type=bogus", "q=x&n=-1", "q=x&start=-1", "q=x&type="]
)
async def test_search_bad_params(sim: Any, auth: dict[str, str], query: str) -> None:
    await _get(sim, f"/content/v2/discover/search?{query}", auth, status=400)


async def test_search_empty_query(sim: Any, auth: dict[str, str]) -> None:
    body = await _get(sim, "/content/v2/discover/search?q=", auth)
    assert all(g["count"] == 0 for g in body["data"])
