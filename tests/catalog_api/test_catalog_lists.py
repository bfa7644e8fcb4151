"""Browse and episode lists: keyset pagination, signed cursors, filters, validation."""

from __future__ import annotations

from typing import Any

import pytest

from kensho.catalog import CatalogEntry
from kensho.store.pool import execute

from .conftest import MakeApp

pytestmark = pytest.mark.asyncio


async def _walk(client: Any, path: str, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    for _ in range(100):
        query = {**params, **({"cursor": cursor} if cursor else {})}
        resp = await client.get(path, params=query)
        assert resp.status == 200, await resp.text()
        page = await resp.json()
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("pagination did not end")


@pytest.mark.parametrize("sort", ["popularity", "rating", "title"])
async def test_browse_walks_every_anime_once_in_order(make_app: MakeApp, sort: str) -> None:
    client = await make_app()
    items = await _walk(
        client, "/api/anime", sort=sort, limit=7, fields="id,title,rating,popularity"
    )
    ids = [i["id"] for i in items]
    assert len(ids) == len(set(ids)) == 40
    if sort == "popularity":
        keys = [(-i["popularity"], i["id"]) for i in items]
    elif sort == "rating":
        keys = [(-(i["rating"] if i["rating"] is not None else -1), i["id"]) for i in items]
    else:
        keys = [(i["title"].encode(), i["id"]) for i in items]
    assert keys == sorted(keys)


async def test_browse_filters_by_type_and_genre(
    make_app: MakeApp, entries: tuple[CatalogEntry, ...]
) -> None:
    client = await make_app()
    genre = entries[0].genres[0]
    items = await _walk(client, "/api/anime", genre=genre.lower(), limit=5)
    expected = {e.series_id for e in entries if genre in e.genres}
    assert {i["id"] for i in items} == expected
    kind = entries[0].kind
    typed = await _walk(client, "/api/anime", type=kind, limit=50)
    assert {i["id"] for i in typed} == {e.series_id for e in entries if e.kind == kind}


async def test_rows_inserted_before_the_cursor_cause_no_duplicates_or_gaps(
    make_app: MakeApp, catalog_pool: Any
) -> None:
    client = await make_app()
    first = await (await client.get("/api/anime", params={"limit": 10})).json()
    await execute(
        catalog_pool,
        "INSERT INTO series (id, title, members, content_hash) VALUES "
        "('ZZTOPNEW1', 'Brand New', 2000000000, 'x'), ('ZZTOPNEW2', 'Newer', 1999999999, 'x')",
    )
    try:
        rest = await _walk(client, "/api/anime", limit=10, cursor=first["next_cursor"])
    finally:
        await execute(catalog_pool, "DELETE FROM series WHERE id LIKE 'ZZTOPNEW%'")
    ids = [i["id"] for i in first["items"] + rest]
    assert len(ids) == len(set(ids)) == 40
    assert not any(i.startswith("ZZTOPNEW") for i in ids)


async def test_episodes_paginate_without_gaps_and_filter_by_season(
    make_app: MakeApp, entries: tuple[CatalogEntry, ...], catalog_pool: Any
) -> None:
    client = await make_app()
    anime = next(e for e in entries if (e.episodes or 0) > 12)
    path = f"/api/anime/{anime.series_id}/episodes"
    items = await _walk(client, path, limit=4)
    keys = [(i["season_number"], i["number"]) for i in items]
    assert keys == sorted(keys) and len(set(i["id"] for i in items)) == len(items)
    season1 = await _walk(client, path, season=1, limit=3)
    assert season1 == [i for i in items if i["season_number"] == 1]
    assert {"id", "anime_id", "season_id", "title", "duration_seconds", "premium"} <= set(items[0])


async def test_episodes_of_unknown_anime_is_404(make_app: MakeApp) -> None:
    client = await make_app()
    resp = await client.get("/api/anime/NOPE123/episodes")
    assert resp.status == 404


async def test_list_etag_and_304(make_app: MakeApp) -> None:
    client = await make_app()
    resp = await client.get("/api/anime", params={"limit": 3})
    tag = resp.headers["ETag"]
    again = await client.get(
        "/api/anime", params={"limit": 3}, headers={"If-None-Match": f'"x", W/{tag}'}
    )
    assert again.status == 304
    other = await client.get("/api/anime", params={"limit": 4}, headers={"If-None-Match": tag})
    assert other.status == 200


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        "eyJhIjoxfQ.AAAAAAAAAAAAAAAAAAAAAA",
        "x" * 600,
        "W1sxMDAwMDAwMDAwLCJaWiJdXQ.c2lnbmF0dXJlLWJhZGJhZC1iYWQ",
        "../../etc/passwd",
        "%00",
    ],
)
async def test_forged_or_malformed_cursor_is_400(make_app: MakeApp, cursor: str) -> None:
    client = await make_app()
    resp = await client.get("/api/anime", params={"cursor": cursor})
    assert resp.status == 400
    assert (await resp.json())["errors"][0]["field"] == "cursor"


async def test_cursor_from_another_query_is_400(make_app: MakeApp) -> None:
    client = await make_app()
    page = await (await client.get("/api/anime", params={"limit": 2, "sort": "rating"})).json()
    resp = await client.get("/api/anime", params={"cursor": page["next_cursor"], "sort": "title"})
    assert resp.status == 400
    assert (await resp.json())["errors"][0]["field"] == "cursor"


async def test_tampered_cursor_is_400(make_app: MakeApp) -> None:
    client = await make_app()
    page = await (await client.get("/api/anime", params={"limit": 2})).json()
    body, mac = page["next_cursor"].split(".")
    forged = body[:-1] + ("A" if body[-1] != "A" else "B") + "." + mac
    resp = await client.get("/api/anime", params={"cursor": forged})
    assert resp.status == 400


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/api/anime", {"limit": "0"}, "limit"),
        ("/api/anime", {"limit": "101"}, "limit"),
        ("/api/anime", {"limit": "-1"}, "limit"),
        ("/api/anime", {"limit": "1e3"}, "limit"),
        ("/api/anime", {"limit": "9" * 50}, "limit"),
        ("/api/anime", {"sort": "members"}, "sort"),
        ("/api/anime", {"sort": "popularity; DROP TABLE series"}, "sort"),
        ("/api/anime", {"type": "TV"}, "type"),
        ("/api/anime", {"genre": "x" * 65}, "genre"),
        ("/api/anime", {"genre": "<script>"}, "genre"),
        ("/api/anime", {"genre": "a|b*"}, "genre"),
        ("/api/anime", {"cursor": ""}, "cursor"),
        ("/api/anime", {"fields": "password"}, "fields"),
        ("/api/anime/GY8VEQ95Y/episodes", {"season": "0"}, "season"),
        ("/api/anime/GY8VEQ95Y/episodes", {"season": "abc"}, "season"),
        ("/api/anime/GY8VEQ95Y/episodes", {"limit": "500"}, "limit"),
        ("/api/anime/bad!id/episodes", {}, "id"),
    ],
)
async def test_bad_parameters_are_400_naming_the_field(
    make_app: MakeApp, path: str, params: dict[str, str], field: str
) -> None:
    client = await make_app()
    resp = await client.get(path, params=params)
    assert resp.status == 400
    problem = await resp.json()
    assert problem["errors"][0]["field"] == field
