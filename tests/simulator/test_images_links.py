"""Generated images (every advertised size, cache headers, ETag revalidation, hostile paths), the
public base URL of links, and the settings that configure them (``kensho sim`` flags, Config)."""

from __future__ import annotations

import argparse
import io
from typing import Any

import pytest
from PIL import Image
from yarl import URL

from kensho.catalog.bundle import load_catalog
from kensho.catalog.derive import episode_id, season_id
from kensho.config import ConfigError, load_config
from kensho.upstream.simulator.cli import sim_main
from kensho.upstream.simulator.config import parse_client, parse_public_url
from kensho.upstream.simulator.images import latin_title

from .conftest import MakeClient, bearer

DN = "G6QWD3EE6"


def _urls(images: dict[str, Any]) -> list[tuple[str, int, int]]:
    return [(i["source"], i["width"], i["height"]) for v in images.values() for i in v[0]]


async def test_every_advertised_image_loads_at_its_size(sim: Any) -> None:
    auth = await bearer(sim)
    series = (await (await sim.get(f"/content/v2/cms/series/{DN}", headers=auth)).json())["data"][0]
    season = (
        await (await sim.get(f"/content/v2/cms/seasons/{season_id(DN, 1)}", headers=auth)).json()
    )["data"][0]
    episode = (
        await (
            await sim.get(f"/content/v2/cms/episodes/{episode_id(DN, 1, 1)}", headers=auth)
        ).json()
    )["data"][0]
    urls = _urls(series["images"]) + _urls(season["images"]) + _urls(episode["images"])
    assert len(urls) == 5 + 5 + 2
    for url, width, height in urls:
        resp = await sim.get(URL(url).path)
        assert resp.status == 200, url
        assert resp.headers["Content-Type"] == "image/jpeg"
        assert "max-age" in resp.headers["Cache-Control"] and resp.headers["ETag"]
        assert Image.open(io.BytesIO(await resp.read())).size == (width, height)


async def test_images_revalidate_with_etag_and_are_deterministic(sim: Any) -> None:
    path = f"/imgsrv/poster_wide/{DN}/320x180.jpg"
    first = await sim.get(path)
    body, etag = await first.read(), first.headers["ETag"]
    again = await sim.get(path)
    assert await again.read() == body and again.headers["ETag"] == etag
    assert (await sim.get(path, headers={"If-None-Match": etag})).status == 304
    assert (await sim.get(path, headers={"If-None-Match": '"other"'})).status == 200
    another = next(e.series_id for e in load_catalog().entries if e.series_id != DN)
    other = await sim.get(f"/imgsrv/poster_wide/{another}/320x180.jpg")
    assert other.headers["ETag"] != etag


@pytest.mark.parametrize(
    "path",
    [
        f"/imgsrv/poster_tall/{DN}/61x90.jpg",  # not an advertised size
        f"/imgsrv/poster_tall/{DN}/9999x9999.jpg",
        f"/imgsrv/banner/{DN}/320x180.jpg",
        "/imgsrv/poster_tall/GNOPE/60x90.jpg",
        f"/imgsrv/thumbnail/{DN}/320x180.jpg",  # a series has no thumbnail
        f"/imgsrv/poster_tall/{'A' * 200}/60x90.jpg",
        f"/imgsrv/poster_tall/{DN}/60x90.png",
        "/imgsrv/poster_tall/..%2F..%2Fetc/60x90.jpg",
    ],
)
async def test_hostile_image_paths_are_404(sim: Any, path: str) -> None:
    assert (await sim.get(path)).status == 404


def test_non_latin_titles_are_transliterated_for_the_font() -> None:
    only_japanese = next(
        e for e in load_catalog().entries
        if not any(t.lang in ("en", "romaji") for t in e.titles) and not e.title.isascii()
    )  # fmt: skip
    text = latin_title(only_japanese)
    assert text and all(ord(c) < 0x250 for c in text)


async def test_public_url_starts_every_link(make_sim: MakeClient) -> None:
    sim = await make_sim(public_url="https://sim.example.test:8443/cr")
    auth = await bearer(sim)
    series = (await (await sim.get(f"/content/v2/cms/series/{DN}", headers=auth)).json())["data"][0]
    assert all(
        u.startswith("https://sim.example.test:8443/cr/imgsrv/")
        for u, _, _ in _urls(series["images"])
    )
    play = await (
        await sim.get(f"/playback/v3/{episode_id(DN, 1, 1)}/tv/android_tv/play", headers=auth)
    ).json()
    assert play["url"].startswith("https://sim.example.test:8443/cr/playback/manifests/")
    assert all(
        s["url"].startswith("https://sim.example.test:8443/cr/")
        for k, s in play["subtitles"].items()
        if k != "none"
    )
    mpd = await (await sim.get(URL(play["url"]).path_qs.removeprefix("/cr"))).text()
    assert "<BaseURL>https://sim.example.test:8443/cr/playback/media/" in mpd


@pytest.mark.parametrize(
    "value",
    [
        "ftp://x",
        "http://",
        "http://host/?q=1",
        "http://host/#frag",
        "not a url",
        "http://h/" + "a" * 600,
    ],
)
def test_bad_public_urls_are_refused(value: str) -> None:
    with pytest.raises(ValueError):
        parse_public_url(value)
    with pytest.raises(ConfigError, match="KENSHO_SIM_PUBLIC_URL"):
        load_config({"KENSHO_SIM_PUBLIC_URL": value})


def test_good_public_url_is_normalised() -> None:
    assert parse_public_url("http://localhost:8091/") == "http://localhost:8091"
    assert load_config({"KENSHO_SIM_PUBLIC_URL": "https://cdn.example/sim"}).sim_public_url


@pytest.mark.parametrize(
    "value", ["no-colon", ":secret", "id with space:x", "id:s\u00e9cret", "a" * 200 + ":x"]
)
def test_bad_clients_are_refused(value: str) -> None:
    with pytest.raises(ValueError):
        parse_client(value)


def test_sim_cli_refuses_bad_client_and_public_url() -> None:
    base = {"host": "127.0.0.1", "port": 0, "expires_in": 300}
    assert sim_main(argparse.Namespace(**base, client=["broken"])) == 2
    assert sim_main(argparse.Namespace(**base, public_url="ftp://x")) == 2
    assert parse_client("tv:") == ("tv", "")
