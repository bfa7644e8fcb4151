"""Catalog API: `GET /api/anime/{id}`, its episodes, browsing, and cache invalidation.

Every representation is cached whole, as the bytes sent: `<ETag><coding><body>`, one cache
entry per (resource, field selection, content coding). A hot read is therefore one lock-free L1
lookup (`CacheService.get_cached`, rule 3), an `If-None-Match` comparison and a response: no
JSON, no compression, no thread hop. Misses go through `get_or_load` in layers (coded variant
-> identity bytes -> the PostgreSQL document), so each layer is loaded once however many
requests wait, and a database outage serves the stale layers (stale-if-error).

Cache keys (patterns for `POST /admin/cache/invalidate`): `anime:<id>|doc` (document),
`anime:<id>|doc|<fields>|<coding>` (representations), `anime:<id>|episodes|...` and
`browse:<genre>|<type>|<sort>|...`. `anime:<id>|*` drops everything about one anime.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final, cast

import orjson
from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy, istr

from kensho.actors.cache import Attach, Invalidate
from kensho.actors.supervisor import Supervisor
from kensho.cache import CacheService
from kensho.config import Config
from kensho.errors import (
    KenshoError,
    NotFound,
    ServiceUnavailable,
    ValidationFailed,
)
from kensho.http import keys
from kensho.http.admin import audit_admin, authorize_admin
from kensho.http.bodies import read_json
from kensho.http.compression import MIN_COMPRESS_BYTES, compress, negotiate
from kensho.http.conditional import etag_for, none_match
from kensho.http.cursors import CursorCodec
from kensho.http.fields import parse_fields, select_fields
from kensho.http.openapi import document_route, match_info_schema, querystring_schema
from kensho.http.routing import Routes
from kensho.http.schemas import catalog as s
from kensho.jobs.cache_warming import CacheWarmer
from kensho.signing import derive_key
from kensho.store import catalog_queries as q
from kensho.store.pool import database_unavailable

__all__ = [
    "CACHE_KEY",
    "CACHE_WARMER",
    "CATALOG",
    "CatalogApi",
    "add_catalog_routes",
    "anime_key",
]

CACHE_KEY = keys.CACHE  # the app's CacheService (set by the redis_cache resource)

_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_GENRE = re.compile(r"^\w[\w &'.+-]{0,63}$")
_DIGITS = re.compile(r"^[0-9]{1,6}$")
_CODES: Final = {"identity": b"i", "br": b"b", "gzip": b"g", "deflate": b"d"}
_NAMES: Final = {v: k for k, v in _CODES.items()}
_TAG_LEN: Final = 34  # '"' + 32 hex digits + '"'
MAX_PATTERN = 256
_KNOWN_MAX = 8192
_ACCEPT_ENCODING = istr("Accept-Encoding")
#: Codings warmed per anime: what current browsers negotiate (br) and older clients (gzip).
WARM_CODINGS: Final = ("br", "gzip")


def anime_key(anime_id: str) -> str:
    """Cache key of an anime's document (its representations extend it)."""
    return f"anime:{anime_id}|doc"


def _anime_base(anime_id: str, selection: tuple[str, ...] | None) -> str:
    """Key prefix of an anime's representations with this field selection."""
    return f"anime:{anime_id}|doc|{'*' if selection is None else ','.join(selection)}"


def _coded_key(base: str, coding: str, identity_ok: bool) -> str:
    """Key of one representation: `identity`, or a coding (`!`: identity not acceptable)."""
    if coding == "identity":
        return f"{base}|identity"
    return f"{base}|{coding}" if identity_ok else f"{base}|{coding}!"


# -- representation blobs -------------------------------------------------------------------


def _pack(etag: str, coding: str, body: bytes) -> bytes:
    return etag.encode("ascii") + _CODES[coding] + body


@dataclass(frozen=True, slots=True)
class _Policy:
    ttl: float
    stale_ttl: float
    error_ttl: float
    header: str


def _policy(ttl: float, stale: float, error: float) -> _Policy:
    header = (
        f"public, max-age={int(ttl)}, stale-while-revalidate={int(stale)}, "
        f"stale-if-error={int(error)}"
    )
    return _Policy(ttl, stale, error, header)


class CatalogApi:
    """Per-app state of the catalog routes: pool, cache, cursor codec and cache policies."""

    def __init__(self, config: Config, pool: Any, cache: CacheService) -> None:
        self.pool = pool
        self.cache = cache
        self.cursors = CursorCodec(derive_key(config, "list-cursor"))
        self.detail = _policy(
            config.catalog_ttl, config.catalog_stale_ttl, config.catalog_error_ttl
        )
        self.lists = _policy(
            min(config.catalog_ttl, 30.0), config.catalog_stale_ttl, config.catalog_error_ttl
        )
        #: (request target, Accept-Encoding) -> stored cache key of the representation they
        #: ask for, for requests whose inputs were valid: a request seen before skips parsing
        #: and validating them again (bounded; cleared when full).
        self.known: dict[tuple[str, str | None], bytes] = {}

    def remember(self, request: tuple[str, str | None], key: str) -> None:
        """Record that the (valid) `request` asks for the representation cached under `key`."""
        if len(self.known) >= _KNOWN_MAX:
            self.known.clear()
        self.known[request] = self.cache.stored_key(key)

    async def _cached(self, key: str, load: Callable[[], Awaitable[bytes]], p: _Policy) -> bytes:
        hit = self.cache.get_cached(key)
        if hit is not None:
            return hit
        return await self.cache.get_or_load(key, load, p.ttl, p.stale_ttl, p.error_ttl)

    async def _db(self, load: Callable[[], Awaitable[bytes]]) -> bytes:
        """Run a database load; an outage is a 503 (unless a stale value answers instead)."""
        try:
            return await load()
        except KenshoError:
            raise
        except Exception as exc:
            if database_unavailable(exc):
                raise ServiceUnavailable(
                    "The catalog database is unavailable.", retry_after=5
                ) from exc
            raise

    async def representation(
        self,
        base: str,
        coding: str,
        identity_ok: bool,
        identity: Callable[[], Awaitable[bytes]],
        p: _Policy,
    ) -> bytes:
        """The cached `<etag><coding><body>` of `base` in `coding`; b"" means "no such thing"."""
        identity_key = _coded_key(base, "identity", True)
        if coding == "identity":
            return await self._cached(identity_key, identity, p)

        async def coded() -> bytes:
            plain = await self._cached(identity_key, identity, p)
            if not plain:
                return b""
            etag, body = plain[:_TAG_LEN].decode("ascii"), plain[_TAG_LEN + 1 :]
            if len(body) < MIN_COMPRESS_BYTES and identity_ok:
                return plain
            data = (
                await asyncio.to_thread(compress, body, coding)
                if len(body) > 65536
                else (compress(body, coding))
            )
            return _pack(etag, coding, data)

        return await self._cached(_coded_key(base, coding, identity_ok), coded, p)

    def document_loader(self, anime_id: str) -> Callable[[], Awaitable[bytes]]:
        async def load() -> bytes:
            docs = await q.anime_documents(self.pool, [anime_id])
            doc = docs.get(anime_id)
            return b"" if doc is None else orjson.dumps(doc)

        return lambda: self._db(load)

    async def document(self, anime_id: str) -> bytes:
        """The anime's full JSON document, b"" when it does not exist."""
        return await self._cached(anime_key(anime_id), self.document_loader(anime_id), self.detail)

    async def anime(
        self, anime_id: str, selection: tuple[str, ...] | None, coding: str, identity_ok: bool
    ) -> bytes:
        """The representation of one anime (see `representation`)."""

        async def identity() -> bytes:
            doc = await self.document(anime_id)
            if not doc:
                return b""
            body = (
                doc
                if selection is None
                else orjson.dumps(select_fields(orjson.loads(doc), selection))
            )
            return _pack(etag_for(body), "identity", body)

        base = _anime_base(anime_id, selection)
        return await self.representation(base, coding, identity_ok, identity, self.detail)

    async def warm(self, anime_id: str) -> None:
        """Load what browsers fetch most: the full anime in br and gzip (and its layers)."""
        for coding in WARM_CODINGS:
            await self.anime(anime_id, None, coding, True)


class _Ready:
    """A representation unpacked for answering: ETag, body and the response headers."""

    __slots__ = ("body", "etag", "headers", "policy")

    def __init__(self, rep: bytes, policy: _Policy) -> None:
        self.policy = policy
        self.etag = rep[:_TAG_LEN].decode("ascii")
        self.body = rep[_TAG_LEN + 1 :]
        headers = CIMultiDict(
            {
                "ETag": self.etag,
                "Cache-Control": policy.header,
                "Vary": "Accept-Encoding",
                "Content-Type": "application/json",
            }
        )
        coding = _NAMES[rep[_TAG_LEN : _TAG_LEN + 1]]
        if coding != "identity":
            headers["Content-Encoding"] = coding
        self.headers = CIMultiDictProxy(headers)


#: Unpacked forms of the representations answered lately, keyed by the cached bytes themselves
#: (their hash is computed once per bytes object): a hot read reuses its headers and body.
_ready: dict[bytes, _Ready] = {}
_READY_MAX = 1024
_IF_NONE_MATCH = istr("If-None-Match")


def respond(request: web.Request, rep: bytes, policy: _Policy) -> web.Response:
    """200 with the cached bytes, or 304 when `If-None-Match` names their ETag."""
    ready = _ready.get(rep)
    if ready is None or ready.policy is not policy:
        if len(_ready) >= _READY_MAX:
            _ready.clear()
        ready = _ready[rep] = _Ready(rep, policy)
    condition = request.headers.get(_IF_NONE_MATCH)
    if condition is not None and none_match(condition, ready.etag):
        headers = {"ETag": ready.etag, "Cache-Control": policy.header, "Vary": "Accept-Encoding"}
        return web.Response(status=304, headers=headers)
    return web.Response(body=ready.body, headers=ready.headers)


# -- input validation -----------------------------------------------------------------------


def _bad(name: str, message: str) -> ValidationFailed:
    return ValidationFailed.field(name, message, status=400)


def _anime_id(request: web.Request) -> str:
    value = request.match_info["id"]
    if not _ID.match(value):
        raise _bad("id", "must be 1 to 64 letters, digits, '-' or '_'")
    return value


def _int_param(
    request: web.Request, name: str, lo: int, hi: int, default: int | None
) -> int | None:
    raw = request.query.get(name)
    if raw is None:
        return default
    if not _DIGITS.match(raw) or not lo <= int(raw) <= hi:
        raise _bad(name, f"must be an integer between {lo} and {hi}")
    return int(raw)


def _choice(request: web.Request, name: str, allowed: tuple[str, ...]) -> str | None:
    raw = request.query.get(name)
    if raw is not None and raw not in allowed:
        raise _bad(name, f"must be one of {', '.join(allowed)}")
    return raw


def _cursor(request: web.Request) -> str | None:
    raw = request.query.get("cursor")
    if raw is not None and not raw:
        raise _bad("cursor", "must not be empty")
    return raw


def _coding(request: web.Request) -> tuple[str, bool]:
    return negotiate(request.headers.get("Accept-Encoding"))


def _api(request: web.Request) -> CatalogApi:
    api = request.app.get(CATALOG)
    if api is None:
        raise ServiceUnavailable("The catalog is not available yet.", retry_after=5)
    return api


# -- handlers -------------------------------------------------------------------------------


async def get_anime(request: web.Request) -> web.Response:
    """GET /api/anime/{id}."""
    api = _api(request)
    seen = (request.raw_path, request.headers.get(_ACCEPT_ENCODING))
    stored = api.known.get(seen)
    if stored is not None:  # the hot path: a request seen before, its answer in L1
        rep = api.cache.get_stored(stored)
        if rep:
            return respond(request, rep, api.detail)
    anime_id = _anime_id(request)
    selection = parse_fields(request.query.get("fields"), q.ANIME_FIELDS)
    coding, identity_ok = _coding(request)
    key = _coded_key(_anime_base(anime_id, selection), coding, identity_ok)
    api.remember(seen, key)
    rep = await api.anime(anime_id, selection, coding, identity_ok)
    if not rep:
        raise NotFound(f"No anime has the id {anime_id}.")
    return respond(request, rep, api.detail)


async def get_episodes(request: web.Request) -> web.Response:
    """GET /api/anime/{id}/episodes?season=&cursor=&limit=."""
    api = _api(request)
    anime_id = _anime_id(request)
    season = _int_param(request, "season", 1, 1000, None)
    limit = _int_param(request, "limit", 1, 100, 50)
    assert limit is not None
    cursor = _cursor(request)
    scope = f"episodes|{anime_id}|{season or ''}"
    after: tuple[int, float, str] | None = None
    if cursor is not None:
        pos = api.cursors.decode(scope, cursor, 3)
        if not (
            isinstance(pos[0], int) and isinstance(pos[1], int | float) and isinstance(pos[2], str)
        ):
            raise _bad("cursor", "malformed cursor")
        after = (pos[0], float(pos[1]), pos[2])
    coding, identity_ok = _coding(request)

    async def load() -> bytes:
        if not await q.series_exists(api.pool, anime_id):
            return b""
        page = await q.episode_page(api.pool, anime_id, limit=limit, season=season, after=after)
        nxt = None if page.next_after is None else api.cursors.encode(scope, page.next_after)
        return orjson.dumps({"items": list(page.items), "next_cursor": nxt})

    async def identity() -> bytes:
        body = await api._db(load)
        return _pack(etag_for(body), "identity", body) if body else b""

    base = f"anime:{anime_id}|episodes|{season or ''}|{limit}|{cursor or ''}"
    rep = await api.representation(base, coding, identity_ok, identity, api.lists)
    if not rep:
        raise NotFound(f"No anime has the id {anime_id}.")
    return respond(request, rep, api.lists)


async def browse(request: web.Request) -> web.Response:
    """GET /api/anime?genre=&type=&sort=&cursor=&limit=&fields=."""
    api = _api(request)
    genre = request.query.get("genre")
    if genre is not None and not _GENRE.match(genre):
        raise _bad("genre", "must be 1 to 64 letters, digits, spaces or &'.+-")
    kind = _choice(request, "type", s.ANIME_KINDS)
    sort = cast(q.SortKey, _choice(request, "sort", s.SORT_KEYS) or "popularity")
    limit = _int_param(request, "limit", 1, 100, 20)
    assert limit is not None
    selection = parse_fields(request.query.get("fields"), q.ANIME_FIELDS)
    cursor = _cursor(request)
    slug = q.genre_slug(genre) if genre is not None else ""
    scope = f"browse|{slug}|{kind or ''}|{sort}"
    after: tuple[Any, str] | None = None
    if cursor is not None:
        key, last_id = api.cursors.decode(scope, cursor, 2)
        if not isinstance(last_id, str) or key is None:
            raise _bad("cursor", "malformed cursor")
        after = (key, last_id)
    coding, identity_ok = _coding(request)

    async def load() -> bytes:
        page = await q.browse_ids(
            api.pool, sort=sort, limit=limit, genre=genre, kind=kind, after=after
        )
        docs = await q.anime_documents(api.pool, page.ids)
        items = [select_fields(docs[i], selection) for i in page.ids if i in docs]
        nxt = None if page.next_after is None else api.cursors.encode(scope, page.next_after)
        return orjson.dumps({"items": items, "next_cursor": nxt})

    async def identity() -> bytes:
        body = await api._db(load)
        return _pack(etag_for(body), "identity", body)

    fsel = "*" if selection is None else ",".join(selection)
    base = f"browse:{slug}|{kind or ''}|{sort}|{limit}|{fsel}|{cursor or ''}"
    rep = await api.representation(base, coding, identity_ok, identity, api.lists)
    return respond(request, rep, api.lists)


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
    cache = request.app.get(CACHE_KEY)
    if cache is None:
        raise ServiceUnavailable("The cache is not running.", retry_after=5)
    target = pattern[:128]
    try:
        handle = _cache_handle(request)
        if handle is not None:
            removed = int(await handle.ask(Invalidate(pattern)))
        else:
            removed = await cache.invalidate(pattern)
    except Exception:
        audit_admin(request, "cache-invalidate", target, "error")
        raise
    audit_admin(request, "cache-invalidate", target, "ok")
    resp = web.json_response(
        {"pattern": pattern, "invalidated": removed}, dumps=lambda o: orjson.dumps(o).decode()
    )
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _cache_handle(request: web.Request) -> Any:
    """The cache actor's handle when the actor is attached to a service, else None."""
    sup = request.app.get(keys.SUPERVISOR)
    if not isinstance(sup, Supervisor) or "cache" not in sup.children:
        return None
    handle = sup.handle("cache")
    return handle if handle.view is not None else None


# -- wiring ---------------------------------------------------------------------------------

CATALOG: web.AppKey[CatalogApi] = web.AppKey("catalog_api", CatalogApi)


#: The cache-warming job; the catalog sync calls `await app[CACHE_WARMER].after_sync()`.
CACHE_WARMER: web.AppKey[CacheWarmer] = web.AppKey("cache_warmer", CacheWarmer)


async def _catalog_context(app: web.Application) -> AsyncIterator[None]:
    """Build the per-app state once the pool and cache are open, attach the cache actor, and
    warm the most popular anime in the background."""
    pool, cache = app.get(keys.DB_POOL), app.get(CACHE_KEY)
    if pool is None or cache is None:
        yield  # the routes answer 503 until both exist
        return
    config = app[keys.CONFIG]
    api = CatalogApi(config, pool, cache)
    app[CATALOG] = api
    sup = app.get(keys.SUPERVISOR)
    if isinstance(sup, Supervisor) and "cache" in sup.children:
        # Always: an actor built with the service but no loop publishes its view yet cannot
        # run an invalidation (503 "not attached") until it knows the loop.
        sup.handle("cache").tell(Attach(cache, asyncio.get_running_loop()))
    warmer = CacheWarmer(
        lambda n: q.most_popular_ids(pool, n),
        api.warm,
        count=config.catalog_warm_count,
        invalidate=cache.invalidate,
    )
    app[CACHE_WARMER] = warmer
    warmer.start()
    try:
        yield
    finally:
        if not await warmer.stop(config.shutdown_timeout):
            app[keys.LIFECYCLE].abandoned.append("job:cache_warming")


def add_catalog_routes(app: web.Application) -> None:
    """Register the catalog routes and the admin invalidation route (named, for url_for).

    The routes are documented with `document_route` rather than decorators on the handlers:
    a decorated handler would also be parsed by `input_parser_for` (webargs+marshmallow),
    which measured at ~70% of a cached read's server time. The handlers validate every input
    themselves, with the same bounds as the documented schemas.
    """
    r = Routes(app)
    r.get("/api/anime", browse, name="anime-browse")
    r.get("/api/anime/{id}", get_anime, name="anime")
    r.get("/api/anime/{id}/episodes", get_episodes, name="anime-episodes")
    r.post("/admin/cache/invalidate", invalidate, name="admin-cache-invalidate")
    app.cleanup_ctx.append(_catalog_context)
    _document(app)


def _document(app: web.Application) -> None:
    tags = {"tags": ["catalog"]}
    document_route(
        app,
        "GET",
        "/api/anime/{id}",
        "One anime: titles, type, genres, rating, seasons, external ids",
        inputs=[match_info_schema(s.AnimeIdPathSchema), querystring_schema(s.AnimeQuerySchema)],
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
        inputs=[
            match_info_schema(s.AnimeIdPathSchema),
            querystring_schema(s.EpisodeListQuerySchema),
        ],
        response=s.EpisodeListSchema,
        errors=(400, 404, 406, 503),
        **tags,
    )
    document_route(
        app,
        "GET",
        "/api/anime",
        "Browse the catalog by genre and type, by popularity, rating or title",
        inputs=[querystring_schema(s.AnimeListQuerySchema)],
        response=s.AnimeListSchema,
        errors=(400, 406, 503),
        **tags,
    )
