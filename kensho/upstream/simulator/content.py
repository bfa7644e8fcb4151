"""CMS v2 content endpoints, objects panels, discover browse and search."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web
from multidict import MultiMapping

from kensho.catalog.bundle import CatalogEntry
from kensho.upstream.simulator.index import EpisodeRef, SeasonRef, SimIndex, season_tag
from kensho.upstream.simulator.links import base_url
from kensho.upstream.simulator.movies import movie_listing_panel
from kensho.upstream.simulator.responses import json_error, json_response
from kensho.upstream.simulator.shapes import (
    episode_flat,
    episode_rating,
    episodes_flat,
    panel,
    rating_block,
    season_flat,
    series_flat,
)
from kensho.upstream.simulator.state import STATE

__all__ = ["bad_param", "envelope", "episode_panel", "not_found", "routes", "series_panel"]

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


def envelope(
    data: list[dict[str, Any]], total: int | None = None, meta: dict[str, Any] | None = None
) -> web.Response:
    return json_response(
        {"total": len(data) if total is None else total, "data": data, "meta": meta or {}}
    )


def not_found(what: str) -> web.Response:
    return json_error(404, f"cms.{what}.not_found")


def bad_param(name: str) -> web.Response:
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
        return not_found("get_series")
    return envelope([series_flat(index, entry, base_url(request))])


@routes.get("/content/v2/cms/series/{id}/seasons", name="series_seasons")
async def get_series_seasons(request: web.Request) -> web.Response:
    index = request.app[STATE].index
    entry = _series(index, request.match_info["id"])
    if entry is None:
        return not_found("get_seasons")
    base = base_url(request)
    return envelope([season_flat(s, base) for s in index.seasons_of[entry.series_id]])


@routes.get("/content/v2/cms/seasons/{id}", name="season")
async def get_season(request: web.Request) -> web.Response:
    season = _season(request.app[STATE].index, request.match_info["id"])
    if season is None:
        return not_found("get_season")
    return envelope([season_flat(season, base_url(request))])


@routes.get("/content/v2/cms/seasons/{id}/episodes", name="season_episodes")
async def get_season_episodes(request: web.Request) -> web.Response:
    index = request.app[STATE].index
    season = _season(index, request.match_info["id"])
    if season is None:
        return not_found("get_episodes")
    return envelope(episodes_flat(index, season, base_url(request)))


@routes.get("/content/v2/cms/episodes/{id}", name="episode")
async def get_episode(request: web.Request) -> web.Response:
    index = request.app[STATE].index
    episode = _episode(index, request.match_info["id"])
    if episode is None:
        return not_found("get_episode")
    return envelope([episode_flat(index, episode, base_url(request))])


def series_panel(
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
        return series_panel(index, entry, base, ratings)
    season = _season(index, ident)
    if season is not None:
        flat = season_flat(season, base)
        return panel(flat, "season", slug=flat["slug_title"], ratings=None)
    episode = _episode(index, ident)
    if episode is not None:
        return episode_panel(index, episode, base, ratings)
    return None


def episode_panel(index: SimIndex, episode: EpisodeRef, base: str, ratings: bool) -> dict[str, Any]:
    """An episode as a panel; ``rating`` (up/down votes) with ``ratings=true``."""
    flat = episode_flat(index, episode, base)
    rating = episode_rating(episode.season.entry, episode.number) if ratings else None
    return panel(flat, "episode", slug=flat["slug"], ratings=rating)


@routes.get("/content/v2/cms/objects/{ids}", name="objects")
async def get_objects(request: web.Request) -> web.Response:
    """Panels for comma-separated ids in request order; unknown ids are left out (as geo-locks)."""
    index = request.app[STATE].index
    ids = [i.strip() for i in request.match_info["ids"].split(",") if i.strip()]
    if not ids or len(ids) > MAX_OBJECT_IDS:
        return bad_param("ids")
    ratings = request.query.get("ratings") == "true"
    base = base_url(request)
    data = [p for i in ids if (p := _object_panel(index, i, base, ratings)) is not None]
    return envelope(data)


def _page_params(request: web.Request, names: tuple[str, ...]) -> tuple[int, int] | web.Response:
    n = _int_param(request.query, names, 20, 1, MAX_PAGE)
    if n is None:
        return bad_param(names[0])
    start = _int_param(request.query, ("start",), 0, 0, None)
    if start is None:
        return bad_param("start")
    return n, start


_BOOL = {"true": True, "false": False}
_BROWSE_TYPES = ("series", "movie_listing", "episode")


def _flag(request: web.Request, name: str) -> bool | web.Response | None:
    raw = request.query.get(name)
    if raw is None:
        return None
    value = _BOOL.get(raw.strip().lower())
    return bad_param(name) if value is None else value


def _browse_filter(
    request: web.Request,
) -> tuple[str | None, str | None, bool | None] | web.Response:
    """(type, seasonal_tag, wanted is_dubbed) or a 400; ``is_subbed=false`` matches nothing."""
    kind = request.query.get("type")
    if kind is not None and kind not in _BROWSE_TYPES:
        return bad_param("type")
    tag = request.query.get("seasonal_tag")
    if tag is not None and (len(tag) > 32 or not _TAG.match(tag)):
        return bad_param("seasonal_tag")
    dubbed = _flag(request, "is_dubbed")
    subbed = _flag(request, "is_subbed")
    if isinstance(dubbed, web.Response):
        return dubbed
    if isinstance(subbed, web.Response):
        return subbed
    if subbed is False:  # every title is subtitled: nothing is unsubbed
        dubbed = True
    return kind, tag, dubbed


_TAG = re.compile(r"^(winter|spring|summer|fall)-[0-9]{4}$")


@routes.get("/content/v2/discover/browse", name="browse")
async def browse(request: web.Request) -> web.Response:
    """Series panels in ``sort_by`` order, filtered by ``categories`` (any of), ``type``
    (movies are ``movie_listing``s, the rest ``series``; ``episode`` lists each title's
    latest episode), ``seasonal_tag`` (first-air season) and ``is_dubbed``/``is_subbed``."""
    index = request.app[STATE].index
    paging = _page_params(request, ("n",))
    if isinstance(paging, web.Response):
        return paging
    n, start = paging
    sort_by = request.query.get("sort_by", "popularity")
    if sort_by not in _SORTS:
        return bad_param("sort_by")
    categories = [c.strip() for c in request.query.get("categories", "").split(",") if c.strip()]
    if len(categories) > 50 or any(len(c) > 64 for c in categories):
        return bad_param("categories")
    wanted = _browse_filter(request)
    if isinstance(wanted, web.Response):
        return wanted
    kind, tag, dubbed = wanted
    items = index.browse(sort_by, categories)
    if dubbed is True:  # the catalog has no dubs
        items = ()
    if tag is not None:
        items = tuple(e for e in items if season_tag(e) == tag)
    if kind == "series":
        items = tuple(e for e in items if e.kind != "movie")
    elif kind in ("movie_listing",):
        items = tuple(e for e in items if e.kind == "movie")
    ratings = request.query.get("ratings") == "true"
    base = base_url(request)
    page: list[dict[str, Any]] = []
    for e in items[start : start + n]:
        if kind == "episode":
            last = index.seasons_of[e.series_id][-1]
            ref = index.episodes[index.episode_ids[last.id][-1]]
            page.append(episode_panel(index, ref, base, ratings))
        elif kind == "movie_listing":
            page.append(movie_listing_panel(index, e, base, ratings))
        else:
            page.append(series_panel(index, e, base, ratings))
    query = {k: v for k, v in request.query.items() if k not in ("start", "n")}

    def link(at: int) -> str:
        return str(request.rel_url.with_query({**query, "n": str(n), "start": str(at)}))

    meta = {
        "next_page": link(start + n) if start + n < len(items) else "",
        "prev_page": link(max(0, start - n)) if start > 0 else "",
    }
    return envelope(page, total=len(items), meta=meta)


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
        return bad_param("q")
    raw_types = request.query.get("type", "series,movie_listing,episode")
    types = [t.strip() for t in raw_types.split(",") if t.strip()]
    if not types or len(types) > len(_SEARCH_TYPES) or any(t not in _SEARCH_TYPES for t in types):
        return bad_param("type")
    ratings = request.query.get("ratings") == "true"
    base = base_url(request)
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
                series_panel(index, e, base, ratings, score=-s)
                for s, _, e in matches[start : start + n]
            ]
        groups.append({"type": _SEARCH_TYPES[t], "count": count, "items": items})
    return json_response({"total": len(groups), "data": groups, "meta": {}})
