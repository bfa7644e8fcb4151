"""SQL of the search feature: the catalog rows the index is built from, and search analytics.

The index rows are read with a *blocking* psycopg2 connection that the search actor opens on
its own thread for the duration of one build (ARCHITECTURE rule 2: the actor never shares a
socket with the event loop, and the loop does no work for a rebuild). One query returns one
row per live series with its titles and external ids aggregated, so a full catalog is a single
round trip. Analytics writes and reads run on the loop with the aiopg pool.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg2

from kensho.store.pool import fetch_all, values_sql

__all__ = [
    "CatalogSearchRow",
    "QueryCount",
    "add_query_counts",
    "load_search_rows_blocking",
    "query_counts",
]

_CATALOG_ROWS = """
SELECT s.id, s.title, s.kind, s.genres, s.members, s.rating,
       COALESCE((SELECT array_agg(ARRAY[t.lang, t.text] ORDER BY t.lang, t.text)
                 FROM series_titles t WHERE t.series_id = s.id), '{}'),
       COALESCE((SELECT jsonb_object_agg(e.source, e.value)
                 FROM series_external_ids e WHERE e.series_id = s.id), '{}'::jsonb)
FROM series s
WHERE s.removed_at IS NULL
ORDER BY s.id
"""


@dataclass(frozen=True, slots=True)
class CatalogSearchRow:
    """What the index and a search hit need of one series; crosses from the DB to the actor."""

    id: str
    title: str
    kind: str
    genres: tuple[str, ...]
    members: int
    rating: float | None
    titles: tuple[tuple[str, str], ...]
    external_ids: Mapping[str, str]


def _row(raw: Sequence[Any]) -> CatalogSearchRow:
    sid, title, kind, genres, members, rating, titles, ext = raw
    pairs = tuple((str(p[0]), str(p[1])) for p in (titles or ()) if p and len(p) == 2)
    return CatalogSearchRow(
        id=str(sid),
        title=str(title),
        kind=str(kind),
        genres=tuple(str(g) for g in (genres or ())),
        members=int(members or 0),
        rating=None if rating is None else float(rating),
        titles=pairs,
        external_ids={str(k): str(v) for k, v in (ext or {}).items()},
    )


def load_search_rows_blocking(dsn: str, *, connect_timeout: int = 5) -> list[CatalogSearchRow]:
    """Every live series for the index. Blocking: call it on the search actor's thread only."""
    conn = psycopg2.connect(dsn, connect_timeout=connect_timeout)
    try:
        conn.set_session(readonly=True)
        with conn.cursor() as cur:
            cur.execute(_CATALOG_ROWS)
            return [_row(r) for r in cur.fetchall()]
    finally:
        conn.close()


# --- analytics -------------------------------------------------------------------------------

_ADD_COUNTS = """
INSERT INTO search_query_minutes (minute, query, kind, genre, paged, result_count, searches)
VALUES {values}
ON CONFLICT (minute, query, kind, genre, paged, result_count)
DO UPDATE SET searches = search_query_minutes.searches + EXCLUDED.searches
"""


async def add_query_counts(pool: Any, rows: Sequence[Sequence[Any]]) -> int:
    """Add `(minute, query, kind, genre, paged, result_count, searches)` counts to what is
    stored, in one statement (a key may appear once per call); return how many rows changed.
    `kind`/`genre` None is stored as ''."""
    if not rows:
        return 0
    # One VALUES list must not name a key twice (ON CONFLICT cannot update a row twice in one
    # statement): None and '' are one key here, so their counts are merged first.
    merged: dict[tuple[Any, ...], int] = {}
    for m, q, k, g, p, r, n in rows:
        key = (m, q, k or "", g or "", p, r)
        merged[key] = merged.get(key, 0) + n
    values = [(*key, n) for key, n in merged.items()]
    async with pool.acquire() as conn, conn.cursor() as cur:
        await cur.execute(_ADD_COUNTS.format(values=values_sql(cur, values)))
        return int(cur.rowcount)


@dataclass(frozen=True, slots=True)
class QueryCount:
    query: str
    count: int


async def query_counts(
    pool: Any, since: datetime, limit: int, *, zero_results: bool
) -> list[QueryCount]:
    """The most frequent first-page queries since the minute of `since` (counts are kept per
    minute); only those that found nothing when `zero_results`. Ties are broken by the query
    text, so the order is stable."""
    rows = await fetch_all(
        pool,
        "SELECT query, sum(searches) AS n FROM search_query_minutes "
        "WHERE minute >= date_trunc('minute', %s::timestamptz) AND NOT paged "
        "AND (NOT %s OR result_count = 0) "
        "GROUP BY query ORDER BY n DESC, query LIMIT %s",
        (since, zero_results, limit),
    )
    return [QueryCount(str(q), int(n)) for q, n in rows]
