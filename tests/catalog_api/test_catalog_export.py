"""`GET /api/anime/export`: NDJSON from a server-side cursor, bounded memory, resumable.

A scratch database holds 16,000 series with full documents (titles in five languages,
external ids, images, two seasons each: ~1.25 KB a line, ~20 MB in all, far more than the
loopback socket buffers hold), so a server that ignored backpressure would have to keep most
of the export in its own memory while the slow reader below takes its time.
"""

from __future__ import annotations

import asyncio
import gzip
import socket
import tracemalloc
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from kensho.cache import CacheService, CacheSettings
from kensho.composition import services
from kensho.config import Config
from kensho.http import keys
from kensho.http.app import create_app
from kensho.store.migrations import migrate
from kensho.store.pool import create_pool, execute
from kensho.store.scratch import create_scratch_database

SERIES = 16_000
Client = TestClient[web.Request, web.Application]
MakeApp = Callable[..., Awaitable[Client]]

_SEED = [
    """INSERT INTO series (id, title, kind, genres, episode_count, rating, members, images,
                           official_site, content_hash, updated_at)
       SELECT 'EX' || lpad(i::text, 6, '0'), 'Export Title ' || i || ' ' || repeat('x', 60),
              (ARRAY['tv','movie','ova'])[1 + i %% 3], ARRAY['Action', 'Slice of Life'],
              24, 7.5, 100000 - i,
              jsonb_build_object('poster_tall', jsonb_build_array(jsonb_build_array(
                  jsonb_build_object('source', 'https://img.test/' || i || '/poster.jpg',
                                     'width', 480, 'height', 720)))),
              'https://example.test/anime/' || i, 'h',
              CASE WHEN i %% 4 = 0 THEN now() ELSE timestamptz '2020-01-01' END
       FROM generate_series(1, %s) AS i""",
    """INSERT INTO series_titles (series_id, lang, text)
       SELECT s.id, l.lang, l.lang || ' title of ' || s.id || ' ' || repeat('t', 80)
       FROM series s CROSS JOIN (VALUES ('romaji'), ('en'), ('ja'), ('zh-Hans'), ('zh-Hant'))
            AS l(lang)""",
    """INSERT INTO series_external_ids (series_id, source, value)
       SELECT id, 'mal', substr(id, 3) FROM series""",
    """INSERT INTO seasons (id, series_id, season_number, title, number_of_episodes,
                            content_hash)
       SELECT s.id || 'S' || n, s.id, n, 'Season ' || n, 12, 'h'
       FROM series s CROSS JOIN generate_series(1, 2) AS n""",
    """INSERT INTO genres (slug, name) VALUES ('action', 'Action'),
       ('slice-of-life', 'Slice of Life')""",
    """INSERT INTO series_genres (series_id, genre)
       SELECT id, CASE WHEN substr(id, 3)::int % 2 = 0 THEN 'action' ELSE 'slice-of-life' END
       FROM series""",
    "UPDATE series SET removed_at = now() WHERE id = 'EX000007'",
]


@pytest.fixture(scope="module")
def export_dsn(postgres_server_dsn: str) -> Any:
    dsn, drop = create_scratch_database(postgres_server_dsn, "kensho_export")

    async def seed() -> None:
        await migrate(dsn)
        pool = await create_pool(dsn, minsize=1, maxsize=1)
        try:
            for statement in _SEED:
                await execute(pool, statement, (SERIES,) if "%s" in statement else None)
        finally:
            pool.close()
            await pool.wait_closed()

    asyncio.run(seed())
    yield dsn
    drop()


@pytest.fixture
async def make_export_app(aiohttp_client: Any, export_dsn: str) -> AsyncIterator[MakeApp]:
    async def make(
        setup: Callable[[web.Application], None] | None = None,
        connector: aiohttp.TCPConnector | None = None,
        **settings: Any,
    ) -> Client:
        config = Config(**{"cursor_secret": "export-test-secret", **settings})

        async def stores(app: web.Application) -> AsyncIterator[None]:
            pool = await create_pool(export_dsn, minsize=1, maxsize=4)
            cache = CacheService(CacheSettings(prefix="kensho-test:export:"))
            app[keys.DB_POOL], app[keys.CACHE] = pool, cache
            yield
            await cache.close()
            pool.close()
            await pool.wait_closed()

        app = create_app(config, resources=[stores, services.catalog()])
        if setup is not None:
            setup(app)
        extra = {} if connector is None else {"connector": connector}
        client: Client = await aiohttp_client(app, **extra)
        return client

    yield make


def _lines(body: bytes) -> list[dict[str, Any]]:
    assert body == b"" or body.endswith(b"\n")
    return [orjson.loads(line) for line in body.split(b"\n")[:-1]]


LIVE = SERIES - 1  # EX000007 is removed


async def test_export_streams_every_live_anime_in_id_order(make_export_app: MakeApp) -> None:
    client = await make_export_app()
    resp = await client.get("/api/anime/export")
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "application/x-ndjson"
    assert resp.headers["Cache-Control"] == "no-store"
    assert "Content-Length" not in resp.headers  # streamed, chunked
    lines = _lines(await resp.read())
    ids = [line["anime"]["id"] for line in lines]
    assert len(ids) == LIVE and ids == sorted(ids) and "EX000007" not in ids
    assert all(set(line) == {"cursor", "anime"} for line in lines)
    # the same document GET /api/anime/{id} serves (one database load per representation)
    sample = lines[1234]["anime"]
    single = await client.get(f"/api/anime/{sample['id']}")
    assert orjson.loads(await single.read()) == sample


def _small_socket_buffers(app: web.Application) -> None:
    """Shrink the server's send buffer and keep it from growing: the kernel then holds a few
    KB of the export, and whatever the server does not hold back sits in its own memory."""

    async def shrink(request: web.Request, response: web.StreamResponse) -> None:
        sock = request.transport.get_extra_info("socket") if request.transport else None
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 16384)

    app.on_response_prepare.append(shrink)


def _small_receive_buffer() -> aiohttp.TCPConnector:
    def factory(addr_info: Any) -> socket.socket:
        family, kind, proto, _, _ = addr_info
        sock = socket.socket(family=family, type=kind, proto=proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
        return sock

    return aiohttp.TCPConnector(socket_factory=factory)


async def _plateau(count: Callable[[], int], total: int) -> int:
    """`count()` once it stopped growing for 0.5 s (or reached `total`).

    Polls: "the server is blocked on a full socket" is not an event anyone can await.
    """
    last, still = -1, 0
    while still < 10:
        now = count()
        if now >= total:
            return now
        still = still + 1 if now == last else 0
        last = now
        await asyncio.sleep(0.05)
    return last


async def test_slow_reader_gets_backpressure_and_memory_stays_flat(
    make_export_app: MakeApp,
) -> None:
    """While the client reads nothing the server stops producing; read slowly to the end, the
    15,999 lines (~20 MB) leave the traced memory flat, a few MB at most."""
    client = await make_export_app(
        export_batch=200, setup=_small_socket_buffers, connector=_small_receive_buffer()
    )
    export = client.app[keys.EXPORT]
    tracemalloc.start()
    try:
        resp = await client.get("/api/anime/export")
        assert resp.status == 200
        await resp.content.readline()
        # A stalled client: read nothing until the server stops producing (or has produced
        # everything, which is what a server without backpressure would do).
        held = await asyncio.wait_for(_plateau(lambda: export.streamed, LIVE), 60)
        assert held <= 3000, held  # held back after a few batches, not buffered
        assert tracemalloc.get_traced_memory()[0] < 8_000_000
        read, nbytes = 1, 0
        samples: list[int] = []
        async for line in resp.content:
            read += 1
            nbytes += len(line)
            if read % 50 == 0:
                await asyncio.sleep(0.002)  # and a slow one from then on
            if read % 2000 == 0:
                samples.append(tracemalloc.get_traced_memory()[0])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert read == LIVE and nbytes > 18_000_000
    assert max(samples) - min(samples) < 4_000_000, samples  # flat, not growing with progress
    assert peak < 12_000_000, peak  # far below what buffering the export would take


async def test_filters_genre_type_and_updated_since(make_export_app: MakeApp) -> None:
    client = await make_export_app()
    params = {"genre": "Slice of Life", "type": "tv", "updated_since": "2024-06-01T00:00:00Z"}
    lines = _lines(await (await client.get("/api/anime/export", params=params)).read())
    numbers = [int(line["anime"]["id"][2:]) for line in lines]
    expected = [i for i in range(1, SERIES + 1) if i % 2 == 1 and i % 3 == 0 and i % 4 == 0]
    assert numbers == expected == []  # odd and a multiple of 4: the filters really combine
    params = {"genre": "action", "type": "movie", "updated_since": "2024-06-01"}
    lines = _lines(await (await client.get("/api/anime/export", params=params)).read())
    numbers = [int(line["anime"]["id"][2:]) for line in lines]
    expected = [i for i in range(1, SERIES + 1) if i % 2 == 0 and i % 3 == 1 and i % 4 == 0]
    assert numbers == expected and len(numbers) > 1000
    assert all(line["anime"]["type"] == "movie" for line in lines)


async def test_resume_from_any_line_continues_without_gap_or_duplicate(
    make_export_app: MakeApp,
) -> None:
    client = await make_export_app()
    params = {"type": "ova"}
    full = _lines(await (await client.get("/api/anime/export", params=params)).read())
    resp = await client.get("/api/anime/export", params=params)
    first = [orjson.loads(await resp.content.readline()) for _ in range(100)]
    resp.close()  # the client goes away mid-stream
    rest_resp = await client.get(
        "/api/anime/export", params={**params, "cursor": first[-1]["cursor"]}
    )
    rest = _lines(await rest_resp.read())
    ids = [line["anime"]["id"] for line in first + rest]
    assert ids == [line["anime"]["id"] for line in full]


async def test_gzip_when_asked(make_export_app: MakeApp) -> None:
    client = await make_export_app()
    plain = await (await client.get("/api/anime/export", params={"type": "tv"})).read()
    resp = await client.get(
        "/api/anime/export",
        params={"type": "tv"},
        headers={"Accept-Encoding": "gzip"},
        auto_decompress=False,
    )
    assert resp.headers["Content-Encoding"] == "gzip"
    assert resp.headers["Vary"] == "Accept-Encoding"
    packed = await resp.read()
    assert len(packed) < len(plain) / 3
    assert gzip.decompress(packed) == plain
    refused = await client.get(
        "/api/anime/export", params={"type": "tv"}, headers={"Accept-Encoding": "br"}
    )
    assert "Content-Encoding" not in refused.headers


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"type": "cartoon"}, "type"),
        ({"type": "tv' OR 1=1 --"}, "type"),
        ({"genre": ""}, "genre"),
        ({"genre": "a" * 65}, "genre"),
        ({"genre": "action\x00"}, "genre"),
        ({"genre": "'; DROP TABLE series; --"}, "genre"),
        ({"updated_since": "yesterday"}, "updated_since"),
        ({"updated_since": "2026-13-45"}, "updated_since"),
        ({"updated_since": "nan"}, "updated_since"),
        ({"updated_since": "2026-01-01T00:00:00Z" + "0" * 5000}, "updated_since"),
        ({"updated_since": "９９９９-01-01"}, "updated_since"),
        ({"cursor": ""}, "cursor"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"cursor": "A" * 5000}, "cursor"),
        ({"cursor": "eyJ4IjoxfQ." + "A" * 43}, "cursor"),
    ],
)
async def test_malformed_and_hostile_parameters_are_400(
    make_export_app: MakeApp, params: dict[str, str], field: str
) -> None:
    client = await make_export_app()
    resp = await client.get("/api/anime/export", params=params)
    assert resp.status == 400, await resp.text()
    assert resp.headers["Content-Type"] == "application/problem+json"
    problem = await resp.json()
    assert problem["errors"][0]["field"] == field
    assert problem["request_id"] == resp.headers["X-Request-ID"]


async def test_a_cursor_from_other_filters_is_400(make_export_app: MakeApp) -> None:
    client = await make_export_app()
    resp = await client.get("/api/anime/export", params={"type": "tv"})
    cursor = orjson.loads(await resp.content.readline())["cursor"]
    resp.close()
    other = await client.get("/api/anime/export", params={"type": "movie", "cursor": cursor})
    assert other.status == 400
    assert (await other.json())["errors"][0]["field"] == "cursor"


async def test_exports_beyond_the_limit_are_refused_with_503(make_export_app: MakeApp) -> None:
    client = await make_export_app(export_max_concurrent=1)
    first = await client.get("/api/anime/export")  # holds the only slot while unread
    await first.content.readline()
    second = await client.get("/api/anime/export")
    assert second.status == 503
    assert second.headers["Retry-After"] == "30"
    first.close()  # the client goes away: the server notices and frees the slot
    await asyncio.wait_for(client.app[keys.EXPORT].idle.wait(), 10)
    third = await client.get("/api/anime/export", params={"type": "ova"})
    assert third.status == 200
    assert len(_lines(await third.read())) > 5000


async def test_export_is_documented(make_export_app: MakeApp) -> None:
    client = await make_export_app()
    doc = await (await client.get("/api/docs/openapi.json")).json()
    op = doc["paths"]["/api/anime/export"]["get"]
    assert "application/x-ndjson" in op["responses"]["200"]["content"]
    assert {p["name"] for p in op["parameters"]} == {"genre", "type", "updated_since", "cursor"}
    assert {"400", "503"} <= set(op["responses"])
