"""The search index's input record, decoupled from the catalog bundle's richer entry type."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["SearchRecord", "from_catalog_entry"]


@dataclass(frozen=True, slots=True)
class SearchRecord:
    """One searchable anime: what ranking and filtering need and nothing more.

    `id` is the stable catalog key (`mal:5114`); `titles` are `(lang, text)` pairs in every
    language; `popularity` (members) breaks near-ties.
    """

    id: str
    titles: tuple[tuple[str, str], ...]
    kind: str = "tv"
    genres: tuple[str, ...] = ()
    popularity: int = 0
    rating: float | None = None


def from_catalog_entry(entry: Any) -> SearchRecord:
    """Adapt a `kensho.catalog.CatalogEntry` (duck-typed, so this module needs no import)."""
    titles: list[tuple[str, str]] = [(str(t.lang), str(t.text)) for t in entry.titles]
    if entry.title and all(text.casefold() != entry.title.casefold() for _, text in titles):
        titles.insert(0, ("romaji", str(entry.title)))
    return SearchRecord(
        id=str(entry.key),
        titles=tuple(dict.fromkeys(titles)),
        kind=str(entry.kind),
        genres=tuple(str(g).lower() for g in entry.genres),
        popularity=int(entry.members or 0),
        rating=None if entry.rating is None else float(entry.rating),
    )
