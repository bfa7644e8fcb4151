"""Discover endpoints beside browse/search: categories, the simulcast season list, up next and
previous episode (crunchyroll-rs ``CategoryInformation``, ``SimulcastSeason``, ``RelatedMedia``)."""

from __future__ import annotations

import functools
from typing import Any

from aiohttp import web

from kensho.upstream.simulator.content import bad_param, envelope, episode_panel
from kensho.upstream.simulator.index import EpisodeRef, SimIndex, category_slug, season_tag
from kensho.upstream.simulator.links import base_url
from kensho.upstream.simulator.responses import json_response
from kensho.upstream.simulator.state import STATE

__all__ = ["routes"]

routes = web.RouteTableDef()
_ID_MAX = 32


def _category(genre: str, locale: str) -> dict[str, Any]:
    return {
        "id": category_slug(genre),
        "slug": category_slug(genre),
        "images": {"background": [], "low": []},
        "localization": {
            "title": genre,
            "description": f"{genre} anime on the Kenshō simulator.",
            "locale": locale,
        },
    }


@functools.cache
def _genres(index: SimIndex) -> tuple[str, ...]:
    """Every genre of the catalog (one spelling per category id), by name."""
    seen: dict[str, str] = {}
    for entry in index.catalog.entries:
        for genre in entry.genres:
            seen.setdefault(category_slug(genre), genre)
    return tuple(sorted(seen.values()))


@routes.get("/content/v2/discover/categories", name="categories")
async def categories(request: web.Request) -> web.Response:
    """All categories, or with ``guid=<series id>`` those of one series (unknown id: none)."""
    index = request.app[STATE].index
    locale = request.query.get("locale", "en-US")[:16]
    guid = request.query.get("guid")
    if guid is None:
        genres: tuple[str, ...] = _genres(index)
    elif len(guid) > _ID_MAX:
        return bad_param("guid")
    else:
        entry = index.catalog.by_series_id.get(guid)
        if entry is None and guid in index.episodes:
            entry = index.episodes[guid].season.entry
        genres = entry.genres if entry is not None else ()
    return envelope([_category(g, locale) for g in genres])


@functools.cache
def _season_tags(index: SimIndex) -> tuple[str, ...]:
    tags = {t for e in index.catalog.entries if (t := season_tag(e))}
    order = {"winter": 0, "spring": 1, "summer": 2, "fall": 3}
    return tuple(sorted(tags, key=lambda t: (t[-4:], order[t[:-5]]), reverse=True))


@routes.get("/content/v1/season_list", name="season_list")
async def season_list(request: web.Request) -> web.Response:
    """Every simulcast season the catalog has, newest first (``seasonal_tag`` values)."""
    index = request.app[STATE].index
    locale = request.query.get("locale", "en-US")[:16]
    items = [
        {
            "id": tag,
            "localization": {
                "title": f"{tag[:-5].capitalize()} {tag[-4:]}",
                "description": f"Anime that started airing in {tag[:-5]} {tag[-4:]}.",
            },
        }
        for tag in _season_tags(index)
    ]
    return json_response({"items": items, "total": len(items), "locale": locale})


def _related(request: web.Request, episode: EpisodeRef | None) -> web.Response:
    """``{total, data: [{panel, playhead, fully_watched, shortcut}], meta}``, or ``{}``."""
    if episode is None:
        return json_response({})
    index = request.app[STATE].index
    item = {
        "panel": episode_panel(index, episode, base_url(request), False),
        "playhead": 0,
        "fully_watched": False,
        "shortcut": False,
    }
    return envelope([item])


def _neighbour(index: SimIndex, episode: EpisodeRef, step: int) -> EpisodeRef | None:
    """The episode `step` away within its series (across seasons), if any."""
    seasons = index.seasons_of[episode.season.entry.series_id]
    flat = [eid for s in seasons for eid in index.episode_ids[s.id]]
    at = flat.index(episode.id) + step
    return index.episodes[flat[at]] if 0 <= at < len(flat) else None


@routes.get("/content/v2/discover/up_next/{id}", name="up_next")
async def up_next(request: web.Request) -> web.Response:
    """For a series: its first episode (nothing is watched here); for an episode: the next."""
    index = request.app[STATE].index
    ident = request.match_info["id"]
    entry = index.catalog.by_series_id.get(ident)
    if entry is not None:
        first = index.seasons_of[entry.series_id][0]
        return _related(request, index.episodes[index.episode_ids[first.id][0]])
    episode = index.episodes.get(ident)
    return _related(request, _neighbour(index, episode, 1) if episode else None)


@routes.get("/content/v2/discover/previous_episode/{id}", name="previous_episode")
async def previous_episode(request: web.Request) -> web.Response:
    index = request.app[STATE].index
    episode = index.episodes.get(request.match_info["id"])
    return _related(request, _neighbour(index, episode, -1) if episode else None)
