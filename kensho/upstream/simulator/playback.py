"""Playback: the v3 play endpoint, stream tokens with a per-account limit (420), release (204),
and the HLS master/variant playlists, segments and subtitles the returned ``url`` leads to.

Assumptions beyond the reference (documented in ``docs/simulator.md``): anonymous tokens cannot
play (403), premium-only episodes answer 403 ``{"code":"playback.premium_required"}`` for free
accounts, and manifests are authorised by ``playbackGuid`` alone (players cannot add headers).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from kensho.catalog.derive import is_premium_only
from kensho.upstream.simulator.auth import principal_of
from kensho.upstream.simulator.index import EpisodeRef
from kensho.upstream.simulator.responses import json_error, json_response
from kensho.upstream.simulator.shapes import SUBTITLE_LOCALES, duration_ms
from kensho.upstream.simulator.state import STATE, ActiveStream, SimState

__all__ = ["QUALITIES", "routes"]

routes = web.RouteTableDef()

PLATFORMS = {
    "android": {"phone", "tablet"},
    "console": {"ps4", "ps5", "switch", "xbox_one"},
    "ios": {"ipad", "iphone", "vision"},
    "tv": {"android_tv", "roku", "samsung", "lg"},
    "web": {"chrome", "edge", "firefox", "safari"},
}
#: name -> (width, height, bandwidth)
QUALITIES = {
    "1080p": (1920, 1080, 8_000_000),
    "720p": (1280, 720, 4_000_000),
    "480p": (854, 480, 1_500_000),
    "360p": (640, 360, 800_000),
}
SEGMENT_SECONDS = 6
_TS_NULL_PACKET = b"\x47\x1f\xff\x10" + b"\xff" * 184
_HLS = "application/vnd.apple.mpegurl"


def _live_streams(state: SimState, account_id: str) -> dict[str, ActiveStream]:
    """The account's unexpired streams (expired ones are dropped on the way)."""
    now = state.config.clock()
    streams = state.streams.setdefault(account_id, {})
    for token in [t for t, s in streams.items() if s.expires <= now]:
        del streams[token]
    return streams


def _stream_json(s: ActiveStream, ttl: float) -> dict[str, Any]:
    return {
        "accountId": s.account_id,
        "deviceId": s.device_id,
        "deviceType": s.device_type,
        "deviceSubtype": s.device_subtype,
        "contentId": s.content_id,
        "token": s.token,
        "assetId": "A" + s.content_id[1:],
        "clientId": s.client_id,
        "country": s.country,
        "subscription": "premium" if s.premium else "free",
        "sessionType": "video",
        "playbackType": "on_demand",
        "usesStreamLimits": True,
        "active": True,
        "ttl": int(ttl),
        "maxKeepAliveSeconds": int(ttl),
        "createdTimestamp": int(s.created * 1000),
        "lastKeepAliveTimestamp": int(s.created * 1000),
        "episodeIdentity": s.content_id,
        "tabId": "",
        "pk": f"{s.account_id}#{s.token}",
        "id": s.token,
    }


def _invalid_auth() -> web.Response:
    return json_error(401, "accounts.get_profile.invalid_auth_token")


@routes.get("/playback/v3/{id}/{device}/{platform}/play", name="play")
async def play(request: web.Request) -> web.Response:
    state = request.app[STATE]
    who = principal_of(request)
    if who is None:
        return _invalid_auth()
    device, platform = request.match_info["device"], request.match_info["platform"]
    if platform not in PLATFORMS.get(device, ()):
        return json_response({"error": 40016, "reason": "invalid device or platform"}, status=400)
    episode = state.index.episodes.get(request.match_info["id"])
    if episode is None:
        return json_error(404, "playback.content_not_found")
    if who.account_id is None:
        return json_error(403, "playback.account_required")
    if is_premium_only(episode.season.plan, episode.number) and not who.premium:
        return json_error(403, "playback.premium_required")
    streams = _live_streams(state, who.account_id)
    limit = state.config.stream_limit_premium if who.premium else state.config.stream_limit_free
    ttl = state.config.stream_ttl
    if len(streams) >= limit:
        return json_response(
            {
                "error": "TOO_MANY_ACTIVE_STREAMS",
                "activeStreams": [_stream_json(s, ttl) for s in streams.values()],
            },
            status=420,
        )
    now = state.config.clock()
    token = state.token()
    streams[token] = ActiveStream(
        who.account_id,
        who.device_id,
        device,
        platform,
        episode.id,
        token,
        who.client_id,
        who.country,
        who.premium,
        now,
        now + ttl,
    )
    return json_response(_play_body(request, episode, token, ttl))


def _play_body(request: web.Request, episode: EpisodeRef, token: str, ttl: float) -> dict[str, Any]:
    base = str(request.url.origin())
    eid = episode.id
    subtitles = {
        loc: {"language": loc, "url": f"{base}/playback/subtitles/{eid}/{loc}.ass", "format": "ass"}
        for loc in SUBTITLE_LOCALES
    }
    premium = is_premium_only(episode.season.plan, episode.number)
    return {
        "assetId": "A" + eid[1:],
        "audioLocale": "ja-JP",
        "audioRole": "main",
        "burnedInLocale": "",
        "playbackType": "on_demand",
        "url": f"{base}/playback/manifests/{eid}/master.m3u8",
        "token": token,
        "hardSubs": {"none": {"hlang": "", "url": "", "quality": ""}},
        "subtitles": {**subtitles, "none": {"language": "", "url": "", "format": ""}},
        "captions": {},
        "bifs": f"{base}/playback/bifs/{eid}.bif",
        "session": {
            "renewSeconds": int(ttl) // 2,
            "noNetworkRetryIntervalSeconds": 10,
            "noNetworkTimeoutSeconds": 30,
            "maximumPauseSeconds": int(ttl),
            "endOfVideoUnloadSeconds": 60,
            "sessionExpirationSeconds": int(ttl),
            "usesStreamLimits": True,
        },
        "versions": [
            {
                "guid": eid,
                "media_guid": "M" + eid[1:],
                "season_guid": episode.season.id,
                "audio_locale": "ja-JP",
                "roles": ["main"],
                "is_premium_only": premium,
                "original": True,
                "variant": "",
            }
        ],
    }


@routes.delete("/playback/v1/token/{content_id}/{token}", name="release")
async def release(request: web.Request) -> web.Response:
    """Idempotent: releasing an unknown or expired token is also 204, as the service does."""
    state = request.app[STATE]
    who = principal_of(request)
    if who is None:
        return _invalid_auth()
    if who.account_id is not None:
        streams = state.streams.get(who.account_id, {})
        held = streams.get(request.match_info["token"])
        if held is not None and held.content_id == request.match_info["content_id"]:
            del streams[held.token]
    return web.Response(status=204)


def _authorised(request: web.Request) -> EpisodeRef | web.Response:
    """Manifests, segments and subtitles need a live ``playbackGuid`` for that episode."""
    state = request.app[STATE]
    episode = state.index.episodes.get(request.match_info["id"])
    if episode is None:
        return json_error(404, "playback.content_not_found")
    token = request.query.get("playbackGuid", "")
    now = state.config.clock()
    for streams in state.streams.values():
        held = streams.get(token)
        if held is not None and held.content_id == episode.id and held.expires > now:
            return episode
    return json_error(403, "playback.invalid_playback_guid")


@routes.get("/playback/manifests/{id}/master.m3u8", name="master")
async def master(request: web.Request) -> web.Response:
    found = _authorised(request)
    if isinstance(found, web.Response):
        return found
    guid = request.query["playbackGuid"]
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-INDEPENDENT-SEGMENTS"]
    for name, (w, h, bw) in QUALITIES.items():
        lines.append(
            f"#EXT-X-STREAM-INF:BANDWIDTH={bw},RESOLUTION={w}x{h},"
            f'CODECS="avc1.640028,mp4a.40.2",NAME="{name}"'
        )
        lines.append(f"{name}/index.m3u8?playbackGuid={guid}")
    return web.Response(text="\n".join(lines) + "\n", content_type=_HLS)


@routes.get("/playback/manifests/{id}/{quality}/index.m3u8", name="variant")
async def variant(request: web.Request) -> web.Response:
    found = _authorised(request)
    if isinstance(found, web.Response):
        return found
    if request.match_info["quality"] not in QUALITIES:
        return json_error(404, "playback.quality_not_found")
    guid = request.query["playbackGuid"]
    total = duration_ms(found.season.entry) // 1000
    lines = [
        "#EXTM3U",
        "#EXT-X-VERSION:3",
        f"#EXT-X-TARGETDURATION:{SEGMENT_SECONDS}",
        "#EXT-X-MEDIA-SEQUENCE:0",
        "#EXT-X-PLAYLIST-TYPE:VOD",
    ]
    for n, at in enumerate(range(0, total, SEGMENT_SECONDS)):
        lines.append(f"#EXTINF:{min(SEGMENT_SECONDS, total - at)}.000,")
        lines.append(f"seg-{n}.ts?playbackGuid={guid}")
    lines.append("#EXT-X-ENDLIST")
    return web.Response(text="\n".join(lines) + "\n", content_type=_HLS)


@routes.get("/playback/manifests/{id}/{quality}/seg-{n:[0-9]{1,6}}.ts", name="segment")
async def segment(request: web.Request) -> web.Response:
    """A tiny valid MPEG-TS body (null packets): enough for clients that fetch segments."""
    found = _authorised(request)
    if isinstance(found, web.Response):
        return found
    if request.match_info["quality"] not in QUALITIES:
        return json_error(404, "playback.quality_not_found")
    return web.Response(body=_TS_NULL_PACKET * 7, content_type="video/mp2t")


@routes.get("/playback/subtitles/{id}/{locale}.ass", name="subtitles")
async def subtitles(request: web.Request) -> web.Response:
    state = request.app[STATE]
    episode = state.index.episodes.get(request.match_info["id"])
    locale = request.match_info["locale"]
    if episode is None or locale not in SUBTITLE_LOCALES:
        return json_error(404, "playback.subtitles_not_found")
    title = episode.season.entry.title.replace("\n", " ")
    text = (
        "[Script Info]\nScriptType: v4.00+\nPlayResX: 1920\nPlayResY: 1080\n"
        f"Title: {title} E{episode.number} ({locale})\n\n"
        "[V4+ Styles]\nFormat: Name, Fontname, Fontsize, PrimaryColour, Alignment\n"
        "Style: Default,Arial,48,&H00FFFFFF,2\n\n"
        "[Events]\nFormat: Layer, Start, End, Style, Text\n"
        f"Dialogue: 0,0:00:01.00,0:00:05.00,Default,{title} - episode {episode.number}\n"
    )
    return web.Response(text=text, content_type="text/x-ssa")
