"""The built web front end as served: each file's bytes, type, ETag, cache policy and codings.

`web/build.mjs` builds the viewer and the console from `web/src` into `kensho/http/webapp/`;
`WebBundle` reads it once when the app is built (`keys.WEB_BUNDLE`, `web_routes`).
"""

from __future__ import annotations

import asyncio
import mimetypes
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from kensho.catalog.representation import compress, etag_for

__all__ = [
    "ASSET_CACHE",
    "CONSOLE_PAGE",
    "PAGE_CACHE",
    "VIEWER_PAGE",
    "WEBAPP_DIR",
    "WebBundle",
    "WebFile",
]

WEBAPP_DIR: Final = Path(__file__).parent / "webapp"
VIEWER_PAGE: Final = "index.html"
CONSOLE_PAGE: Final = "console.html"
ASSET_CACHE: Final = "public, max-age=31536000, immutable"
PAGE_CACHE: Final = "no-cache"
_TYPES: Final = {
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".svg": "image/svg+xml",
    ".txt": "text/plain; charset=utf-8",
    ".json": "application/json",
}


@dataclass(slots=True)
class WebFile:
    """One file as served: its bytes, type, strong ETag, cache policy and coded variants."""

    body: bytes
    content_type: str
    cache_control: str
    etag: str = ""
    #: coding -> compressed body (filled on first request for that coding)
    coded: dict[str, bytes] = field(default_factory=dict)
    _pending: dict[str, asyncio.Future[bytes]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.etag = etag_for(self.body)

    async def body_in(self, coding: str) -> bytes:
        """The body in `coding`, compressed once (in a thread) however many ask at once."""
        if coding == "identity":
            return self.body
        done = self.coded.get(coding)
        if done is not None:
            return done
        pending = self._pending.get(coding)
        if pending is None:
            pending = asyncio.ensure_future(asyncio.to_thread(compress, self.body, coding))
            self._pending[coding] = pending
        try:
            data = await asyncio.shield(pending)
        finally:
            if pending.done():
                self._pending.pop(coding, None)
        self.coded[coding] = data
        return data


def _content_type(path: Path) -> str:
    return (
        _TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    )


class WebBundle:
    """The built front end, read from `root`: the pages by name and the assets by file name."""

    def __init__(self, root: Path = WEBAPP_DIR) -> None:
        try:
            self.pages = {
                name: WebFile((root / name).read_bytes(), _TYPES[".html"], PAGE_CACHE)
                for name in (VIEWER_PAGE, CONSOLE_PAGE)
            }
            files = sorted(p for p in (root / "assets").iterdir() if p.is_file())
        except FileNotFoundError as exc:
            raise RuntimeError(
                f"the web front end is not built ({exc.filename} is missing): run `make web`"
            ) from None
        self.assets = {
            p.name: WebFile(p.read_bytes(), _content_type(p), ASSET_CACHE) for p in files
        }
