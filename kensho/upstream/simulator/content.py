"""CMS v2 content endpoints, objects panels, discover browse and search."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web
from multidict import MultiMapping

from kensho.catalog.bundle import CatalogEntry
from kensho.upstream.simulator.index import EpisodeRef, SeasonRef, SimIndex
from kensho.upstream.simulator.responses import json_error, json_response
from kensho.upstream.simulator.shapes import (
    episode_flat,
    episodes_flat,
    panel,
    rating_block,
    season_flat,
    series_flat,
)
from kensho.upstream.simulator.state import STATE

__all__ = ["routes"]

MAX_PAGE = 100
MAX_OBJECT_IDS = 100
MAX_QUERY = 200
_ID = re.compile(r"^[A-Z0-9]{1,32}$")
_SORTS = ("popularity", "alphabetical", "newly_added")
_SEARCH_TYPES = {
    "series": "series",
    "movie_listing": "movie_listing",
    "episode": "episode",
    "music": "musicVideo",
    "top_results": "top_results",
}

routes = web.RouteTableDef()


MAX_REMEMBERED_ORIGINS = 64


def _base(request: web.Request) -> str:
    """The request's origin (image URLs start with it); remembered per (scheme, Host header),
    as building ``request.url`` cost ~1% of a catalog sync."""
    origins = request.app[STATE].origins
    key = (request.scheme, request.host)
    base = origins.get(key)
    if base is None:
        base = str(request.url.origin())
        if len(origins) >= MAX_REMEMBERED_ORIGINS:
            origins.clear()
        origins[key] = base
    return base


def _envelope(
    data: list[dict[str, Any]], total: int | None = None, meta: dict[str, Any] | None = None
) -> web.Response:
    return json_response(
        {"total": len(data) if total is None else total, "data": data, "meta": meta or {}}
    )


def _not_found(what: str) -> web.Response:
    return json_error(404, f"cms.{what}.not_found")


def _bad_param(name: str) -> web.Response:
    return json_error(
        400, "cms.invalid_request", context=[{"code": "invalid_parameter", "field": name}]
    )


def _int_param(
    query: MultiMapping[str], names: tuple[str, ...], default: int, lo: int, hi: int | None
) -> int | None:
    """The first of `names` present, clamped to `hi`; None when not an integer >= `lo`."""
    for name in names:
        raw = query.get(name)
        if raw is None:
            continue
        text = raw.strip()
        if not text.lstrip("-").isdigit() or len(text) > 12:
            return None
        value = int(text)
        if value < lo:
            return None
        return min(value, hi) if hi is not None else value
    return default


def _series(index: SimIndex, series_id: str) -> CatalogEntry | None:
    return index.catalog.by_series_id.get(series_id) if _ID.match(series_id) else None


def _season(index: SimIndex, ident: str) -> SeasonRef | None:
    return index.seasons.get(ident) if _ID.match(ident) else None


def _episode(index: SimIndex, ident: str) -> EpisodeRef | None:
    return index.episodes.get(ident) if _ID.match(ident) else None


@routes.get("/content/v2/cms/series/{id}", name="series")
async def get_series(request: web.Request) -> web.Response:
    index = request.app[STATE].index
    entry = _series(index, request.match_info["id"])
    if entry is None:
        return _not_found("get_series")
    return _envelope([series_flat(index, entry, _base(request))])


@routes.get("/content/v2/cms/series/{id}/seasons", name="series_seasons")
async def get_series_seasons(request: web.Request) -> web.Response:
    index = request.app[STATE].index
    entry = _series(index, request.match_info["id"])
    if entry is None:
        return _not_found("get_seasons")
    return _envelope([season_flat(s) for s in index.seasons_of[entry.series_id]])


@routes.get("/content/v2/cms/seasons/{id}", name="season")
async def get_season(request: web.Request) -> web.Response:
    season = _season(request.app[STATE].index, request.match_info["id"])
    if season is None:
        return _not_found("get_season")
    return _envelope([season_flat(season)])


@routes.get("/content/v2/cms/seasons/{id}/episodes", name="season_episodes")
async def get_season_episodes(request: web.Request) -> web.Response:
    index = request.app[STATE].index
    season = _season(index, request.match_info["id"])
    if season is None:
        return _not_found("get_episodes")
    return _envelope(episodes_flat(index, season, _base(request)))


@routes.get("/content/v2/cms/episodes/{id}", name="episode")
async def get_episode(request: web.Request) -> web.Response:
    index = request.app[STATE].index
    episode = _episode(index, request.match_info["id"])
    if episode is None:
        return _not_found("get_episode")
    return _envelope([episode_flat(index, episode, _base(request))])


def _series_panel(
    index: SimIndex, entry: CatalogEntry, base: str, ratings: bool, score: float | None = None
) -> dict[str, Any]:
    flat = series_flat(index, entry, base)
    return panel(
        flat,
        "series",
        slug=flat["slug"],
        ratings=rating_block(entry) if ratings else None,
        score=score,
    )


def _object_panel(index: SimIndex, ident: str, base: str, ratings: bool) -> dict[str, Any] | None:
    entry = _series(index, ident)
    if entry is not None:
        return _series_panel(index, entry, base, ratings)
    season = _season(index, ident)
    if season is not None:
        flat = season_flat(season)
        return panel(flat, "season", slug=flat["slug_title"], ratings=None)
    episode = _episode(index, ident)
    if episode is not None:
        flat = episode_flat(index, episode, base)
        return panel(flat, "episode", slug=flat["slug"], ratings=None)
    return None


@routes.get("/content/v2/cms/objects/{ids}", name="objects")
async def get_objects(request: web.Request) -> web.Response:
    """Panels for comma-separated ids in request order; unknown ids are left out (as geo-locks)."""
    index = request.app[STATE].index
    ids = [i.strip() for i in request.match_info["ids"].split(",") if i.strip()]
    if not ids or len(ids) > MAX_OBJECT_IDS:
        return _bad_param("ids")
    ratings = request.query.get("ratings") == "true"
    base = _base(request)
    data = [p for i in ids if (p := _object_panel(index, i, base, ratings)) is not None]
    return _envelope(data)


def _page_params(request: web.Request, names: tuple[str, ...]) -> tuple[int, int] | web.Response:
    n = _int_param(request.query, names, 20, 1, MAX_PAGE)
    if n is None:
        return _bad_param(names[0])
    start = _int_param(request.query, ("start",), 0, 0, None)
    if start is None:
        return _bad_param("start")
    return n, start


@routes.get("/content/v2/discover/browse", name="browse")
async def browse(request: web.Request) -> web.Response:
    index = request.app[STATE].index
    paging = _page_params(request, ("n",))
    if isinstance(paging, web.Response):
        return paging
    n, start = paging
    sort_by = request.query.get("sort_by", "popularity")
    if sort_by not in _SORTS:
        return _bad_param("sort_by")
    categories = [c.strip() for c in request.query.get("categories", "").split(",") if c.strip()]
    if len(categories) > 50 or any(len(c) > 64 for c in categories):
        return _bad_param("categories")
    items = index.browse(sort_by, categories)
    ratings = request.query.get("ratings") == "true"
    base = _base(request)
    page = [_series_panel(index, e, base, ratings) for e in items[start : start + n]]
    query = {k: v for k, v in request.query.items() if k not in ("start", "n")}

    def link(at: int) -> str:
        return str(request.rel_url.with_query({**query, "n": str(n), "start": str(at)}))

    meta = {
        "next_page": link(start + n) if start + n < len(items) else "",
        "prev_page": link(max(0, start - n)) if start > 0 else "",
    }
    return _envelope(page, total=len(items), meta=meta)


def _score(needle: str, text: str) -> float | None:
    """Exact title > prefix > word prefix > substring; None when it does not match."""
    best: float | None = None
    for line in text.split("\n"):
        if needle not in line:
            continue
        if line == needle:
            score = 3.0
        elif line.startswith(needle):
            score = 2.0
        elif f" {needle}" in line:
            score = 1.5
        else:
            score = 1.0
        best = score if best is None else max(best, score)
    return best


@routes.get("/content/v2/discover/search", name="search")
async def search(request: web.Request) -> web.Response:
    """Grouped results; only series match (episode titles carry no searchable text)."""
    index = request.app[STATE].index
    paging = _page_params(request, ("n", "limit"))
    if isinstance(paging, web.Response):
        return paging
    n, start = paging
    q = request.query.get("q", "").strip().casefold()
    if len(q) > MAX_QUERY:
        return _bad_param("q")
    raw_types = request.query.get("type", "series,movie_listing,episode")
    types = [t.strip() for t in raw_types.split(",") if t.strip()]
    if not types or len(types) > len(_SEARCH_TYPES) or any(t not in _SEARCH_TYPES for t in types):
        return _bad_param("type")
    ratings = request.query.get("ratings") == "true"
    base = _base(request)
    groups = []
    matches: list[tuple[float, int, CatalogEntry]] | None = None
    for t in dict.fromkeys(types):
        items: list[dict[str, Any]] = []
        count = 0
        if t in ("series", "top_results") and q:
            if matches is None:
                matches = []
                for rank, entry in enumerate(index.catalog.entries):
                    score = _score(q, index.search_text[entry.series_id])
                    if score is not None:
                        matches.append((-score, rank, entry))
                matches.sort(key=lambda m: (m[0], m[1]))
            count = len(matches)
            items = [
                _series_panel(index, e, base, ratings, score=-s)
                for s, _, e in matches[start : start + n]
            ]
        groups.append({"type": _SEARCH_TYPES[t], "count": count, "items": items})
    return json_response({"total": len(groups), "data": groups, "meta": {}})
