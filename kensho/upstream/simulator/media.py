"""The test-pattern rendition every episode plays, its manifests, and signed media URLs.

The files (``media/``, built once by ``tools/build_sim_media.py``) are read on first use and
kept in memory (~260 KiB). Manifests are written per episode:

- HLS: a master playlist (one variant per quality, video and audio muxed in MPEG-TS), and
  variant playlists that repeat the short loop (``#EXT-X-DISCONTINUITY`` between repeats) for
  the episode's whole duration, so a player shows the real length;
- DASH: a static MPD (clear, no ``ContentProtection``): one video AdaptationSet with a
  Representation per quality and one audio AdaptationSet, ``SegmentTemplate`` with a
  ``SegmentTimeline`` and a ``BaseURL`` per Representation (crunchyroll-rs needs both); it lasts
  the loop's length.

Media URLs are signed like a CDN's (``/playback/media/{id}/{expires}/{signature}/…``): they
keep working after the stream token is released (yt-dlp releases it before downloading), and a
browser needs no header to fetch them.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from importlib import resources
from typing import Any
from xml.sax.saxutils import quoteattr

from aiohttp import web

from kensho.upstream.simulator.responses import json_error
from kensho.upstream.simulator.state import STATE

__all__ = [
    "HLS_TYPE",
    "MPD_TYPE",
    "QUALITIES",
    "Rendition",
    "hls_master",
    "hls_variant",
    "media_prefix",
    "mpd",
    "rendition",
    "routes",
    "signed_ok",
    "signed_query",
]

routes = web.RouteTableDef()
HLS_TYPE = "application/vnd.apple.mpegurl"
MPD_TYPE = "application/dash+xml"
#: name -> (width, height, advertised bandwidth bits/s): nominal values of a real rendition of
#: that size (the pattern itself needs far less); Kenshō's quality choice reads them
QUALITIES = {
    "1080p": (1920, 1080, 8_000_000),
    "720p": (1280, 720, 4_000_000),
    "480p": (854, 480, 1_500_000),
    "360p": (640, 360, 800_000),
}
AUDIO_BANDWIDTH = 128_000
#: signed media URLs outlive the stream token by this much (seconds)
MEDIA_URL_TTL = 6 * 3600
_FILE = re.compile(r"^(?:init\.mp4|seg-[0-9]{1,3}\.(?:m4s|ts))$")
_CONTENT_TYPES = {".ts": "video/mp2t", ".m4s": "video/iso.segment", ".mp4": "video/mp4"}


@dataclass(frozen=True, slots=True)
class Rendition:
    """The rendition's metadata (``media.json``) and file bytes by relative path."""

    meta: dict[str, Any]
    files: dict[str, bytes]

    @property
    def loop_seconds(self) -> float:
        return float(self.meta["loop_seconds"])


@functools.cache
def rendition() -> Rendition:
    """Loaded once per process from the package data."""
    root = resources.files("kensho.upstream.simulator") / "media"
    meta = json.loads(root.joinpath("media.json").read_text("utf-8"))
    files: dict[str, bytes] = {}
    for kind in ("hls", "dash"):
        for folder in root.joinpath(kind).iterdir():
            for item in folder.iterdir():
                files[f"{kind}/{folder.name}/{item.name}"] = item.read_bytes()
    return Rendition(meta, files)


def _signature(secret: str, episode_id: str, expires: int) -> str:
    mac = hmac.new(secret.encode(), f"media|{episode_id}|{expires}".encode(), hashlib.sha256)
    return mac.hexdigest()[:32]


def signed_query(secret: str, episode_id: str, expires: int) -> str:
    """``Expires=…&Signature=…`` for a manifest URL that needs no stream token (legacy)."""
    return f"Expires={expires}&Signature={_signature(secret, episode_id, expires)}"


def signed_ok(secret: str, episode_id: str, expires: str, signature: str, now: float) -> bool:
    """A manifest URL's ``Expires``/``Signature`` pair is ours and not expired."""
    if not expires.isdigit() or len(expires) > 12 or len(signature) != 32:
        return False
    good = _signature(secret, episode_id, int(expires))
    return hmac.compare_digest(good, signature) and int(expires) > now


def media_prefix(request: web.Request, base: str, episode_id: str, now: float) -> str:
    """``{base}/playback/media/{id}/{expires}/{signature}`` for one episode."""
    state = request.app[STATE]
    expires = int(now) + int(state.config.stream_ttl) + MEDIA_URL_TTL
    sig = _signature(state.config.jwt_secret, episode_id, expires)
    return f"{base}/playback/media/{episode_id}/{expires}/{sig}"


def hls_master(variant_query: str) -> str:
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-INDEPENDENT-SEGMENTS"]
    meta = rendition().meta
    for name, (w, h, bw) in QUALITIES.items():
        if name not in meta["hls"]:
            continue
        video = meta["dash"][name]["codecs"]  # one encode per quality feeds both packagings
        lines.append(
            f"#EXT-X-STREAM-INF:BANDWIDTH={bw},AVERAGE-BANDWIDTH={bw},RESOLUTION={w}x{h},"
            f'FRAME-RATE=24.000,CODECS="{video},mp4a.40.2",NAME="{name}"'
        )
        lines.append(f"{name}/index.m3u8?{variant_query}")
    return "\n".join(lines) + "\n"


def hls_variant(prefix: str, quality: str, duration_s: float) -> str:
    """The loop's segments repeated for `duration_s` (a discontinuity before each repeat)."""
    durations: list[float] = rendition().meta["hls"][quality]["durations"]
    target = max(1, round(max(durations) + 0.499))
    lines = [
        "#EXTM3U",
        "#EXT-X-VERSION:3",
        f"#EXT-X-TARGETDURATION:{target}",
        "#EXT-X-MEDIA-SEQUENCE:0",
        "#EXT-X-PLAYLIST-TYPE:VOD",
    ]
    loop = sum(durations)
    repeats = max(1, int(duration_s // loop))
    for r in range(repeats):
        if r:
            lines.append("#EXT-X-DISCONTINUITY")
        for n, d in enumerate(durations):
            lines.append(f"#EXTINF:{d:.3f},")
            lines.append(f"{prefix}/hls-{quality}/seg-{n}.ts")
    lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"


def _timeline(segments: list[list[int]]) -> str:
    out = []
    for t, d, r in segments:
        attrs = (f' t="{t}"' if t >= 0 else "") + f' d="{d}"' + (f' r="{r}"' if r else "")
        out.append(f"<S{attrs}/>")
    return "".join(out)


def mpd(prefix: str, audio_locale: str) -> str:
    """A clear (no DRM) static MPD whose Representations point at `prefix`."""
    r = rendition()
    dash = r.meta["dash"]
    loop = r.loop_seconds
    video = []
    for name, (w, h, bw) in QUALITIES.items():
        if name not in dash:
            continue
        rep = dash[name]
        video.append(
            f'<Representation id="{name}" bandwidth="{bw}" codecs="{rep["codecs"]}" '
            f'width="{w}" height="{h}" frameRate="{rep["frame_rate"]}" sar="1:1">'
            f"<BaseURL>{prefix}/{name}/</BaseURL>"
            f'<SegmentTemplate timescale="{rep["timescale"]}" initialization="init.mp4" '
            f'media="seg-$Number$.m4s" startNumber="1">'
            f"<SegmentTimeline>{_timeline(rep['timeline'])}</SegmentTimeline></SegmentTemplate>"
            "</Representation>"
        )
    audio = dash["audio"]
    lang = quoteattr(audio_locale.split("-", maxsplit=1)[0] or "ja")
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" '
        'profiles="urn:mpeg:dash:profile:isoff-live:2011" type="static" '
        f'mediaPresentationDuration="PT{loop:.1f}S" minBufferTime="PT2.0S">'
        f'<Period id="0" start="PT0.0S">'
        '<AdaptationSet id="1" contentType="video" mimeType="video/mp4" segmentAlignment="true" '
        f'startWithSAP="1">{"".join(video)}</AdaptationSet>'
        f'<AdaptationSet id="2" contentType="audio" mimeType="audio/mp4" lang={lang} '
        'segmentAlignment="true" startWithSAP="1">'
        f'<Representation id="audio" bandwidth="{AUDIO_BANDWIDTH}" codecs="{audio["codecs"]}" '
        f'audioSamplingRate="{audio["sampling_rate"]}">'
        '<AudioChannelConfiguration schemeIdUri="urn:mpeg:dash:23003:3:audio_channel_'
        'configuration:2011" value="1"/>'
        f"<BaseURL>{prefix}/audio/</BaseURL>"
        f'<SegmentTemplate timescale="{audio["timescale"]}" initialization="init.mp4" '
        'media="seg-$Number$.m4s" startNumber="1">'
        f"<SegmentTimeline>{_timeline(audio['timeline'])}</SegmentTimeline></SegmentTemplate>"
        "</Representation></AdaptationSet></Period></MPD>\n"
    )


@routes.get(
    "/playback/media/{id:[A-Z0-9]{1,32}}/{expires:[0-9]{1,12}}/{sig:[0-9a-f]{32}}/{rendition}/{file}",
    name="media",
)
async def media_file(request: web.Request) -> web.Response:
    """A segment or init file: the URL's signature and expiry are the only authorisation."""
    state = request.app[STATE]
    info = request.match_info
    expires = int(info["expires"])
    good = _signature(state.config.jwt_secret, info["id"], expires)
    if not hmac.compare_digest(good, info["sig"]) or expires <= state.config.clock():
        return json_error(403, "playback.media_url_expired")
    if state.index.episodes.get(info["id"]) is None or not _FILE.match(info["file"]):
        return json_error(404, "playback.media_not_found")
    kind, rendition_name = info["rendition"], info["rendition"]
    if kind.startswith("hls-"):
        path = f"hls/{rendition_name[4:]}/{info['file']}"
    else:
        path = f"dash/{rendition_name}/{info['file']}"
    body = rendition().files.get(path)
    if body is None:
        return json_error(404, "playback.media_not_found")
    suffix = info["file"][info["file"].rfind(".") :]
    return web.Response(
        body=body,
        content_type=_CONTENT_TYPES[suffix],
        headers={"Cache-Control": "public, max-age=86400, immutable"},
    )
