"""Where the catalog sync reads from: the `CatalogSource` protocol and its HTTP implementation.

`HttpCatalogSource` only needs a `fetch_json(path, params) -> dict` coroutine, so the resilient
Crunchyroll client (retries, breaker, token refresh) can be plugged in without touching the
sync. `AnonymousFetcher` is the minimal stand-in used until then: one aiohttp session and an
anonymous `client_id` token, refreshed before it expires or after a 401.
"""

from __future__ import annotations

import asyncio
import base64
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote, urlencode

import aiohttp
import orjson
from yarl import URL

from kensho.errors import UpstreamError

__all__ = [
    "AnonymousFetcher",
    "BrowsePage",
    "CatalogSource",
    "FetchJson",
    "HttpCatalogSource",
]

FetchJson = Callable[[str, Mapping[str, str]], Awaitable[Mapping[str, Any]]]
#: most objects a browse page may return, whatever the upstream says (hostile or buggy pages)
MAX_PAGE_ITEMS = 1000
#: largest JSON body accepted (a 1,000-episode season is ~1.5 MB)
MAX_BODY_BYTES = 32 * 1024 * 1024


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


class AnonymousFetcher:
    """Minimal `fetch_json`: anonymous `client_id` token, JSON GETs, errors as `UpstreamError`."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        *,
        client_id: str = "kensho-sim-client",
        client_secret: str = "kensho-sim-secret",
    ) -> None:
        self._session = session
        self._base = base_url.rstrip("/")
        raw = f"{client_id}:{client_secret}".encode()
        self._basic = "Basic " + base64.b64encode(raw).decode()
        self._device = str(uuid.uuid4())
        self._token: str | None = None
        self._expires = 0.0
        self._lock = asyncio.Lock()
        self._bearer_of: str | None = None
        self._headers: dict[str, str] = {}

    async def _access_token(self, *, force: bool = False) -> str:
        async with self._lock:  # one token request in flight
            if self._token is None or force or time.monotonic() >= self._expires:
                async with self._session.post(
                    self._base + "/auth/v1/token",
                    data={
                        "grant_type": "client_id",
                        "scope": "offline_access",
                        "device_id": self._device,
                        "device_type": "kensho",
                    },
                    headers={"Authorization": self._basic, "ETP-Anonymous-ID": self._device},
                ) as resp:
                    if resp.status != 200:
                        raise UpstreamError(f"token request failed with {resp.status}")
                    doc = await resp.json()
                token, expires_in = doc.get("access_token"), doc.get("expires_in", 300)
                if not isinstance(token, str) or not isinstance(expires_in, int | float):
                    raise UpstreamError("token response has no access_token")
                self._token = token
                self._expires = time.monotonic() + max(0.0, float(expires_in) - 10.0)
            return self._token

    async def __call__(self, path: str, params: Mapping[str, str]) -> Mapping[str, Any]:
        for attempt in range(2):
            token = await self._access_token(force=attempt > 0)
            if token != self._bearer_of:
                self._bearer_of, self._headers = token, {"Authorization": f"Bearer {token}"}
            # a pre-encoded URL: aiohttp's own query encoding was a visible per-request cost
            query = urlencode(params)
            url = URL(
                self._base + quote(path, safe="/,") + ("?" + query if query else ""), encoded=True
            )
            async with self._session.get(url, headers=self._headers) as resp:
                if resp.status == 401 and attempt == 0:
                    continue
                if resp.status != 200:
                    raise UpstreamError(f"GET {path} answered {resp.status}")
                if (resp.content_length or 0) > MAX_BODY_BYTES:
                    raise UpstreamError(f"GET {path}: body larger than {MAX_BODY_BYTES} bytes")
                try:
                    # orjson: the stdlib decoder was the sync's largest single cost (profiled)
                    doc = orjson.loads(await resp.read())
                except orjson.JSONDecodeError as exc:
                    raise UpstreamError(f"GET {path}: body is not JSON") from exc
                if not isinstance(doc, Mapping):
                    raise UpstreamError(f"GET {path}: body is not a JSON object")
                return doc
        raise UpstreamError(f"GET {path}: token rejected twice")  # pragma: no cover
