"""GET /api/anime/{id}: the document, ETag/304, fields, encodings and hostile input."""

from __future__ import annotations

import gzip
from typing import Any

import orjson
import pytest
from codings import decode_body

from kensho.catalog import CatalogEntry
from kensho.http import keys, representations

from .conftest import MakeApp

pytestmark = pytest.mark.asyncio


async def test_detail_document_has_every_documented_field(
    make_app: MakeApp, entries: tuple[CatalogEntry, ...]
) -> None:
    client = await make_app()
    entry = entries[0]
    resp = await client.get(f"/api/anime/{entry.series_id}")
    assert resp.status == 200
    doc = await resp.json()
    assert doc["id"] == entry.series_id
    assert list(doc["titles"]) == ["romaji", "en", "ja", "zh-Hans", "zh-Hant"]
    assert doc["type"] == entry.kind
    assert doc["popularity"] == entry.members
    assert doc["genres"] == sorted(entry.genres)
    assert doc["external_ids"] == dict(entry.external_ids)
    assert doc["seasons"] and {"id", "number", "episode_count"} <= set(doc["seasons"][0])
    assert doc["images"]["poster"].endswith("/480x720.jpg")
    assert resp.headers["Cache-Control"].startswith("public, max-age=60")
    assert "stale-while-revalidate=300" in resp.headers["Cache-Control"]
    assert resp.headers["Vary"] == "Accept-Encoding"
    assert resp.headers["ETag"].startswith('"') and len(resp.headers["ETag"]) == 34


async def test_unknown_id_is_404_problem(make_app: MakeApp) -> None:
    client = await make_app()
    resp = await client.get("/api/anime/NOSUCHID0")
    assert resp.status == 404
    assert resp.content_type == "application/problem+json"
    assert resp.headers["Cache-Control"] == "no-store"


async def _etag(client: Any, path: str, **headers: str) -> str:
    resp = await client.get(path, headers=headers)
    assert resp.status == 200
    await resp.read()
    return str(resp.headers["ETag"])


@pytest.mark.parametrize(
    "header",
    [
        "{tag}",
        "W/{tag}",
        '"nope", {tag}',
        '"a", W/"b",W/{tag}',
        "*",
    ],
)
async def test_if_none_match_gives_304_without_body(
    make_app: MakeApp, entries: tuple[CatalogEntry, ...], header: str
) -> None:
    client = await make_app()
    path = f"/api/anime/{entries[1].series_id}"
    tag = await _etag(client, path)
    resp = await client.get(path, headers={"If-None-Match": header.format(tag=tag)})
    assert resp.status == 304
    assert await resp.read() == b""
    assert resp.headers["ETag"] == tag
    assert resp.headers["Vary"] == "Accept-Encoding"


@pytest.mark.parametrize("header", ['"other"', 'W/"other", "x"', "garbage", '"unterminated'])
async def test_if_none_match_other_or_malformed_gives_200(
    make_app: MakeApp, entries: tuple[CatalogEntry, ...], header: str
) -> None:
    client = await make_app()
    resp = await client.get(f"/api/anime/{entries[1].series_id}", headers={"If-None-Match": header})
    assert resp.status == 200
    assert (await resp.json())["id"] == entries[1].series_id


async def test_etag_is_the_hash_of_identity_bytes_whatever_the_encoding(
    make_app: MakeApp, entries: tuple[CatalogEntry, ...]
) -> None:
    client = await make_app()
    path = f"/api/anime/{entries[2].series_id}"
    plain = await _etag(client, path, **{"Accept-Encoding": "identity"})
    zipped = await _etag(client, path, **{"Accept-Encoding": "gzip"})
    assert plain == zipped
    resp = await client.get(path, headers={"If-None-Match": plain, "Accept-Encoding": "br"})
    assert resp.status == 304


async def test_fields_selects_top_level_fields_and_changes_the_etag(
    make_app: MakeApp, entries: tuple[CatalogEntry, ...]
) -> None:
    client = await make_app()
    path = f"/api/anime/{entries[0].series_id}"
    full = await _etag(client, path)
    resp = await client.get(path, params={"fields": "title,episodes, id,title"})
    assert resp.status == 200
    assert await resp.json() == {
        "id": entries[0].series_id,
        "title": (await (await client.get(path)).json())["title"],
        "episodes": (await (await client.get(path)).json())["episodes"],
    }
    assert resp.headers["ETag"] != full
    same = await client.get(path, params={"fields": "id,episodes,title"})
    assert same.headers["ETag"] == resp.headers["ETag"]


@pytest.mark.parametrize(
    ("value", "needle"),
    [
        ("title,nope", "nope"),
        ("", "fields"),
        (",,,", "at least one"),
        ("x" * 301, "300"),
        ("title,<script>", "'<script>'"),
        ("TITLE", "TITLE"),
    ],
)
async def test_bad_fields_is_400_listing_allowed(
    make_app: MakeApp, entries: tuple[CatalogEntry, ...], value: str, needle: str
) -> None:
    client = await make_app()
    resp = await client.get(f"/api/anime/{entries[0].series_id}", params={"fields": value})
    assert resp.status == 400
    problem = await resp.json()
    assert problem["errors"][0]["field"] == "fields"
    assert needle in problem["detail"]
    if "unknown" in problem["detail"]:
        assert "allowed: id, title, titles" in problem["detail"]


async def _biggest(client: Any, entries: tuple[CatalogEntry, ...]) -> tuple[str, bytes]:
    """The path and identity bytes of the largest document (compression needs > 1 KB)."""
    best = ("", b"")
    for entry in entries:
        path = f"/api/anime/{entry.series_id}"
        body = await (await client.get(path, headers={"Accept-Encoding": "identity"})).read()
        if len(body) > len(best[1]):
            best = (path, body)
    return best


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("gzip", "gzip"),
        ("br", "br"),
        ("deflate", "deflate"),
        ("gzip, deflate, br", "br"),
        ("gzip;q=1.0, br;q=0.5", "gzip"),
        ("br;q=0, gzip;q=0.1", "gzip"),
        ("identity", None),
        ("*", "br"),
        ("*;q=0.5, gzip;q=0.9", "gzip"),
        ("zstd, gzip;q=0.2", "gzip"),
        ("identity;q=0, deflate", "deflate"),
        ("x-gzip", "gzip"),
        ("", None),
    ],
)
async def test_content_coding_negotiation(
    make_app: MakeApp, entries: tuple[CatalogEntry, ...], accept: str, expected: str | None
) -> None:
    client = await make_app()
    path, reference = await _biggest(client, entries)
    assert len(reference) > 1024  # big enough to be compressed
    resp = await client.get(path, headers={"Accept-Encoding": accept}, auto_decompress=False)
    assert resp.status == 200
    assert resp.headers.get("Content-Encoding") == expected
    assert resp.headers["Vary"] == "Accept-Encoding"
    raw = await resp.read()
    assert decode_body(expected, raw) == reference
    if expected is not None:
        assert len(raw) < len(reference)


@pytest.mark.parametrize("accept", ["zstd", "identity;q=0", "*;q=0", "compress, identity;q=0"])
async def test_nothing_acceptable_is_406(
    make_app: MakeApp, entries: tuple[CatalogEntry, ...], accept: str
) -> None:
    client = await make_app()
    resp = await client.get(
        f"/api/anime/{entries[0].series_id}", headers={"Accept-Encoding": accept}
    )
    if accept == "zstd":  # identity stays acceptable when not excluded
        assert resp.status == 200
        assert "Content-Encoding" not in resp.headers
        return
    assert resp.status == 406
    assert resp.content_type == "application/problem+json"


async def test_small_bodies_are_not_compressed_unless_identity_is_refused(
    make_app: MakeApp, entries: tuple[CatalogEntry, ...]
) -> None:
    client = await make_app()
    path = f"/api/anime/{entries[0].series_id}?fields=id"
    resp = await client.get(path, headers={"Accept-Encoding": "gzip"}, auto_decompress=False)
    assert "Content-Encoding" not in resp.headers
    assert orjson.loads(await resp.read()) == {"id": entries[0].series_id}
    forced = await client.get(
        path, headers={"Accept-Encoding": "gzip, identity;q=0"}, auto_decompress=False
    )
    assert forced.headers["Content-Encoding"] == "gzip"
    assert orjson.loads(gzip.decompress(await forced.read())) == {"id": entries[0].series_id}
    assert forced.headers["ETag"] == resp.headers["ETag"]


@pytest.mark.parametrize(
    "anime_id",
    [
        "a" * 65,
        "bad%20id",
        "..%2F..%2Fetc",
        "%00",
        "id%27%3B%20DROP%20TABLE%20series",
        "%E2%98%83",
        "x*y",
    ],
)
async def test_hostile_ids_are_400_naming_id(make_app: MakeApp, anime_id: str) -> None:
    client = await make_app()
    resp = await client.get(f"/api/anime/{anime_id}")
    assert resp.status == 400
    problem = await resp.json()
    assert problem["errors"][0]["field"] == "id"


async def test_head_has_headers_and_no_body(
    make_app: MakeApp, entries: tuple[CatalogEntry, ...]
) -> None:
    client = await make_app()
    resp = await client.head(f"/api/anime/{entries[0].series_id}")
    assert resp.status == 200
    assert resp.headers["ETag"]
    assert await resp.read() == b""


async def test_repeated_requests_answer_as_the_first_did(
    make_app: MakeApp, entries: tuple[CatalogEntry, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hot path remembers (target, Accept-Encoding) -> cache key of valid requests only;
    whatever it remembers, each answer equals the first one, and bad input stays a 400."""
    monkeypatch.setattr(representations, "_KNOWN_MAX", 4)  # force the memo to fill and be cleared
    client = await make_app()
    path, reference = await _biggest(client, entries)
    cases = [  # (target, Accept-Encoding, the Content-Encoding it must get)
        (path, "", None),
        (path, "gzip", "gzip"),
        (path, "br", "br"),
        (path + "?fields=id,titles", "", None),
        (path + "?fields=titles,id", "gzip, identity;q=0", "gzip"),
        ("/api/anime/x*y", "", None),
        (path + "?fields=nope", "", None),
    ]
    titles = orjson.dumps({k: orjson.loads(reference)[k] for k in ("id", "titles")})
    first: dict[tuple[str, str], tuple[int, str | None]] = {}
    for _ in range(3):
        for target, accept, coding in cases:
            resp = await client.get(
                target, headers={"Accept-Encoding": accept}, auto_decompress=False
            )
            body = await resp.read()
            seen = (resp.status, resp.headers.get("ETag"))
            assert first.setdefault((target, accept), seen) == seen
            if resp.status == 200:
                assert resp.headers.get("Content-Encoding") == coding
                assert decode_body(coding, body) == (
                    reference if "fields" not in target else titles
                )
    assert first[("/api/anime/x*y", "")][0] == 400
    assert first[(path + "?fields=nope", "")][0] == 400
    reps = client.app[keys.REPRESENTATIONS]
    assert 0 < len(reps.known) <= 4  # bounded, and only valid requests were remembered


async def test_a_remembered_request_reloads_after_invalidation(
    make_app: MakeApp, entries: tuple[CatalogEntry, ...]
) -> None:
    client = await make_app()
    path = f"/api/anime/{entries[0].series_id}"
    etag = await _etag(client, path)
    await client.app[keys.CACHE].invalidate(f"anime:{entries[0].series_id}|*")
    assert await _etag(client, path) == etag  # memo hit, L1 miss: the slow path reloads
