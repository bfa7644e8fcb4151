"""`SearchView`: the immutable snapshot the search actor publishes and handlers read.

The search actor (`kensho.actors.search`) builds one with `build_view` on its own thread and
publishes it; `SearchService` reads it without a thread hop (ARCHITECTURE rule 3). It lives
here, with the index it wraps, so the dependency between the two packages goes one way: the
actor depends on search's domain logic, never the reverse.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from kensho.catalog import load_catalog
from kensho.search.index import SearchIndex, build_index
from kensho.search.records import SearchRecord
from kensho.store.catalog_queries import genre_slug
from kensho.store.search_queries import CatalogSearchRow

__all__ = ["SearchDoc", "SearchView", "build_view", "rows_from_bundle"]

#: the keys of a `titles` object, as the catalog API has them (every key present, maybe null)
_TITLE_KEYS = ("romaji", "en", "ja", "zh-Hans", "zh-Hant")


@dataclass(frozen=True, slots=True)
class SearchDoc:
    """What a search hit shows of one series, beside the index's own ranking data."""

    id: str
    title: str
    titles: Mapping[str, str | None]
    external_ids: Mapping[str, str]
    kind: str
    genres: tuple[str, ...]
    popularity: int
    rating: float | None


@dataclass(frozen=True, slots=True, eq=False)
class SearchView:
    """The published, immutable snapshot handlers read without a thread hop."""

    index: SearchIndex
    docs: Mapping[str, SearchDoc]
    source: str  # "database" | "bundle"
    built_at: float  # Unix time
    build_seconds: float


def rows_from_bundle() -> list[CatalogSearchRow]:
    """The bundled catalog as index rows (ids are the series ids the sync writes too)."""
    return [
        CatalogSearchRow(
            id=e.series_id,
            title=e.title,
            kind=e.kind,
            genres=tuple(e.genres),
            members=int(e.members or 0),
            rating=e.rating,
            titles=tuple((t.lang, t.text) for t in e.titles),
            external_ids=dict(e.external_ids),
        )
        for e in load_catalog().entries
    ]


def _record(row: CatalogSearchRow) -> SearchRecord:
    titles = list(dict.fromkeys(row.titles))
    if row.title and all(text.casefold() != row.title.casefold() for _, text in titles):
        titles.insert(0, ("romaji", row.title))
    return SearchRecord(
        id=row.id,
        titles=tuple(titles),
        kind=row.kind,
        genres=tuple(genre_slug(g) for g in row.genres),
        popularity=row.members,
        rating=row.rating,
    )


def _doc(row: CatalogSearchRow) -> SearchDoc:
    titles: dict[str, str | None] = dict.fromkeys(_TITLE_KEYS)
    for lang, text in row.titles:
        if titles.get(lang) is None:
            titles[lang] = text  # the first title of a language is its main one
    return SearchDoc(
        id=row.id,
        title=row.title,
        titles=MappingProxyType(titles),
        external_ids=MappingProxyType(dict(row.external_ids)),
        kind=row.kind,
        genres=row.genres,
        popularity=row.members,
        rating=row.rating,
    )


def build_view(
    rows: Sequence[CatalogSearchRow],
    *,
    cursor_key: bytes,
    source: str,
    cancelled: Callable[[], bool] | None = None,
) -> SearchView:
    """Index `rows` (blocking CPU work: the actor's thread, never the loop); `BuildCancelled`
    when `cancelled()` says so."""
    t0 = time.perf_counter()
    index = build_index((_record(r) for r in rows), cursor_key=cursor_key, cancelled=cancelled)
    docs = MappingProxyType({r.id: _doc(r) for r in rows})
    return SearchView(index, docs, source, time.time(), time.perf_counter() - t0)
