"""Where the catalog sync reads from: the `CatalogSource` protocol and its HTTP implementation.

`HttpCatalogSource` only needs a `fetch_json(path, params) -> dict` coroutine: in production
(and in the simulator tests and the sync benchmark) that is the one Crunchyroll client,
`CrunchyrollClient.fetch_json` (anonymous token, retries, breaker, bounded bodies).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from kensho.errors import UpstreamError

__all__ = [
    "BrowsePage",
    "CatalogSource",
    "FetchJson",
    "HttpCatalogSource",
]

FetchJson = Callable[[str, Mapping[str, str]], Awaitable[Mapping[str, Any]]]
#: most objects a browse page may return, whatever the upstream says (hostile or buggy pages)
MAX_PAGE_ITEMS = 1000


@dataclass(frozen=True, slots=True)
class BrowsePage:
    """One page of the series listing. `complete` means no page follows it."""

    items: tuple[Any, ...]
    total: int | None
    complete: bool


class CatalogSource(Protocol):
    """The upstream catalog, as the sync walks it."""

    async def browse(self, start: int, n: int) -> BrowsePage: ...

    async def seasons(self, series_id: str) -> Sequence[Any]: ...

    async def episodes(self, season_id: str) -> Sequence[Any]: ...


def _data(doc: Any, path: str) -> list[Any]:
    if not isinstance(doc, Mapping) or not isinstance(doc.get("data", []), list):
        raise UpstreamError(f"{path}: expected an object with a data list")
    data: list[Any] = doc.get("data", [])
    return data[:MAX_PAGE_ITEMS]


class HttpCatalogSource:
    """`CatalogSource` over the Crunchyroll CMS endpoints (`/content/v2/...`)."""

    def __init__(self, fetch_json: FetchJson, *, locale: str = "en-US") -> None:
        self._fetch = fetch_json
        self._locale = locale

    async def browse(self, start: int, n: int) -> BrowsePage:
        path = "/content/v2/discover/browse"
        params = {
            "start": str(start),
            "n": str(n),
            "locale": self._locale,
            "sort_by": "alphabetical",
        }
        doc = await self._fetch(path, params)
        items = _data(doc, path)
        total_raw = doc.get("total")
        total = total_raw if isinstance(total_raw, int) and total_raw >= 0 else None
        meta = doc.get("meta")
        next_page = meta.get("next_page") if isinstance(meta, Mapping) else None
        if isinstance(meta, Mapping) and "next_page" in meta:
            complete = not next_page
        else:
            complete = total is None or start + len(items) >= total
        complete = complete or not items
        return BrowsePage(tuple(items[:n]), total, complete)

    async def seasons(self, series_id: str) -> Sequence[Any]:
        path = f"/content/v2/cms/series/{series_id}/seasons"
        return _data(await self._fetch(path, {"locale": self._locale}), path)

    async def episodes(self, season_id: str) -> Sequence[Any]:
        path = f"/content/v2/cms/seasons/{season_id}/episodes"
        return _data(await self._fetch(path, {"locale": self._locale}), path)
