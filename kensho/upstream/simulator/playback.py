"""Playback: the play endpoints, stream tokens (limit 420, release, inactive, keepalive), the
DASH and HLS manifests the play answer leads to, and ASS/WebVTT subtitles.

Paths: ``/playback/v{1,2,3}/{id}/{device}/{platform}/play`` (www host, crunchyroll-rs) and
``/v{1,2,3}/{id}/{device}/{platform}/play`` (the play-service host: yt-dlp, multi-downloader-nx,
Crunchy-Downloader); token release by ``DELETE …/v1/token/{id}/{token}`` or
``PATCH …/inactive``, keepalive by ``PATCH …/keepAlive``, on both hosts' layouts.

The answer's ``url`` is fetchable exactly as returned (its ``playbackGuid`` is in it; clients
that append ``accountid``/``playbackGuid`` again get the same answer): a DASH MPD, as the real
service returns, except for Apple platforms (``ios/*``, ``web/safari``: an assumption, Apple
players need HLS), which get the HLS master ``…/master.m3u8``; both exist for every episode
(``hardSubs`` stays empty: no burned-in renditions). Anonymous tokens play free episodes;
premium-only episodes refuse them and free accounts with 403 ``playback.premium_required``
(an assumption: no client documents the body).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from kensho.catalog.derive import is_premium_only
from kensho.upstream.simulator.auth import principal_of
from kensho.upstream.simulator.index import EpisodeRef
from kensho.upstream.simulator.links import base_url
from kensho.upstream.simulator.media import (
    HLS_TYPE,
    MPD_TYPE,
    QUALITIES,
    hls_master,
    hls_variant,
    media_prefix,
    mpd,
    signed_ok,
)
from kensho.upstream.simulator.responses import json_error, json_response
from kensho.upstream.simulator.shapes import SUBTITLE_LOCALES, duration_ms
from kensho.upstream.simulator.state import STATE, ActiveStream, SimState

__all__ = ["PLATFORMS", "QUALITIES", "routes", "subtitle_text"]

routes = web.RouteTableDef()

PLATFORMS = {
    "android": {"phone", "tablet"},
    "console": {"ps4", "ps5", "switch", "xbox_one"},
    "ios": {"ipad", "iphone", "vision"},
    "tv": {"android_tv", "roku", "samsung", "lg"},
    "web": {"chrome", "edge", "firefox", "safari"},
}
_TOKEN = "{token:[A-Za-z0-9_-]{1,128}}"
_ID = "{id:[A-Z0-9]{1,32}}"
_SUBTITLE_TYPES = {"ass": "text/x-ssa", "vtt": "text/vtt"}


def _live_streams(state: SimState, owner: str) -> dict[str, ActiveStream]:
    """The owner's unexpired streams (expired ones are dropped on the way)."""
    now = state.config.clock()
    streams = state.streams.setdefault(owner, {})
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
    if is_premium_only(episode.season.plan, episode.number) and not who.premium:
        return json_error(403, "playback.premium_required")
    owner = who.stream_owner
    streams = _live_streams(state, owner)
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
        owner,
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
    hls = device == "ios" or (device, platform) == ("web", "safari")
    return json_response(_play_body(request, episode, token, ttl, hls=hls))


for _prefix in ("/playback", ""):
    for _version in ("v1", "v2", "v3"):
        routes.get(f"{_prefix}/{_version}/{_ID}/{{device}}/{{platform}}/play")(play)


def _play_body(
    request: web.Request, episode: EpisodeRef, token: str, ttl: float, *, hls: bool
) -> dict[str, Any]:
    """The camelCase body of crunchyroll-rs ``Stream`` (exactly its fields: its strict build
    denies others) and multi-downloader-nx ``CrunchyPlayStream``; `url` is the HLS master for
    Apple platforms (`hls`), else the DASH MPD."""
    base = base_url(request)
    eid = episode.id
    subtitles = {
        loc: {"language": loc, "url": f"{base}/playback/subtitles/{eid}/{loc}.ass", "format": "ass"}
        for loc in SUBTITLE_LOCALES
    }
    premium = is_premium_only(episode.season.plan, episode.number)
    manifest = "master.m3u8" if hls else "manifest.mpd"
    return {
        "assetId": "A" + eid[1:],
        "audioLocale": "ja-JP",
        "audioRole": "main",
        "burnedInLocale": "",
        "playbackType": "on_demand",
        "url": f"{base}/playback/manifests/{eid}/{manifest}?playbackGuid={token}",
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
        # the real one names widevine and a licence proxy; the simulator's streams are clear
        "drm": {"name": "widevine", "drmUrl": f"{base}/license/v1/license/widevine"},
    }


def _held(request: web.Request) -> tuple[dict[str, ActiveStream], ActiveStream] | None:
    """The caller's live stream named by the path's content id and token, if any."""
    state = request.app[STATE]
    who = principal_of(request)
    if who is None:
        return None
    streams = _live_streams(state, who.stream_owner)
    held = streams.get(request.match_info["token"])
    if held is None or held.content_id != request.match_info["id"]:
        return None
    return streams, held


async def release(request: web.Request) -> web.Response:
    """DELETE or PATCH ``…/inactive``: 204, idempotent (unknown or expired tokens too)."""
    if principal_of(request) is None:
        return _invalid_auth()
    found = _held(request)
    if found is not None:
        streams, held = found
        del streams[held.token]
    return web.Response(status=204)


async def keep_alive(request: web.Request) -> web.Response:
    """PATCH ``…/keepAlive[?playhead=N]``: a live token lives another ``stream_ttl``."""
    state = request.app[STATE]
    if principal_of(request) is None:
        return _invalid_auth()
    playhead = request.query.get("playhead", "0")
    if not playhead.isdigit() or len(playhead) > 9:
        return json_response({"error": "INVALID_PLAYHEAD"}, status=400)
    found = _held(request)
    if found is None:
        return json_response({"error": "TOKEN_NOT_FOUND"}, status=404)
    _, held = found
    held.expires = state.config.clock() + state.config.stream_ttl
    return web.Response(status=204)


for _prefix in ("/playback", ""):
    _path = f"{_prefix}/v1/token/{_ID}/{_TOKEN}"
    routes.delete(_path)(release)
    routes.patch(f"{_path}/inactive")(release)
    routes.patch(f"{_path}/keepAlive")(keep_alive)


@routes.get("/v1/sessions/streaming", name="streaming_sessions")
async def streaming_sessions(request: web.Request) -> web.Response:
    """The caller's active streams (multi-downloader-nx ``--tsd`` releases them all)."""
    state = request.app[STATE]
    who = principal_of(request)
    if who is None:
        return _invalid_auth()
    items = [
        _stream_json(s, state.config.stream_ttl)
        for s in _live_streams(state, who.stream_owner).values()
    ]
    return json_response({"total": len(items), "items": items})


def _authorised(request: web.Request) -> EpisodeRef | web.Response:
    """Manifests need a live ``playbackGuid`` for that episode (players add no header), or a
    signed ``Expires``/``Signature`` pair (the legacy streams' CDN-style URLs)."""
    state = request.app[STATE]
    episode = state.index.episodes.get(request.match_info["id"])
    if episode is None:
        return json_error(404, "playback.content_not_found")
    now = state.config.clock()
    expires, signature = request.query.get("Expires", ""), request.query.get("Signature", "")
    if expires or signature:
        if signed_ok(state.config.jwt_secret, episode.id, expires, signature, now):
            return episode
        return json_error(403, "playback.invalid_signature")
    token = request.query.get("playbackGuid", "")
    for streams in state.streams.values():
        held = streams.get(token)
        if held is not None and held.content_id == episode.id and held.expires > now:
            return episode
    return json_error(403, "playback.invalid_playback_guid")


def _auth_query(request: web.Request) -> str:
    """The authorising part of the manifest's query, repeated on the playlists it links."""
    if "Signature" in request.query:
        return urlencode({k: request.query[k] for k in ("Expires", "Signature")})
    return urlencode({"playbackGuid": request.query["playbackGuid"]})


def _no_store(text: str, content_type: str) -> web.Response:
    return web.Response(text=text, content_type=content_type, headers={"Cache-Control": "no-store"})


@routes.get(f"/playback/manifests/{_ID}/manifest.mpd", name="mpd")
async def dash_manifest(request: web.Request) -> web.Response:
    found = _authorised(request)
    if isinstance(found, web.Response):
        return found
    now = request.app[STATE].config.clock()
    prefix = media_prefix(request, base_url(request), found.id, now)
    return _no_store(mpd(prefix, "ja-JP"), MPD_TYPE)


@routes.get(f"/playback/manifests/{_ID}/master.m3u8", name="master")
async def master(request: web.Request) -> web.Response:
    found = _authorised(request)
    if isinstance(found, web.Response):
        return found
    return _no_store(hls_master(_auth_query(request)), HLS_TYPE)


@routes.get(f"/playback/manifests/{_ID}/{{quality}}/index.m3u8", name="variant")
async def variant(request: web.Request) -> web.Response:
    found = _authorised(request)
    if isinstance(found, web.Response):
        return found
    quality = request.match_info["quality"]
    if quality not in QUALITIES:
        return json_error(404, "playback.quality_not_found")
    now = request.app[STATE].config.clock()
    prefix = media_prefix(request, base_url(request), found.id, now)
    seconds = duration_ms(found.season.entry) / 1000
    return _no_store(hls_variant(prefix, quality, seconds), HLS_TYPE)


def _timestamp(seconds: float, fmt: str) -> str:
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    if fmt == "ass":
        return f"{int(h)}:{int(m):02d}:{s:05.2f}"
    return f"{int(h):02d}:{int(m):02d}:{s:06.3f}"


def subtitle_text(title: str, episode: int, locale: str, fmt: str) -> str:
    """A valid ASS (v4+, full style format) or WebVTT file with a few cues."""
    clean = " ".join(title.replace("{", "(").replace("}", ")").split())
    cues = [
        (0.5, 2.5, f"{clean}"),
        (2.5, 4.0, f"Episode {episode} ({locale})"),
    ]
    if fmt == "vtt":
        blocks = [
            f"{_timestamp(a, 'vtt')} --> {_timestamp(b, 'vtt')}\n{text.replace('-->', '->')}"
            for a, b, text in cues
        ]
        return "WEBVTT\n\n" + "\n\n".join(blocks) + "\n"
    events = "".join(
        f"Dialogue: 0,{_timestamp(a, 'ass')},{_timestamp(b, 'ass')},Default,,0,0,0,,{text}\n"
        for a, b, text in cues
    )
    return (
        "[Script Info]\nScriptType: v4.00+\nPlayResX: 1920\nPlayResY: 1080\n"
        f"Title: {clean} E{episode} ({locale})\nWrapStyle: 0\nScaledBorderAndShadow: yes\n\n"
        "[V4+ Styles]\n"
        "Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, "
        "BackColour, Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, "
        "BorderStyle, Outline, Shadow, Alignment, MarginL, MarginR, MarginV, Encoding\n"
        "Style: Default,Arial,64,&H00FFFFFF,&H000000FF,&H00000000,&H80000000,0,0,0,0,100,100,"
        "0,0,1,3,1,2,40,40,60,1\n\n"
        "[Events]\n"
        "Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\n"
        f"{events}"
    )


@routes.get(f"/playback/subtitles/{_ID}/{{name}}", name="subtitles")
async def subtitles(request: web.Request) -> web.Response:
    """``{locale}.ass`` or ``{locale}.vtt`` for the subtitle locales (public, like a CDN)."""
    state = request.app[STATE]
    episode = state.index.episodes.get(request.match_info["id"])
    locale, _, fmt = request.match_info["name"].rpartition(".")
    if episode is None or locale not in SUBTITLE_LOCALES or fmt not in _SUBTITLE_TYPES:
        return json_error(404, "playback.subtitles_not_found")
    text = subtitle_text(episode.season.entry.title, episode.number, locale, fmt)
    return web.Response(
        text=text,
        content_type=_SUBTITLE_TYPES[fmt],
        headers={"Cache-Control": "public, max-age=86400"},
    )
