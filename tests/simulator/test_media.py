"""Playable media: a real player (ffprobe, Debian's ffmpeg) decodes frames from the simulator's
DASH and HLS streams over real HTTP; the MPD parses with a DASH parser and has what
crunchyroll-rs' ``StreamData::from_url`` requires; subtitles parse as ASS and WebVTT; media URLs
are signed, and the browser-facing paths answer CORS."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from mpegdash.parser import MPEGDASHParser

from kensho.catalog.derive import episode_id
from kensho.upstream.simulator import SimConfig, running_simulator

from .conftest import BASIC, DEVICE

DN = "G6QWD3EE6"
FREE_EP = episode_id(DN, 1, 1)
FFPROBE = shutil.which("ffprobe")
needs_ffprobe = pytest.mark.skipif(
    FFPROBE is None, reason="ffprobe missing: .ci/run installs Debian's ffmpeg"
)


@pytest.fixture
async def server() -> AsyncIterator[str]:
    async with running_simulator(SimConfig()) as url:
        yield url


async def _play(base: str, device: str = "tv/android_tv") -> dict[str, Any]:
    """A stream's play answer (its bearer under ``_bearer``)."""
    async with aiohttp.ClientSession() as s:
        form = {"grant_type": "password", "username": "demo@kensho.dev"}
        form |= {"password": "kensho-demo", "device_id": DEVICE}
        async with s.post(
            f"{base}/auth/v1/token", data=form, headers={"Authorization": BASIC}
        ) as r:
            token = (await r.json())["access_token"]
        url = f"{base}/playback/v3/{FREE_EP}/{device}/play"
        async with s.get(url, headers={"Authorization": f"Bearer {token}"}) as r:
            assert r.status == 200
            body: dict[str, Any] = await r.json()
            body["_bearer"] = token
            return body


async def _ffprobe(*args: str) -> dict[str, Any]:
    assert FFPROBE is not None
    proc = await asyncio.create_subprocess_exec(
        FFPROBE, "-v", "error", "-of", "json", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode == 0, err.decode()
    doc: dict[str, Any] = json.loads(out)
    return doc


@needs_ffprobe
async def test_a_real_player_decodes_the_dash_stream(server: str) -> None:
    body = await _play(server)
    assert ".mpd?" in body["url"]
    doc = await _ffprobe(
        "-count_frames",
        "-show_entries", "stream=codec_type,codec_name,width,height,nb_read_frames", body["url"],
    )  # fmt: skip
    streams = doc["streams"]
    video = [s for s in streams if s["codec_type"] == "video"]
    audio = [s for s in streams if s["codec_type"] == "audio"]
    assert {(s["width"], s["height"]) for s in video} >= {(1920, 1080), (640, 360)}
    assert all(s["codec_name"] == "h264" and int(s["nb_read_frames"]) >= 90 for s in video)
    assert audio and audio[0]["codec_name"] == "aac" and int(audio[0]["nb_read_frames"]) > 100


@needs_ffprobe
async def test_a_real_player_decodes_the_hls_stream(server: str) -> None:
    body = await _play(server, "web/safari")
    variant = body["url"].replace("master.m3u8", "480p/index.m3u8")
    doc = await _ffprobe(
        "-read_intervals", "%+6", "-count_frames",
        "-show_entries", "stream=codec_type,codec_name,width,height,nb_read_frames", variant,
    )  # fmt: skip
    kinds = {s["codec_type"]: s for s in doc["streams"]}
    assert kinds["video"]["codec_name"] == "h264" and kinds["video"]["height"] == 480
    assert int(kinds["video"]["nb_read_frames"]) >= 90
    assert kinds["audio"]["codec_name"] == "aac"
    master = await _ffprobe("-show_entries", "stream=codec_type,height", body["url"])
    assert {s.get("height") for s in master["streams"]} >= {1080, 720, 480, 360}


async def test_the_mpd_parses_and_has_what_crunchyroll_rs_requires(server: str) -> None:
    """``StreamData::from_url``: a Period; per Representation a BaseURL, a SegmentTemplate with
    SegmentTimeline, startNumber, initialization, media, timescale, bandwidth, codecs; video
    width/height/frameRate; audio audioSamplingRate; no ContentProtection (clear)."""
    body = await _play(server)
    async with aiohttp.ClientSession() as s, s.get(body["url"]) as r:
        text = await r.text()
    mpd = MPEGDASHParser.parse(text)
    assert mpd.type == "static" and len(mpd.periods) == 1
    kinds: dict[str, int] = {}
    async with aiohttp.ClientSession() as s:
        for adaptation in mpd.periods[0].adaptation_sets:
            assert not adaptation.content_protections
            for rep in adaptation.representations:
                assert rep.bandwidth and rep.codecs and rep.base_urls
                template = rep.segment_templates[0]
                assert template.segment_timelines and template.start_number == 1
                assert template.initialization and template.media and template.timescale
                if rep.audio_sampling_rate:
                    kinds["audio"] = kinds.get("audio", 0) + 1
                else:
                    assert rep.width and rep.height and rep.frame_rate
                    kinds["video"] = kinds.get("video", 0) + 1
                base = rep.base_urls[0].base_url_value
                # crunchyroll-rs concatenates BaseURL and the template as strings
                for name in (template.initialization, template.media.replace("$Number$", "1")):
                    async with s.get(base + name) as seg:
                        assert seg.status == 200, base + name
                        assert seg.headers["Access-Control-Allow-Origin"] == "*"
    assert kinds == {"video": 4, "audio": 1}


@needs_ffprobe
@pytest.mark.parametrize("fmt", ["ass", "vtt"])
async def test_subtitles_are_valid_ass_and_webvtt(server: str, fmt: str) -> None:
    url = f"{server}/playback/subtitles/{FREE_EP}/de-DE.{fmt}"
    doc = await _ffprobe("-show_entries", "stream=codec_name:packet=pts_time", "-show_packets", url)
    assert doc["streams"][0]["codec_name"] == {"ass": "ass", "vtt": "webvtt"}[fmt]
    assert len(doc["packets"]) == 2


async def test_media_urls_are_signed_and_outlive_the_token(server: str) -> None:
    body = await _play(server, "web/safari")
    async with aiohttp.ClientSession() as s:
        async with s.get(body["url"].replace("master.m3u8", "720p/index.m3u8")) as r:
            segment = next(line for line in (await r.text()).splitlines() if line.endswith(".ts"))
        prefix, _, tail = segment.rpartition("/hls-720p/")
        headers = {"Authorization": "Bearer x"}
        async with s.delete(
            f"{server}/playback/v1/token/{FREE_EP}/{body['token']}", headers=headers
        ):
            pass
        async with s.get(segment) as r:
            assert r.status == 200 and r.headers["Content-Type"] == "video/mp2t"
        parts = prefix.split("/")
        forged = "/".join([*parts[:-1], "0" * 32])
        expired = "/".join([*parts[:-2], "1", parts[-1]])
        hostile = [
            f"{forged}/hls-720p/{tail}",
            f"{expired}/hls-720p/{tail}",
            f"{prefix}/hls-720p/seg-999.ts",
            f"{prefix}/hls-720p/..%2F..%2Fmedia.json",
            f"{prefix}/hls-9999p/seg-0.ts",
            f"{prefix}/720p/{'x' * 300}.m4s",
        ]
        for url in hostile:
            async with s.get(url) as r:
                assert r.status in (403, 404), url
                assert r.headers["Access-Control-Allow-Origin"] == "*"


async def test_browser_paths_answer_cors_and_preflights(server: str) -> None:
    body = await _play(server)
    paths = [
        body["url"],
        body["subtitles"]["en-US"]["url"],
        f"{server}/imgsrv/poster_tall/{DN}/240x360.jpg",
    ]
    async with aiohttp.ClientSession() as s:
        for url in paths:
            async with s.get(url, headers={"Origin": "http://front.example"}) as r:
                assert r.status == 200 and r.headers["Access-Control-Allow-Origin"] == "*"
            preflight = {"Origin": "http://front.example", "Access-Control-Request-Method": "GET"}
            async with s.options(url, headers=preflight) as r:
                assert r.status == 204
                assert r.headers["Access-Control-Allow-Origin"] == "*"
                assert "GET" in r.headers["Access-Control-Allow-Methods"]
        async with s.get(f"{server}/content/v2/cms/series/{DN}") as r:  # the API is not for pages
            assert "Access-Control-Allow-Origin" not in r.headers
