"""Play endpoint, stream limit (420) and release, premium check, HLS manifests, subtitles."""

from __future__ import annotations

from typing import Any

import pytest
from yarl import URL

from kensho.catalog.derive import episode_id

from .conftest import BASIC, Clock, MakeClient, bearer

DN = "G6QWD3EE6"
FREE_EP = episode_id(DN, 1, 1)
PREMIUM_EP = episode_id(DN, 1, 37)  # the newest quarter of the season (28-37) is premium
PLAY_KEYS = {
    "assetId",
    "audioLocale",
    "audioRole",
    "burnedInLocale",
    "playbackType",
    "url",
    "token",
    "hardSubs",
    "subtitles",
    "captions",
    "bifs",
    "session",
    "versions",
    "drm",
}
SESSION_KEYS = {
    "renewSeconds",
    "noNetworkRetryIntervalSeconds",
    "noNetworkTimeoutSeconds",
    "maximumPauseSeconds",
    "endOfVideoUnloadSeconds",
    "sessionExpirationSeconds",
    "usesStreamLimits",
}
ACTIVE_KEYS = {
    "accountId",
    "deviceId",
    "deviceType",
    "deviceSubtype",
    "contentId",
    "token",
    "assetId",
    "clientId",
    "country",
    "subscription",
    "sessionType",
    "playbackType",
    "usesStreamLimits",
    "active",
    "ttl",
    "maxKeepAliveSeconds",
    "createdTimestamp",
    "lastKeepAliveTimestamp",
    "episodeIdentity",
    "tabId",
    "pk",
    "id",
}


def _rel(url: str) -> str:
    """The test client only takes paths; the simulator hands out absolute URLs."""
    return URL(url).path_qs


def _play_url(ep: str, device: str = "tv/android_tv") -> str:
    return f"/playback/v3/{ep}/{device}/play"


async def test_play_shape_and_manifests(sim: Any) -> None:
    auth = await bearer(sim)
    resp = await sim.get(_play_url(FREE_EP), headers=auth)
    assert resp.status == 200
    body = await resp.json()
    assert set(body) == PLAY_KEYS and set(body["session"]) == SESSION_KEYS
    assert "none" in body["subtitles"] and body["burnedInLocale"] == ""
    assert body["versions"][0]["guid"] == FREE_EP
    assert set(body["drm"]) == {"name", "drmUrl"}
    # fetchable exactly as returned, and with the client's own accountid/playbackGuid added
    for url in (
        _rel(body["url"]),
        _rel(body["url"]) + f"&accountid=x&playbackGuid={body['token']}",
    ):
        mpd = await sim.get(url)
        assert mpd.status == 200, url
        assert mpd.headers["Content-Type"].startswith("application/dash+xml")
        assert (await mpd.text()).lstrip().startswith("<?xml")
    base = _rel(body["url"]).rsplit("/", 1)[0]
    master = await sim.get(f"{base}/master.m3u8?playbackGuid={body['token']}")
    assert master.status == 200
    assert master.headers["Content-Type"].startswith("application/vnd.apple.mpegurl")
    text = await master.text()
    assert text.startswith("#EXTM3U")
    for q in ("1080p", "720p", "480p", "360p"):
        assert f"{q}/index.m3u8?playbackGuid={body['token']}" in text
    variant = await (await sim.get(f"{base}/720p/index.m3u8?playbackGuid={body['token']}")).text()
    assert "#EXT-X-ENDLIST" in variant
    seconds = sum(float(x.split(":")[1].rstrip(",")) for x in variant.split() if "EXTINF" in x)
    assert 1420 - 4 < seconds <= 1420  # the loop repeated for the episode's length
    segment = next(line for line in variant.splitlines() if line.endswith(".ts"))
    seg = await sim.get(_rel(segment))
    assert seg.status == 200 and (await seg.read())[0] == 0x47
    sub = await sim.get(_rel(body["subtitles"]["en-US"]["url"]))
    assert sub.status == 200 and "[Script Info]" in await sub.text()


async def test_apple_platforms_get_hls(sim: Any) -> None:
    auth = await bearer(sim)
    for device in ("web/safari", "ios/iphone"):
        body = await (await sim.get(_play_url(FREE_EP, device), headers=auth)).json()
        assert "/master.m3u8?playbackGuid=" in body["url"]
        assert (await sim.get(_rel(body["url"]))).status == 200
        await sim.delete(f"/playback/v1/token/{FREE_EP}/{body['token']}", headers=auth)


@pytest.mark.parametrize("guid", ["", "nope", "x" * 5000])
async def test_manifest_requires_playback_guid(sim: Any, guid: str) -> None:
    auth = await bearer(sim)
    body = await (await sim.get(_play_url(FREE_EP), headers=auth)).json()
    assert (await sim.get(f"{_rel(body['url'])}?playbackGuid={guid}")).status == 403
    other = _rel(body["url"]).replace(FREE_EP, episode_id(DN, 1, 2))
    assert (await sim.get(f"{other}?playbackGuid={body['token']}")).status == 403


async def test_stream_limit_420_and_release(make_sim: MakeClient) -> None:
    sim = await make_sim(stream_limit_premium=2)
    auth = await bearer(sim)
    tokens = []
    for _ in range(2):
        resp = await sim.get(_play_url(FREE_EP), headers=auth)
        assert resp.status == 200
        tokens.append((await resp.json())["token"])
    resp = await sim.get(_play_url(FREE_EP), headers=auth)
    assert resp.status == 420
    body = await resp.json()
    assert set(body) == {"error", "activeStreams"} and body["error"] == "TOO_MANY_ACTIVE_STREAMS"
    assert {s["token"] for s in body["activeStreams"]} == set(tokens)
    assert set(body["activeStreams"][0]) == ACTIVE_KEYS
    rel = await sim.delete(f"/playback/v1/token/{FREE_EP}/{tokens[0]}", headers=auth)
    assert rel.status == 204
    assert (await sim.get(_play_url(FREE_EP), headers=auth)).status == 200
    # released token no longer opens the manifest
    url = f"/playback/manifests/{FREE_EP}/master.m3u8?playbackGuid={tokens[0]}"
    assert (await sim.get(url)).status == 403


async def test_free_account_limit_is_one_and_separate(sim: Any) -> None:
    free = await bearer(sim, username="free@kensho.dev", password="kensho-free")
    assert (await sim.get(_play_url(FREE_EP), headers=free)).status == 200
    assert (await sim.get(_play_url(FREE_EP), headers=free)).status == 420
    premium = await bearer(sim)
    assert (await sim.get(_play_url(FREE_EP), headers=premium)).status == 200


async def test_streams_expire_after_ttl(make_sim: MakeClient, clock: Clock) -> None:
    sim = await make_sim(stream_ttl=60, expires_in=3600)
    free = await bearer(sim, username="free@kensho.dev", password="kensho-free")
    assert (await sim.get(_play_url(FREE_EP), headers=free)).status == 200
    assert (await sim.get(_play_url(FREE_EP), headers=free)).status == 420
    clock.now += 61
    assert (await sim.get(_play_url(FREE_EP), headers=free)).status == 200


async def test_premium_only_refused_for_free(sim: Any) -> None:
    free = await bearer(sim, username="free@kensho.dev", password="kensho-free")
    resp = await sim.get(_play_url(PREMIUM_EP), headers=free)
    assert resp.status == 403
    assert await resp.json() == {"code": "playback.premium_required", "context": []}
    assert (await sim.get(_play_url(PREMIUM_EP), headers=await bearer(sim))).status == 200


async def test_play_errors(sim: Any) -> None:
    auth = await bearer(sim)
    assert (await sim.get(_play_url(FREE_EP))).status == 401
    bad = await sim.get(_play_url(FREE_EP, "tv/toaster"), headers=auth)
    assert bad.status == 400 and (await bad.json())["error"] == 40016
    assert (await sim.get(_play_url("GNOPE"), headers=auth)).status == 404
    assert (await sim.delete(f"/playback/v1/token/{FREE_EP}/whatever")).status == 401
    assert (await sim.delete(f"/playback/v1/token/{FREE_EP}/unknown", headers=auth)).status == 204


async def test_anonymous_plays_free_episodes_only(sim: Any) -> None:

    resp = await sim.post(
        "/auth/v1/token", data={"grant_type": "client_id"}, headers={"Authorization": BASIC}
    )
    anon = {"Authorization": f"Bearer {(await resp.json())['access_token']}"}
    play = await sim.get(_play_url(FREE_EP), headers=anon)
    assert play.status == 200
    assert (await sim.get(_rel((await play.json())["url"]))).status == 200
    refused = await sim.get(_play_url(PREMIUM_EP), headers=anon)
    assert refused.status == 403
    assert await refused.json() == {"code": "playback.premium_required", "context": []}


@pytest.mark.parametrize(
    "path", [f"/playback/subtitles/{FREE_EP}/xx-XX.ass", "/playback/subtitles/GNOPE/en-US.ass"]
)
async def test_subtitles_404(sim: Any, path: str) -> None:
    assert (await sim.get(path)).status == 404
