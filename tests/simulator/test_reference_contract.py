"""Contract tests: every answer the public clients decode, checked against their shapes
(``reference_shapes``: crunchyroll-rs' strict structs, yt-dlp, multi-downloader-nx and
Crunchy-Downloader), not against the simulator's own answers."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from yarl import URL

from kensho.catalog.bundle import load_catalog
from kensho.catalog.derive import episode_id, season_id

from . import reference_shapes as ref
from .conftest import BASIC, DEVICE, MakeClient, bearer, login

DN = "G6QWD3EE6"
FREE_EP = episode_id(DN, 1, 1)


def _rel(url: str) -> str:
    return URL(url).path_qs


async def _json(sim: Any, url: str, auth: dict[str, str] | None = None, status: int = 200) -> Any:
    resp = await sim.get(url, headers=auth or {})
    assert resp.status == status, (url, await resp.text())
    return await resp.json()


async def test_content_objects_match_the_strict_structs(sim: Any) -> None:
    auth = await bearer(sim)
    series = (await _json(sim, f"/content/v2/cms/series/{DN}", auth))["data"][0]
    ref.check(series, ref.SERIES, what="Series")
    lp = series["language_presentation"]
    assert lp is None or {"audio_notation", "text_notation"} <= set(lp)
    for image in series["images"]["poster_tall"][0] + series["images"]["poster_wide"][0]:
        ref.check(image, ref.IMAGE, what="Image")
    seasons = (await _json(sim, f"/content/v2/cms/series/{DN}/seasons", auth))["data"]
    for s in seasons:
        ref.check(s, ref.SEASON, what="Season")
        for v in s["versions"]:
            ref.check(v, ref.SEASON_VERSION, what="SeasonVersion")
    episodes = await _json(sim, f"/content/v2/cms/seasons/{seasons[0]['id']}/episodes", auth)
    for e in episodes["data"]:
        ref.check(e, ref.EPISODE, what="Episode")
        for v in e["versions"]:
            ref.check(v, ref.EPISODE_VERSION, what="EpisodeVersion")
        assert all(set(b) == {"offset_ms", "type"} for b in e["ad_breaks"])


async def test_panels_decode_once_metadata_is_merged(sim: Any) -> None:
    auth = await bearer(sim)
    ids = f"{DN},{FREE_EP}"
    data = (await _json(sim, f"/content/v2/cms/objects/{ids}?ratings=true", auth))["data"]
    series = ref.flatten_panel(data[0], "series")
    ref.check({k: v for k, v in series.items() if k != "rating"}, ref.SERIES, what="panel")
    ref.check(data[0]["rating"], ref.SERIES_RATING, what="SearchSeriesRating")
    float(data[0]["rating"]["average"])  # a string holding a number
    episode = ref.flatten_panel(data[1], "episode")
    ref.check({k: v for k, v in episode.items() if k != "rating"}, ref.EPISODE, what="panel")
    ref.check(data[1]["rating"], ref.EPISODE_RATING, what="EpisodeRating")
    assert set(data[1]["rating"]["up"]) == {"displayed", "unit"}
    search = await _json(sim, "/content/v2/discover/search?q=death&limit=3&ratings=true", auth)
    for group in search["data"]:
        for item in group["items"]:
            assert item["type"] == "series" and "rating" in item  # SearchSeries requires it


async def test_play_answer_matches_stream_on_every_path(sim: Any) -> None:
    auth = await bearer(sim)
    paths = [
        f"/playback/v3/{FREE_EP}/tv/android_tv/play",
        f"/playback/v2/{FREE_EP}/android/phone/play",
        f"/playback/v1/{FREE_EP}/web/firefox/play",
        f"/v3/{FREE_EP}/web/chrome/play?queue=0",
        f"/v2/{FREE_EP}/console/switch/play",
        f"/v1/{FREE_EP}/console/switch/play",
    ]
    for path in paths:
        body = await _json(sim, path, auth)
        ref.check(body, ref.STREAM, camel_case=True, what=path)
        ref.check(body["session"], ref.STREAM_SESSION, what="StreamSession")
        for v in body["versions"]:
            ref.check(v, ref.STREAM_VERSION, what="StreamVersion")
        assert set(body["drm"]) == {"name", "drmUrl"}
        for loc, sub in body["subtitles"].items():
            assert set(sub) == {"language", "url", "format"}, loc
        assert (await sim.get(_rel(body["url"]))).status == 200
        release = path.split("/v")[0] + f"/v1/token/{FREE_EP}/{body['token']}"
        assert (await sim.delete(release, headers=auth)).status == 204


@pytest.mark.parametrize("prefix", ["/playback", ""])
async def test_token_inactive_and_keepalive(make_sim: MakeClient, clock: Any, prefix: str) -> None:
    sim = await make_sim(stream_limit_premium=1, stream_ttl=60)
    auth = await bearer(sim)
    body = await _json(sim, f"{prefix}/v3/{FREE_EP}/tv/android_tv/play", auth)
    token = f"{prefix}/v1/token/{FREE_EP}/{body['token']}"
    clock.now += 50
    assert (await sim.patch(f"{token}/keepAlive?playhead=1", headers=auth)).status == 204
    clock.now += 50  # alive thanks to the keepalive: still counts against the limit
    assert (await sim.get(f"{prefix}/v3/{FREE_EP}/tv/android_tv/play", headers=auth)).status == 420
    assert (await sim.patch(f"{token}/keepAlive?playhead=x", headers=auth)).status == 400
    assert (await sim.patch(f"{token}/inactive", headers=auth)).status == 204
    assert (await sim.patch(f"{token}/keepAlive", headers=auth)).status == 404
    assert (await sim.patch(f"{token}/inactive")).status == 401
    sessions = await _json(sim, "/v1/sessions/streaming", auth)
    assert sessions == {"total": 0, "items": []}


async def test_accounts_and_profiles(sim: Any) -> None:
    tokens = await login(sim)
    auth = {"Authorization": f"Bearer {tokens['access_token']}"}
    me = await _json(sim, "/accounts/v1/me", auth)
    ref.check(me, ref.ACCOUNT, what="Account")
    assert me["account_id"] == tokens["account_id"]
    profile = await _json(sim, "/accounts/v1/me/profile", auth)
    ref.check(profile, ref.PROFILE, what="Profile")
    assert profile["profile_id"] == tokens["profile_id"] and profile["maturity_rating"] in (
        "M2",
        "M3",
    )
    profiles = await _json(sim, "/accounts/v1/me/multiprofile", auth)
    ref.check(profiles, ref.PROFILES, what="Profiles")
    for p in profiles["profiles"]:
        ref.check(p, ref.PROFILE, what="Profile")
    assert [p["is_selected"] for p in profiles["profiles"]] == [True, False]
    subs = await _json(sim, f"/subs/v3/subscriptions/{tokens['account_id']}", auth)
    assert isinstance(subs["account_id"], int) and subs["subscription_products"]
    await _json(sim, "/subs/v3/subscriptions/someone-else", auth, status=403)
    for path in ("/accounts/v1/me", "/accounts/v1/me/profile", "/accounts/v1/me/multiprofile"):
        await _json(sim, path, None, status=401)
        await _json(sim, path, {"Authorization": "Bearer " + "x" * 5000}, status=401)
    anon = await sim.post(
        "/auth/v1/token", data={"grant_type": "client_id"}, headers={"Authorization": BASIC}
    )
    anon_auth = {"Authorization": f"Bearer {(await anon.json())['access_token']}"}
    await _json(sim, "/accounts/v1/me", anon_auth, status=403)


async def test_etp_rt_cookie_and_profile_grants(sim: Any) -> None:
    tokens = await login(sim)
    ref.check(tokens, ref.AUTH_RESPONSE, what="AuthResponse")
    cookie = sim.session.cookie_jar.filter_cookies(sim.make_url("/"))["etp_rt"].value
    assert cookie == tokens["refresh_token"]  # the browser cookie carries the session
    web = "Basic " + base64.b64encode(b"noaihdevm_6iyg0a8l0q:").decode()
    # yt-dlp: grant_type only, cookie from the jar, the web client with an empty secret
    resp = await sim.post(
        "/auth/v1/token", data={"grant_type": "etp_rt_cookie"}, headers={"Authorization": web}
    )
    assert resp.status == 200
    rotated = await resp.json()
    ref.check(rotated, ref.AUTH_RESPONSE, what="AuthResponse")
    assert rotated["refresh_token"] != tokens["refresh_token"]
    # Crunchy-Downloader: refresh_token_profile_id, the refresh token only in the etp_rt cookie
    other = next(
        p["profile_id"]
        for p in (
            await _json(
                sim,
                "/accounts/v1/me/multiprofile",
                {"Authorization": f"Bearer {rotated['access_token']}"},
            )
        )["profiles"]
        if not p["is_selected"]
    )
    form = {"grant_type": "refresh_token_profile_id", "profile_id": other, "device_id": DEVICE}
    resp = await sim.post("/auth/v1/token", data=form, headers={"Authorization": BASIC})
    assert resp.status == 200
    switched = await resp.json()
    assert switched["profile_id"] == other
    auth = {"Authorization": f"Bearer {switched['access_token']}"}
    assert (await _json(sim, "/accounts/v1/me/profile", auth))["profile_id"] == other
    for bad in ("", "not-a-profile", "x" * 600):
        sim.session.cookie_jar.update_cookies({"etp_rt": switched["refresh_token"]})
        form["profile_id"] = bad
        assert (
            await sim.post("/auth/v1/token", data=form, headers={"Authorization": BASIC})
        ).status == 400
    sim.session.cookie_jar.clear()
    for cookie_value in ("", "garbage", "x" * 2000):
        sim.session.cookie_jar.update_cookies({"etp_rt": cookie_value})
        resp = await sim.post(
            "/auth/v1/token", data={"grant_type": "etp_rt_cookie"}, headers={"Authorization": web}
        )
        assert resp.status == 400


async def test_index_v2_and_signed_cms(sim: Any, clock: Any) -> None:
    assert (await sim.get("/index/v2")).status == 401
    auth = await bearer(sim)
    index = await _json(sim, "/index/v2", auth)
    ref.check(index, ref.INDEX, what="IndexResp")
    cms = index["cms_web"]
    ref.check(cms, ref.INDEX_CMS, what="IndexRespCms")
    assert cms["bucket"] == "/US/M3/crunchyroll"
    q = f"Policy={cms['policy']}&Signature={cms['signature']}&Key-Pair-Id={cms['key_pair_id']}"
    base = f"/cms/v2{cms['bucket']}"
    seasons = await _json(sim, f"{base}/seasons?series_id={DN}&{q}", auth)
    assert seasons["items"] and seasons["items"][0]["id"] == season_id(DN, 1)
    episodes = await _json(sim, f"{base}/episodes?season_id={season_id(DN, 1)}&{q}", auth)
    assert episodes["items"][0]["id"] == FREE_EP
    series = await _json(sim, f"{base}/series/{DN}?{q}", auth)
    assert series["id"] == DN
    objects = await _json(sim, f"{base}/objects/{DN},{FREE_EP}?{q}", auth)
    assert [o["type"] for o in objects["items"]] == ["series", "episode"]
    streams = await _json(sim, f"{base}/videos/{FREE_EP}/streams?{q}", auth)
    ref.check({k: v for k, v in streams.items() if k != "__class__"}, ref.LEGACY_STREAM)
    variant = streams["streams"]["vo_adaptive_hls"][""]
    ref.check(variant, ref.LEGACY_VARIANT, what="Variant")
    assert (await sim.get(_rel(variant["url"]))).status == 200  # signed: no token needed
    bad = [
        f"{base}/series/{DN}",
        f"{base}/series/{DN}?Policy={cms['policy']}&Signature=AAAA&Key-Pair-Id=x",
        f"{base}/series/{DN}?Policy=e30_&Signature={cms['signature']}&Key-Pair-Id=x",
        f"/cms/v2/DE/M3/crunchyroll/series/{DN}?{q}",
        f"{base}/series/{DN}?Policy={'A' * 5000}&Signature=x&Key-Pair-Id=y",
    ]
    for url in bad:
        resp = await sim.get(url, headers=auth)
        assert resp.status == 403, url
        assert {"code", "context", "message"} <= set(await resp.json())
    clock.now += 3601
    auth = await bearer(sim)
    assert (await sim.get(f"{base}/series/{DN}?{q}", headers=auth)).status == 403


async def test_every_streams_link_of_a_season_resolves(sim: Any) -> None:
    auth = await bearer(sim)
    episodes = await _json(sim, f"/content/v2/cms/seasons/{season_id(DN, 1)}/episodes", auth)
    for e in episodes["data"]:
        doc = await _json(sim, e["streams_link"], auth)
        ref.check(doc["meta"], ref.LEGACY_STREAM, what="legacy meta")
        for kind, by_locale in doc["data"][0].items():
            for variant in by_locale.values():
                ref.check(variant, ref.LEGACY_VARIANT, what=kind)
        media = e["versions"][0]["media_guid"]  # crunchyroll-rs asks for versions by media id
        assert (
            await sim.get(f"/content/v2/cms/videos/{media}/streams", headers=auth)
        ).status == 200
    free = await bearer(sim, username="free@kensho.dev", password="kensho-free")
    premium_ep = next(e for e in episodes["data"] if e["is_premium_only"])
    assert (await sim.get(premium_ep["streams_link"], headers=free)).status == 403


async def test_browse_filters(sim: Any) -> None:
    auth = await bearer(sim)
    catalog = load_catalog()

    async def ids(query: str) -> tuple[int, list[dict[str, Any]]]:
        body = await _json(sim, f"/content/v2/discover/browse?n=100&ratings=true&{query}", auth)
        return body["total"], body["data"]

    total_all, _ = await ids("")
    total_movies, movies = await ids("type=movie_listing")
    total_series, series = await ids("type=series")
    assert total_movies == sum(1 for e in catalog.entries if e.kind == "movie")
    assert total_movies + total_series == total_all
    assert {m["type"] for m in movies} == {"movie_listing"} and {s["type"] for s in series} == {
        "series"
    }
    listing_in_search = (ref.MOVIE_LISTING[0], ref.MOVIE_LISTING[1] | {"rating"})
    for m in movies[:3]:
        ref.check(ref.flatten_panel(m, "movie_listing"), listing_in_search, what="browse")
    assert (await ids("is_dubbed=true"))[0] == 0
    assert (await ids("is_dubbed=false"))[0] == total_all
    fall_2006, items = await ids("seasonal_tag=fall-2006")
    assert 0 < fall_2006 < total_all
    assert all("fall-2006" in i["series_metadata"]["season_tags"] for i in items)
    action, items = await ids("categories=action")
    assert 0 < action < total_all
    _, episodes = await ids("type=episode&n=5")
    assert {e["type"] for e in episodes} == {"episode"}
    for bad in ("type=anime", "is_dubbed=maybe", "seasonal_tag=autumn-2006", "seasonal_tag=x" * 10):
        assert (await sim.get(f"/content/v2/discover/browse?{bad}", headers=auth)).status == 400


async def test_categories_season_list_up_next_previous(sim: Any) -> None:
    auth = await bearer(sim)
    cats = (await _json(sim, "/content/v2/discover/categories", auth))["data"]
    for c in cats:
        ref.check(c, ref.CATEGORY, what="CategoryInformation")
    assert {"action", "shonen", "sci-fi"} <= {c["id"] for c in cats}
    mine = (await _json(sim, f"/content/v2/discover/categories?guid={DN}", auth))["data"]
    assert mine and {c["id"] for c in mine} <= {c["id"] for c in cats}
    assert (await _json(sim, "/content/v2/discover/categories?guid=GNOPE", auth))["data"] == []
    await _json(sim, "/content/v2/discover/categories?guid=" + "A" * 100, auth, status=400)
    seasons = await _json(sim, "/content/v1/season_list?locale=en-US", auth)
    ref.check(seasons, ref.SIMULCAST_SEASONS, what="BulkSimulcastSeasonResult")
    ref.check(seasons["items"][0], ref.SIMULCAST_SEASON, what="SimulcastSeason")
    nxt = await _json(sim, f"/content/v2/discover/up_next/{FREE_EP}", auth)
    ref.check(nxt["data"][0], ref.RELATED_MEDIA, what="RelatedMedia")
    assert nxt["data"][0]["panel"]["id"] == episode_id(DN, 1, 2)
    first = await _json(sim, f"/content/v2/discover/up_next/{DN}", auth)
    assert first["data"][0]["panel"]["id"] == FREE_EP
    assert await _json(sim, f"/content/v2/discover/previous_episode/{FREE_EP}", auth) == {}
    prev = await _json(sim, f"/content/v2/discover/previous_episode/{episode_id(DN, 1, 2)}", auth)
    assert prev["data"][0]["panel"]["id"] == FREE_EP
    assert await _json(sim, "/content/v2/discover/up_next/GNOPE", auth) == {}


async def test_movie_listings(sim: Any) -> None:
    auth = await bearer(sim)
    movie = next(e for e in load_catalog().entries if e.kind == "movie")
    listing = (await _json(sim, f"/content/v2/cms/movie_listings/{movie.series_id}", auth))["data"]
    ref.check(listing[0], ref.MOVIE_LISTING, what="MovieListing")
    movies = await _json(sim, f"/content/v2/cms/movie_listings/{movie.series_id}/movies", auth)
    ref.check(movies["data"][0], ref.MOVIE, what="Movie")
    assert movies["data"][0]["id"] == listing[0]["first_movie_id"]
    one = await _json(sim, f"/content/v2/cms/movies/{listing[0]['first_movie_id']}", auth)
    assert one["data"][0]["movie_listing_id"] == movie.series_id
    await _json(sim, f"/content/v2/cms/movie_listings/{DN}", auth, status=404)  # a TV series
    await _json(sim, f"/content/v2/cms/movies/{FREE_EP}", auth, status=404)
