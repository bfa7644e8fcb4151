"""`CatalogService`: the catalog read model, cached as the representations the API sends.

A hot read is one lock-free L1 lookup (`CacheService.get_cached`, rule 3). Misses go through
`get_or_load` in layers (coded variant -> identity bytes -> the PostgreSQL document), so each
layer is loaded once however many requests wait, and a database outage serves the stale layers
(stale-if-error). Representations are `kensho.catalog.representation` blobs.

Cache keys (patterns for `POST /admin/cache/invalidate`): `anime:<id>|doc` (document),
`anime:<id>|doc|<fields>|<coding>` (representations), `anime:<id>|episodes|...` and
`browse:<genre>|<type>|<sort>|...`. `anime:<id>|*` drops everything about one anime.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Final

import orjson

from kensho.cache import CacheService
from kensho.catalog.representation import (
    MIN_COMPRESS_BYTES,
    TAG_LENGTH,
    CachePolicy,
    compress,
    etag_for,
    pack,
    select_fields,
)
from kensho.config import Config
from kensho.errors import KenshoError, ServiceUnavailable, ValidationFailed
from kensho.signing import CursorCodec, InvalidCursor, derive_key
from kensho.store import catalog_queries as q
from kensho.store.catalog_queries import genre_slug
from kensho.store.pool import database_unavailable

__all__ = ["WARM_CODINGS", "CatalogService", "anime_key", "coded_key", "representation_base"]

Load = Callable[[], Awaitable[bytes]]
#: Codings warmed per anime: what current browsers negotiate (br) and older clients (gzip).
WARM_CODINGS: Final = ("br", "gzip")
#: Bodies larger than this are compressed on a worker thread, not on the loop.
_THREAD_COMPRESS_BYTES: Final = 65536


def anime_key(anime_id: str) -> str:
    """Cache key of an anime's document (its representations extend it)."""
    return f"anime:{anime_id}|doc"


def representation_base(anime_id: str, selection: tuple[str, ...] | None) -> str:
    """Key prefix of an anime's representations with this field selection."""
    return f"anime:{anime_id}|doc|{'*' if selection is None else ','.join(selection)}"


def coded_key(base: str, coding: str, identity_ok: bool) -> str:
    """Key of one representation: `identity`, or a coding (`!`: identity not acceptable)."""
    if coding == "identity":
        return f"{base}|identity"
    return f"{base}|{coding}" if identity_ok else f"{base}|{coding}!"


def _bad_cursor(exc: InvalidCursor | str) -> ValidationFailed:
    return ValidationFailed.field("cursor", str(exc), status=400)


class CatalogService:
    """Anime documents, episode lists and browse pages, each cached per representation."""

    def __init__(
        self,
        pool: Any,
        cache: CacheService,
        cursors: CursorCodec,
        *,
        detail: CachePolicy,
        lists: CachePolicy,
    ) -> None:
        self.pool = pool
        self.cache = cache
        self.cursors = cursors
        self.detail = detail
        self.lists = lists
        #: The hot path's L1 read by stored key (see `stored_key`), without a coroutine.
        self.get_stored = cache.get_stored

    @classmethod
    def from_config(cls, config: Config, pool: Any, cache: CacheService) -> CatalogService:
        """The service with the configured cache windows and the shared cursor key."""
        return cls(
            pool,
            cache,
            CursorCodec(derive_key(config, "list-cursor")),
            detail=CachePolicy.of(
                config.catalog_ttl, config.catalog_stale_ttl, config.catalog_error_ttl
            ),
            lists=CachePolicy.of(
                min(config.catalog_ttl, 30.0), config.catalog_stale_ttl, config.catalog_error_ttl
            ),
        )

    def stored_key(self, key: str) -> bytes:
        """The cache's own form of `key`, for `get_stored`."""
        return self.cache.stored_key(key)

    # -- layers --------------------------------------------------------------------------------

    async def _cached(self, key: str, load: Load, p: CachePolicy) -> bytes:
        hit = self.cache.get_cached(key)
        if hit is not None:
            return hit
        return await self.cache.get_or_load(key, load, p.ttl, p.stale_ttl, p.error_ttl)

    @staticmethod
    async def _db(load: Load) -> bytes:
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
        self, base: str, coding: str, identity_ok: bool, identity: Load, p: CachePolicy
    ) -> bytes:
        """The cached `<etag><coding><body>` of `base` in `coding`; b"" means "no such thing"."""
        identity_key = coded_key(base, "identity", True)
        if coding == "identity":
            return await self._cached(identity_key, identity, p)

        async def coded() -> bytes:
            plain = await self._cached(identity_key, identity, p)
            if not plain:
                return b""
            etag, body = plain[:TAG_LENGTH].decode("ascii"), plain[TAG_LENGTH + 1 :]
            if len(body) < MIN_COMPRESS_BYTES and identity_ok:
                return plain
            if len(body) > _THREAD_COMPRESS_BYTES:
                data = await asyncio.to_thread(compress, body, coding)
            else:
                data = compress(body, coding)
            return pack(etag, coding, data)

        return await self._cached(coded_key(base, coding, identity_ok), coded, p)

    # -- resources -----------------------------------------------------------------------------

    async def document(self, anime_id: str) -> bytes:
        """The anime's full JSON document, b"" when it does not exist."""

        async def load() -> bytes:
            docs = await q.anime_documents(self.pool, [anime_id])
            doc = docs.get(anime_id)
            return b"" if doc is None else orjson.dumps(doc)

        return await self._cached(anime_key(anime_id), lambda: self._db(load), self.detail)

    async def anime(
        self, anime_id: str, selection: tuple[str, ...] | None, coding: str, identity_ok: bool
    ) -> bytes:
        """The representation of one anime (b"" when there is none)."""

        async def identity() -> bytes:
            doc = await self.document(anime_id)
            if not doc:
                return b""
            body = (
                doc
                if selection is None
                else orjson.dumps(select_fields(orjson.loads(doc), selection))
            )
            return pack(etag_for(body), "identity", body)

        base = representation_base(anime_id, selection)
        return await self.representation(base, coding, identity_ok, identity, self.detail)

    async def episodes(
        self,
        anime_id: str,
        *,
        season: int | None,
        limit: int,
        cursor: str | None,
        coding: str,
        identity_ok: bool,
    ) -> bytes:
        """One page of an anime's episodes (b"" when the anime does not exist)."""
        scope = f"episodes|{anime_id}|{season or ''}"
        after: tuple[int, float, str] | None = None
        if cursor is not None:
            after = self._episode_position(scope, cursor)

        async def load() -> bytes:
            if not await q.series_exists(self.pool, anime_id):
                return b""
            page = await q.episode_page(
                self.pool, anime_id, limit=limit, season=season, after=after
            )
            nxt = None if page.next_after is None else self.cursors.encode(scope, page.next_after)
            return orjson.dumps({"items": list(page.items), "next_cursor": nxt})

        async def identity() -> bytes:
            body = await self._db(load)
            return pack(etag_for(body), "identity", body) if body else b""

        base = f"anime:{anime_id}|episodes|{season or ''}|{limit}|{cursor or ''}"
        return await self.representation(base, coding, identity_ok, identity, self.lists)

    def _episode_position(self, scope: str, cursor: str) -> tuple[int, float, str]:
        try:
            pos = self.cursors.decode(scope, cursor)
        except InvalidCursor as exc:
            raise _bad_cursor(exc) from None
        if not (
            isinstance(pos, list)
            and len(pos) == 3
            and isinstance(pos[0], int)
            and isinstance(pos[1], int | float)
            and isinstance(pos[2], str)
        ):
            raise _bad_cursor("malformed cursor")
        return pos[0], float(pos[1]), pos[2]

    async def browse(
        self,
        *,
        genre: str | None,
        kind: str | None,
        sort: q.SortKey,
        limit: int,
        selection: tuple[str, ...] | None,
        cursor: str | None,
        coding: str,
        identity_ok: bool,
    ) -> bytes:
        """One browse page, filtered by genre and type, in `sort` order."""
        slug = genre_slug(genre) if genre is not None else ""
        scope = f"browse|{slug}|{kind or ''}|{sort}"
        after: tuple[Any, str] | None = None
        if cursor is not None:
            try:
                pos = self.cursors.decode(scope, cursor)
            except InvalidCursor as exc:
                raise _bad_cursor(exc) from None
            if not (isinstance(pos, list) and len(pos) == 2 and isinstance(pos[1], str)):
                raise _bad_cursor("malformed cursor")
            if pos[0] is None or isinstance(pos[0], list | dict):
                raise _bad_cursor("malformed cursor")
            after = (pos[0], pos[1])

        async def load() -> bytes:
            page = await q.browse_ids(
                self.pool, sort=sort, limit=limit, genre=slug or None, kind=kind, after=after
            )
            docs = await q.anime_documents(self.pool, page.ids)
            items = [select_fields(docs[i], selection) for i in page.ids if i in docs]
            nxt = None if page.next_after is None else self.cursors.encode(scope, page.next_after)
            return orjson.dumps({"items": items, "next_cursor": nxt})

        async def identity() -> bytes:
            body = await self._db(load)
            return pack(etag_for(body), "identity", body)

        fsel = "*" if selection is None else ",".join(selection)
        base = f"browse:{slug}|{kind or ''}|{sort}|{limit}|{fsel}|{cursor or ''}"
        return await self.representation(base, coding, identity_ok, identity, self.lists)

    async def warm(self, anime_id: str) -> None:
        """Load what browsers fetch most: the full anime in br and gzip (and its layers)."""
        for coding in WARM_CODINGS:
            await self.anime(anime_id, None, coding, True)

    async def most_popular(self, count: int) -> list[str]:
        """Ids of the `count` most popular anime (what warming loads)."""
        return await q.most_popular_ids(self.pool, count)
