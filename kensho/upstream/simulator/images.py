"""``/imgsrv/{kind}/{id}/{W}x{H}.jpg``: a poster, banner or thumbnail for every catalog object.

Generated on demand with Pillow (a gradient whose colours come from the id, the title set in
DejaVu Sans Bold, shipped as a Latin subset with its licence), at the sizes the JSON bodies
advertise only, then kept in a bounded in-process cache. Non-Latin titles are transliterated
(pykakasi) so the subset font can set them. Rendering runs on a worker thread, never on the
event loop; the ETag is known before rendering, so a revalidation (``If-None-Match``) costs no
drawing.
"""

from __future__ import annotations

import asyncio
import colorsys
import functools
import hashlib
import io
import textwrap
from collections import OrderedDict
from importlib import resources
from typing import Any

import pykakasi
from aiohttp import web
from PIL import Image, ImageDraw, ImageFont, ImageOps

from kensho.catalog.bundle import CatalogEntry
from kensho.upstream.simulator.index import SimIndex
from kensho.upstream.simulator.responses import json_error
from kensho.upstream.simulator.state import STATE

__all__ = ["SIZES", "ImageCache", "latin_title", "render", "routes"]

routes = web.RouteTableDef()
#: the sizes each kind is advertised at (the JSON bodies build their URLs from this table)
SIZES: dict[str, tuple[tuple[int, int], ...]] = {
    "poster_tall": ((60, 90), (240, 360), (480, 720)),
    "poster_wide": ((320, 180), (1200, 675)),
    "thumbnail": ((320, 180), (1920, 1080)),
}
GENERATOR = "kensho-sim-images-1"  # part of every ETag: bump when the drawing changes
CACHE_BYTES = 32 << 20
_FONT = "DejaVuSans-Bold-Latin.ttf"
_MAX_AGE = 86_400


@functools.cache
def _font_bytes() -> bytes:
    return resources.files("kensho.upstream.simulator").joinpath("fonts", _FONT).read_bytes()


@functools.cache
def _font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(io.BytesIO(_font_bytes()), size)


@functools.cache
def _kakasi() -> Any:
    """The converter; it loads its dictionaries, so only when a title needs it."""
    return pykakasi.kakasi()  # type: ignore[no-untyped-call]


def latin_title(entry: CatalogEntry) -> str:
    """The entry's title in characters the subset font has: the display title, else its
    English or romaji title, else a transliteration; what remains unknown is dropped."""
    candidates = [entry.title] + [t.text for t in entry.titles if t.lang in ("en", "romaji")]
    for text in candidates:
        if text.isascii() or all(ord(c) < 0x250 for c in text):
            return text
    romaji = " ".join(part["hepburn"] for part in _kakasi().convert(entry.title)).strip()
    kept = "".join(c for c in romaji if ord(c) < 0x250)
    return " ".join(kept.split()) or entry.series_id


def _colours(ident: str) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    digest = hashlib.sha256(ident.encode()).digest()
    hue = digest[0] / 255
    top = colorsys.hsv_to_rgb(hue, 0.55 + digest[1] / 900, 0.85)
    bottom = colorsys.hsv_to_rgb((hue + 0.12 + digest[2] / 2550) % 1.0, 0.75, 0.30)
    return (
        tuple(int(c * 255) for c in top),  # type: ignore[return-value]
        tuple(int(c * 255) for c in bottom),
    )


def render(ident: str, title: str, caption: str, width: int, height: int) -> bytes:
    """A JPEG: vertical gradient from the id's colours, the title wrapped to fit, a caption."""
    top, bottom = _colours(ident)
    gradient = Image.linear_gradient("L").resize((width, height))
    image = ImageOps.colorize(gradient, top, bottom).convert("RGB")
    draw = ImageDraw.Draw(image)
    size = max(8, min(width // 11, height // 7))
    font = _font(size)
    chars_per_line = max(4, int(width * 0.9 / (size * 0.62)))
    lines = textwrap.wrap(title, chars_per_line)[:4] or [title[:chars_per_line]]
    line_height = int(size * 1.2)
    y = (height - line_height * len(lines)) // 2
    for line in lines:
        w = draw.textlength(line, font=font)
        x = (width - w) / 2
        draw.text((x + max(1, size // 16), y + max(1, size // 16)), line, font=font, fill=(0, 0, 0))
        draw.text((x, y), line, font=font, fill=(255, 255, 255))
        y += line_height
    if caption and height >= 120:
        small = _font(max(8, size // 2))
        w = draw.textlength(caption, font=small)
        draw.text(((width - w) / 2, height - size), caption, font=small, fill=(235, 235, 235))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=82, optimize=True)
    return out.getvalue()


class ImageCache:
    """Rendered JPEGs by ETag, at most `limit_bytes` in all (least recently used dropped)."""

    def __init__(self, limit_bytes: int = CACHE_BYTES) -> None:
        self.limit_bytes = limit_bytes
        self.bytes = 0
        self._items: OrderedDict[str, bytes] = OrderedDict()

    def get(self, key: str) -> bytes | None:
        body = self._items.get(key)
        if body is not None:
            self._items.move_to_end(key)
        return body

    def put(self, key: str, body: bytes) -> None:
        if key in self._items or len(body) > self.limit_bytes:
            return
        self._items[key] = body
        self.bytes += len(body)
        while self.bytes > self.limit_bytes:
            _, dropped = self._items.popitem(last=False)
            self.bytes -= len(dropped)

    def __len__(self) -> int:
        return len(self._items)


IMAGES = web.AppKey("kensho_sim_images", ImageCache)


def _subject(index: SimIndex, kind: str, ident: str) -> tuple[CatalogEntry, str] | None:
    """(series entry, caption) of the object an image URL names, if it exists."""
    if kind == "thumbnail":
        episode = index.episodes.get(ident)
        if episode is None:
            return None
        season = episode.season
        return season.entry, f"S{season.plan.number} E{episode.number}"
    entry = index.catalog.by_series_id.get(ident)
    if entry is not None:
        return entry, ""
    season_ref = index.seasons.get(ident)
    if season_ref is not None:
        return season_ref.entry, f"Season {season_ref.plan.number}"
    return None


@routes.get("/imgsrv/{kind}/{id:[A-Z0-9]{1,32}}/{width:[0-9]{1,4}}x{height:[0-9]{1,4}}.jpg")
async def image(request: web.Request) -> web.Response:
    info = request.match_info
    kind, ident = info["kind"], info["id"]
    size = (int(info["width"]), int(info["height"]))
    if size not in SIZES.get(kind, ()):
        return json_error(404, "imgsrv.image_not_found")
    found = _subject(request.app[STATE].index, kind, ident)
    if found is None:
        return json_error(404, "imgsrv.image_not_found")
    entry, caption = found
    title = latin_title(entry)
    tag = hashlib.sha256(f"{GENERATOR}|{kind}|{ident}|{size}|{title}|{caption}".encode())
    etag = f'"{tag.hexdigest()[:32]}"'
    headers = {"ETag": etag, "Cache-Control": f"public, max-age={_MAX_AGE}"}
    if etag in request.headers.get("If-None-Match", ""):
        return web.Response(status=304, headers=headers)
    cache = request.app[IMAGES]
    body = cache.get(etag)
    if body is None:
        loop = asyncio.get_running_loop()
        body = await loop.run_in_executor(None, render, ident, title, caption, *size)
        cache.put(etag, body)
    return web.Response(body=body, content_type="image/jpeg", headers=headers)
