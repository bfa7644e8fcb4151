"""Catalog routes: `GET /api/anime/{id}`, its episodes, browsing, and cache invalidation.

Each handler parses and validates its inputs, calls `CatalogService` (kensho.catalog.service)
and answers with the cached representation (`Representations.respond`: ETag, 304, coding).
The hot path: a request seen before (same target and `Accept-Encoding`) whose representation
is in L1 is answered from `Representations.known` without parsing its inputs again.

The routes are documented with `document_route` rather than decorators on the handlers: a
decorated handler would also be parsed by `kensho.http.inputs` (webargs+marshmallow), which
measured at ~70% of a cached read's server time. The handlers validate every input
themselves, once, with the same bounds as the documented schemas.
"""

from __future__ import annotations

from typing import cast

import orjson
from aiohttp import web
from multidict import istr

from kensho.catalog.service import coded_key, representation_base
from kensho.errors import NotFound, ValidationFailed
from kensho.http import keys
from kensho.http.admin import audit_admin, authorize_admin
from kensho.http.bodies import read_json
from kensho.http.export_routes import EXPORT_PATH, document_export, export
from kensho.http.fields import parse_fields
from kensho.http.operations import document_route, json_schema, match_info_schema
from kensho.http.operations import querystring_schema as query_schema
from kensho.http.params import anime_id_of, choice_param, cursor_param, genre_param, int_param
from kensho.http.routing import Routes
from kensho.http.schemas import admin as admin_schemas
from kensho.http.schemas import catalog as s
from kensho.http.services import need
from kensho.store.catalog_queries import ANIME_FIELDS, SortKey

__all__ = ["MAX_PATTERN", "add_catalog_routes"]

MAX_PATTERN = 256
_ACCEPT_ENCODING = istr("Accept-Encoding")


# -- handlers -------------------------------------------------------------------------------


async def get_anime(request: web.Request) -> web.Response:
    """GET /api/anime/{id}."""
    app = request.app
    catalog = need(app, keys.CATALOG, "The catalog")
    reps = app[keys.REPRESENTATIONS]
    seen = (request.raw_path, request.headers.get(_ACCEPT_ENCODING))
    stored = reps.known.get(seen)
    if stored is not None:  # the hot path: a request seen before, its answer in L1
        rep = catalog.get_stored(stored)
        if rep:
            return reps.respond(request, rep, catalog.detail)
    anime_id = anime_id_of(request)
    selection = parse_fields(request.query.get("fields"), ANIME_FIELDS)
    coding, identity_ok = reps.negotiate(seen[1])
    key = coded_key(representation_base(anime_id, selection), coding, identity_ok)
    reps.remember(seen, catalog.stored_key(key))
    rep = await catalog.anime(anime_id, selection, coding, identity_ok)
    if not rep:
        raise NotFound(f"No anime has the id {anime_id}.")
    return reps.respond(request, rep, catalog.detail)


async def get_episodes(request: web.Request) -> web.Response:
    """GET /api/anime/{id}/episodes?season=&cursor=&limit=."""
    catalog = need(request.app, keys.CATALOG, "The catalog")
    reps = request.app[keys.REPRESENTATIONS]
    anime_id = anime_id_of(request)
    season = int_param(request, "season", 1, 1000, None)
    limit = int_param(request, "limit", 1, 100, 50)
    assert limit is not None
    cursor = cursor_param(request)
    coding, identity_ok = reps.negotiate(request.headers.get(_ACCEPT_ENCODING))
    rep = await catalog.episodes(
        anime_id,
        season=season,
        limit=limit,
        cursor=cursor,
        coding=coding,
        identity_ok=identity_ok,
    )
    if not rep:
        raise NotFound(f"No anime has the id {anime_id}.")
    return reps.respond(request, rep, catalog.lists)


async def browse(request: web.Request) -> web.Response:
    """GET /api/anime?genre=&type=&sort=&cursor=&limit=&fields=."""
    catalog = need(request.app, keys.CATALOG, "The catalog")
    reps = request.app[keys.REPRESENTATIONS]
    genre = genre_param(request)
    kind = choice_param(request, "type", s.ANIME_KINDS)
    sort = cast(SortKey, choice_param(request, "sort", s.SORT_KEYS) or "popularity")
    limit = int_param(request, "limit", 1, 100, 20)
    assert limit is not None
    selection = parse_fields(request.query.get("fields"), ANIME_FIELDS)
    cursor = cursor_param(request)
    coding, identity_ok = reps.negotiate(request.headers.get(_ACCEPT_ENCODING))
    rep = await catalog.browse(
        genre=genre,
        kind=kind,
        sort=sort,
        limit=limit,
        selection=selection,
        cursor=cursor,
        coding=coding,
        identity_ok=identity_ok,
    )
    return reps.respond(request, rep, catalog.lists)


async def invalidate(request: web.Request) -> web.Response:
    """POST /admin/cache/invalidate {"pattern": ...}: here, in Redis, in every replica's L1."""
    authorize_admin(request, "cache-invalidate", "cache")
    body = await read_json(request)
    if not isinstance(body, dict):
        raise ValidationFailed.field("body", "must be a JSON object with a pattern")
    extra = sorted(str(k)[:64] for k in body if k != "pattern")
    if extra:
        raise ValidationFailed.field(extra[0], "unknown field; only pattern is allowed")
    pattern = body.get("pattern")
    if not isinstance(pattern, str):
        raise ValidationFailed.field("pattern", "required, a string")
    if not 1 <= len(pattern) <= MAX_PATTERN:
        raise ValidationFailed.field("pattern", f"must be 1 to {MAX_PATTERN} characters")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in pattern):
        raise ValidationFailed.field("pattern", "must not contain control characters")
    admin = need(request.app, keys.CACHE_ADMIN, "The cache")
    target = pattern[:128]
    try:
        removed = await admin.invalidate(pattern)
    except Exception:
        audit_admin(request, "cache-invalidate", target, "error")
        raise
    audit_admin(request, "cache-invalidate", target, "ok")
    resp = web.Response(
        body=orjson.dumps({"pattern": pattern, "invalidated": removed}),
        content_type="application/json",
    )
    resp.headers["Cache-Control"] = "no-store"
    return resp


# -- wiring ---------------------------------------------------------------------------------


def add_catalog_routes(app: web.Application) -> None:
    """Register the catalog routes and the admin invalidation route (named, for url_for)."""
    r = Routes(app)
    r.get("/api/anime", browse, name="anime-browse")
    # Before `/api/anime/{id}`, which would otherwise match it (Crunchyroll ids are upper case).
    r.get(EXPORT_PATH, export, name="anime-export")
    r.get("/api/anime/{id}", get_anime, name="anime")
    r.get("/api/anime/{id}/episodes", get_episodes, name="anime-episodes")
    r.post("/admin/cache/invalidate", invalidate, name="admin-cache-invalidate")
    _document(app)
    document_export(app)


def _document(app: web.Application) -> None:
    tags = {"tags": ["catalog"]}
    document_route(
        app,
        "GET",
        "/api/anime/{id}",
        "One anime: titles, type, genres, rating, seasons, external ids",
        inputs=[match_info_schema(s.AnimeIdPathSchema), query_schema(s.AnimeQuerySchema)],
        response=s.AnimeSchema,
        errors=(400, 404, 406, 503),
        description="Strong ETag (If-None-Match gives 304 without a body), Cache-Control, "
        "Vary: Accept-Encoding; br/gzip/deflate by Accept-Encoding q-values (bodies under 1 KB "
        "are sent as they are). `?fields=` selects top-level fields.",
        **tags,
    )
    document_route(
        app,
        "GET",
        "/api/anime/{id}/episodes",
        "Episodes of an anime, in season and air order, one page at a time",
        inputs=[match_info_schema(s.AnimeIdPathSchema), query_schema(s.EpisodeListQuerySchema)],
        response=s.EpisodeListSchema,
        errors=(400, 404, 406, 503),
        **tags,
    )
    document_route(
        app,
        "GET",
        "/api/anime",
        "Browse the catalog by genre and type, by popularity, rating or title",
        inputs=[query_schema(s.AnimeListQuerySchema)],
        response=s.AnimeListSchema,
        errors=(400, 406, 503),
        **tags,
    )
    document_route(
        app,
        "POST",
        "/admin/cache/invalidate",
        "Drop cache keys matching a pattern on every replica",
        inputs=[
            json_schema(
                admin_schemas.CacheInvalidateRequestSchema,
                example=admin_schemas.CacheInvalidateRequestSchema.example,
            )
        ],
        response=admin_schemas.CacheInvalidateResponseSchema,
        errors=(503,),
        tags=["admin"],
        auth="admin",
    )
