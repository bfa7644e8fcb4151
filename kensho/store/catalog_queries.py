"""Read queries behind the catalog API: anime documents, browse pages, episode pages.

Lists are keyset-paginated: each query takes the sort key of the last row served (`after`) and
returns rows strictly after it, plus one extra row to know whether a next page exists. Sort keys
end with the primary key, so the order is total and a page boundary is exact. Series and seasons
with `removed_at` set are invisible here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from kensho.store.pool import fetch_all

__all__ = [
    "ANIME_FIELDS",
    "TITLE_LANGUAGES",
    "EpisodePage",
    "IdPage",
    "SortKey",
    "anime_documents",
    "browse_ids",
    "documents_on",
    "episode_page",
    "genre_slug",
    "most_popular_ids",
    "series_exists",
]

SortKey = Literal["popularity", "rating", "title"]
#: Keys of `titles`, always present (null when the sources have none), in this order.
TITLE_LANGUAGES: Final = ("romaji", "en", "ja", "zh-Hans", "zh-Hant")
#: Top-level fields of an anime document, in the order they are served.
ANIME_FIELDS: Final = (
    "id",
    "title",
    "titles",
    "type",
    "genres",
    "episodes",
    "rating",
    "popularity",
    "start_date",
    "end_date",
    "images",
    "seasons",
    "external_ids",
    "official_site",
)

_SERIES = """
SELECT id, title, kind, genres, episode_count, round(rating::numeric, 2)::float8, members,
       to_char(begin_date, 'YYYY-MM-DD'), to_char(end_date, 'YYYY-MM-DD'), images, official_site
FROM series WHERE id = ANY(%s) AND removed_at IS NULL
"""
_TITLES = (
    "SELECT series_id, lang, text FROM series_titles WHERE series_id = ANY(%s) ORDER BY 1, 2, 3"
)
_EXTERNAL = (
    "SELECT series_id, source, value FROM series_external_ids WHERE series_id = ANY(%s) "
    "ORDER BY 1, 2"
)
_SEASONS = """
SELECT series_id, id, season_number, title, number_of_episodes FROM seasons
WHERE series_id = ANY(%s) AND removed_at IS NULL ORDER BY series_id, season_number, id
"""
# (sort expression, direction) per sort key; the id always breaks ties ascending.
_ORDER: Final[Mapping[str, tuple[str, str]]] = {
    "popularity": ("members", "DESC"),
    "rating": ("COALESCE(rating, -1)::float8", "DESC"),
    "title": ("title", "ASC"),
}


@dataclass(frozen=True, slots=True)
class IdPage:
    """Ids of one browse page and the sort key of its last row when another page follows."""

    ids: tuple[str, ...]
    next_after: tuple[Any, str] | None


@dataclass(frozen=True, slots=True)
class EpisodePage:
    """Episode documents of one page and the key after which the next page starts."""

    items: tuple[dict[str, Any], ...]
    next_after: tuple[int, float, str] | None


def genre_slug(genre: str) -> str:
    """The one genre slug: what the sync stores in `genres`/`series_genres` and what browse,
    search and export filter on. Case-folded, whitespace runs as one hyphen
    (`Slice of Life` -> `slice-of-life`)."""
    return "-".join(genre.casefold().split())


def _images(raw: Any) -> dict[str, str | None]:
    """poster (largest tall image), thumbnail (smallest wide one), banner (largest wide one)."""

    def sizes(kind: str) -> list[tuple[int, str]]:
        groups = raw.get(kind) if isinstance(raw, Mapping) else None
        out: list[tuple[int, str]] = []
        for group in groups if isinstance(groups, list) else []:
            for img in group if isinstance(group, list) else []:
                if isinstance(img, Mapping) and isinstance(img.get("source"), str):
                    out.append((int(img.get("width") or 0), img["source"]))
        return sorted(out)

    tall, wide = sizes("poster_tall"), sizes("poster_wide")
    return {
        "poster": tall[-1][1] if tall else None,
        "thumbnail": wide[0][1] if wide else (tall[0][1] if tall else None),
        "banner": wide[-1][1] if wide else None,
    }


async def anime_documents(pool: Any, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Full anime documents by id (missing or removed ids are absent), fields in ANIME_FIELDS
    order. Four queries on one connection whatever the number of ids."""
    if not ids:
        return {}
    async with pool.acquire() as conn, conn.cursor() as cur:
        return await documents_on(cur, ids)


async def _rows(cur: Any, query: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    await cur.execute(query, params)
    rows: list[tuple[Any, ...]] = await cur.fetchall()
    return rows


async def documents_on(cur: Any, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """`anime_documents` on an open cursor (inside the caller's transaction, if any)."""
    series = await _rows(cur, _SERIES, (list(ids),))
    if not series:
        return {}
    found = [row[0] for row in series]
    titles = await _rows(cur, _TITLES, (found,))
    external = await _rows(cur, _EXTERNAL, (found,))
    seasons = await _rows(cur, _SEASONS, (found,))
    by_lang: dict[str, dict[str, str | None]] = {
        sid: dict.fromkeys(TITLE_LANGUAGES) for sid in found
    }
    for sid, lang, text in titles:
        slot = by_lang[sid]
        if slot.get(lang) is None:
            slot[lang] = text  # first by text order: deterministic bytes, stable ETag
    ext: dict[str, dict[str, str]] = {sid: {} for sid in found}
    for sid, source, value in external:
        ext[sid][source] = value
    season_docs: dict[str, list[dict[str, Any]]] = {sid: [] for sid in found}
    for sid, season_id, number, title, count in seasons:
        season_docs[sid].append(
            {"id": season_id, "number": number, "title": title or None, "episode_count": count}
        )
    docs: dict[str, dict[str, Any]] = {}
    for sid, title, kind, genres, episodes, rating, members, begin, end, images, site in series:
        docs[sid] = {
            "id": sid,
            "title": title,
            "titles": by_lang[sid],
            "type": kind,
            "genres": list(genres or ()),
            "episodes": episodes,
            "rating": rating,
            "popularity": members,
            "start_date": begin,
            "end_date": end,
            "images": _images(images),
            "seasons": season_docs[sid],
            "external_ids": ext[sid],
            "official_site": site,
        }
    return docs


async def browse_ids(
    pool: Any,
    *,
    sort: SortKey,
    limit: int,
    genre: str | None = None,
    kind: str | None = None,
    after: tuple[Any, str] | None = None,
) -> IdPage:
    """One page of series ids in `sort` order, strictly after the key `after`; `genre` is a
    slug (`genre_slug`)."""
    expr, direction = _ORDER[sort]
    where = ["removed_at IS NULL"]
    params: list[Any] = []
    if kind is not None:
        where.append("kind = %s")
        params.append(kind)
    if genre is not None:
        where.append("id IN (SELECT series_id FROM series_genres WHERE genre = %s)")
        params.append(genre)
    if after is not None:
        cmp = "<" if direction == "DESC" else ">"
        where.append(f"({expr} {cmp} %s OR ({expr} = %s AND id > %s))")
        params += [after[0], after[0], after[1]]
    query = (
        f"SELECT id, {expr} FROM series WHERE {' AND '.join(where)} "
        f"ORDER BY {expr} {direction}, id LIMIT %s"
    )
    rows = await fetch_all(pool, query, (*params, limit + 1))
    page = rows[:limit]
    next_after = (page[-1][1], page[-1][0]) if len(rows) > limit and page else None
    return IdPage(tuple(r[0] for r in page), next_after)


async def series_exists(pool: Any, series_id: str) -> bool:
    """Whether a live series has this id."""
    rows = await fetch_all(
        pool, "SELECT 1 FROM series WHERE id = %s AND removed_at IS NULL", (series_id,)
    )
    return bool(rows)


async def episode_page(
    pool: Any,
    series_id: str,
    *,
    limit: int,
    season: int | None = None,
    after: tuple[int, float, str] | None = None,
) -> EpisodePage:
    """Episodes of a series in (season, sequence, id) order, strictly after `after`."""
    where = ["e.series_id = %s", "e.removed_at IS NULL", "s.removed_at IS NULL"]
    params: list[Any] = [series_id]
    if season is not None:
        where.append("s.season_number = %s")
        params.append(season)
    if after is not None:
        where.append("(s.season_number, e.sequence_number, e.id) > (%s, %s::float8, %s)")
        params += list(after)
    query = (
        "SELECT e.id, e.season_id, s.season_number, e.episode_number, e.title, e.duration_ms, "
        "to_char(e.air_date AT TIME ZONE 'UTC', 'YYYY-MM-DD'), e.is_premium_only, "
        "e.sequence_number FROM episodes e JOIN seasons s ON s.id = e.season_id "
        f"WHERE {' AND '.join(where)} "
        "ORDER BY s.season_number, e.sequence_number, e.id LIMIT %s"
    )
    rows = await fetch_all(pool, query, (*params, limit + 1))
    page = rows[:limit]
    items = tuple(
        {
            "id": eid,
            "anime_id": series_id,
            "season_id": season_id,
            "season_number": number,
            "number": ep_number,
            "title": title or None,
            "duration_seconds": None if ms is None else round(ms / 1000),
            "air_date": air,
            "premium": premium,
        }
        for eid, season_id, number, ep_number, title, ms, air, premium, _seq in page
    )
    last = page[-1] if page else None
    next_after = (last[2], float(last[8]), last[0]) if len(rows) > limit and last else None
    return EpisodePage(items, next_after)


async def most_popular_ids(pool: Any, count: int) -> list[str]:
    """The `count` most popular live series (what cache warming loads)."""
    rows = await fetch_all(
        pool,
        "SELECT id FROM series WHERE removed_at IS NULL ORDER BY members DESC, id LIMIT %s",
        (count,),
    )
    return [r[0] for r in rows]
