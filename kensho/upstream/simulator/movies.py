"""Movies as the real API models them: a ``movie_listing`` (the catalog entry) holding one
``movie`` (its single derived episode). Only entries of kind ``movie`` have them; the same ids
also answer as a one-season, one-episode series (what Kenshō's own sync walks)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from kensho.catalog.bundle import CatalogEntry
from kensho.upstream.simulator.index import EpisodeRef, SimIndex
from kensho.upstream.simulator.links import base_url
from kensho.upstream.simulator.responses import json_error, json_response
from kensho.upstream.simulator.shapes import episode_flat, panel, rating_block, series_flat
from kensho.upstream.simulator.state import STATE

__all__ = ["movie_flat", "movie_listing_flat", "movie_listing_panel", "routes"]

routes = web.RouteTableDef()
#: the movie listing's keys crunchyroll-rs ``MovieListing`` knows (its strict build denies others)
_LISTING_KEYS = (
    "id",
    "channel_id",
    "slug",
    "title",
    "slug_title",
    "description",
    "extended_description",
    "content_provider",
    "subtitle_locales",
    "is_subbed",
    "is_dubbed",
    "images",
    "keywords",
    "season_tags",
    "tenant_categories",
    "maturity_ratings",
    "is_mature",
    "mature_blocked",
    "availability_notes",
    "availability_status",
    "extended_maturity_rating",
)
_MOVIE_KEYS = (
    "id",
    "channel_id",
    "slug",
    "title",
    "slug_title",
    "description",
    "duration_ms",
    "images",
    "free_available_date",
    "premium_available_date",
    "available_date",
    "premium_date",
    "availability_starts",
    "availability_ends",
    "is_subbed",
    "is_dubbed",
    "closed_captions_available",
    "is_premium_only",
    "maturity_ratings",
    "is_mature",
    "mature_blocked",
    "available_offline",
    "availability_notes",
    "availability_status",
    "ad_breaks",
    "streams_link",
    "audio_locale",
    "extended_maturity_rating",
)


def _the_movie(index: SimIndex, entry: CatalogEntry) -> EpisodeRef:
    season = index.seasons_of[entry.series_id][0]
    return index.episodes[index.episode_ids[season.id][0]]


def movie_listing_flat(index: SimIndex, entry: CatalogEntry, base: str) -> dict[str, Any]:
    series = series_flat(index, entry, base)
    movie = episode_flat(index, _the_movie(index, entry), base)
    body = {k: series[k] for k in _LISTING_KEYS}
    year = series["series_launch_year"]
    body.update(
        audio_locale="ja-JP",
        movie_release_year=year or 0,
        is_premium_only=movie["is_premium_only"],
        free_available_date=movie["free_available_date"],
        premium_available_date=movie["premium_available_date"],
        available_date=movie["available_date"],
        premium_date=movie["premium_date"],
        available_offline=movie["available_offline"],
        first_movie_id=movie["id"],
        duration_ms=movie["duration_ms"],
        versions=[
            {"guid": entry.series_id, "audio_locale": "ja-JP", "original": True, "variant": ""}
        ],
    )
    return body


def movie_flat(index: SimIndex, entry: CatalogEntry, base: str) -> dict[str, Any]:
    flat = episode_flat(index, _the_movie(index, entry), base)
    body = {k: flat[k] for k in _MOVIE_KEYS}
    body.update(
        movie_listing_id=entry.series_id,
        movie_listing_title=entry.title,
        movie_listing_slug_title=flat["series_slug_title"],
    )
    return body


def movie_listing_panel(
    index: SimIndex, entry: CatalogEntry, base: str, ratings: bool
) -> dict[str, Any]:
    flat = movie_listing_flat(index, entry, base)
    body = panel(
        flat, "movie_listing", slug=flat["slug"], ratings=rating_block(entry) if ratings else None
    )
    del body["search_metadata"]  # crunchyroll-rs' strict MovieListing does not know it
    return body


def _movie_entry(request: web.Request) -> CatalogEntry | None:
    entry = request.app[STATE].index.catalog.by_series_id.get(request.match_info["id"])
    return entry if entry is not None and entry.kind == "movie" else None


def _envelope(data: list[dict[str, Any]]) -> web.Response:
    return json_response({"total": len(data), "data": data, "meta": {}})


@routes.get("/content/v2/cms/movie_listings/{id:[A-Z0-9]{1,32}}", name="movie_listing")
async def get_movie_listing(request: web.Request) -> web.Response:
    entry = _movie_entry(request)
    if entry is None:
        return json_error(404, "cms.get_movie_listing.not_found")
    index = request.app[STATE].index
    return _envelope([movie_listing_flat(index, entry, base_url(request))])


@routes.get("/content/v2/cms/movie_listings/{id:[A-Z0-9]{1,32}}/movies", name="movies")
async def get_movies(request: web.Request) -> web.Response:
    entry = _movie_entry(request)
    if entry is None:
        return json_error(404, "cms.get_movies.not_found")
    index = request.app[STATE].index
    return _envelope([movie_flat(index, entry, base_url(request))])


@routes.get("/content/v2/cms/movies/{id:[A-Z0-9]{1,32}}", name="movie")
async def get_movie(request: web.Request) -> web.Response:
    index = request.app[STATE].index
    ref = index.episodes.get(request.match_info["id"])
    entry = ref.season.entry if ref is not None else None
    if entry is None or entry.kind != "movie":
        return json_error(404, "cms.get_movie.not_found")
    return _envelope([movie_flat(index, entry, base_url(request))])
