"""Precomputed lookups over the catalog so every handler is O(1) or O(page).

Built once per catalog version and process (``index_for``): ~200k derived episode ids take about
two seconds, which a server start pays once and a test session pays once.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from kensho.catalog.bundle import Catalog, CatalogEntry
from kensho.catalog.derive import SeasonPlan, episode_id, season_id, seasons_for

__all__ = [
    "EpisodeRef",
    "SeasonRef",
    "SimIndex",
    "category_slug",
    "index_for",
    "season_tag",
    "slugify",
]


def slugify(text: str) -> str:
    """Crunchyroll-style ``slug_title``: lower-case ASCII words joined by dashes."""
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug or "title"


#: MyAnimeList genre spellings -> Crunchyroll's category ids (crunchyroll-rs ``Category``)
_CATEGORY_ALIASES = {"shounen": "shonen", "shoujo": "shojo", "sci-fi": "sci-fi"}
_QUARTERS = ("winter", "spring", "summer", "fall")


def category_slug(genre: str) -> str:
    slug = slugify(genre)
    return _CATEGORY_ALIASES.get(slug, slug)


def season_tag(entry: CatalogEntry) -> str | None:
    """The simulcast season the entry first aired in, e.g. ``fall-2006`` (None if unknown)."""
    begin = entry.begin
    if not begin or len(begin) < 7 or not begin[:4].isdigit() or not begin[5:7].isdigit():
        return None
    month = int(begin[5:7])
    if not 1 <= month <= 12:
        return None
    return f"{_QUARTERS[(month - 1) // 3]}-{begin[:4]}"


@dataclass(frozen=True, slots=True)
class SeasonRef:
    entry: CatalogEntry
    plan: SeasonPlan
    id: str
    #: index of the season's first episode within the whole series (0-based)
    first_episode: int


@dataclass(frozen=True, slots=True)
class EpisodeRef:
    season: SeasonRef
    number: int
    id: str


@dataclass(slots=True)
class SimIndex:
    """Read-only after construction; shared by every simulator app of the process."""

    catalog: Catalog
    seasons: dict[str, SeasonRef] = field(default_factory=dict)
    seasons_of: dict[str, tuple[SeasonRef, ...]] = field(default_factory=dict)
    episodes: dict[str, EpisodeRef] = field(default_factory=dict)
    episode_ids: dict[str, tuple[str, ...]] = field(default_factory=dict)
    by_category: dict[str, tuple[CatalogEntry, ...]] = field(default_factory=dict)
    orders: dict[str, tuple[CatalogEntry, ...]] = field(default_factory=dict)
    search_text: dict[str, str] = field(default_factory=dict)

    def build(self) -> SimIndex:
        categories: dict[str, list[CatalogEntry]] = {}
        for entry in self.catalog.entries:
            refs = []
            offset = 0
            for plan in seasons_for(entry):
                ref = SeasonRef(entry, plan, season_id(entry.series_id, plan.number), offset)
                offset += plan.episode_count
                refs.append(ref)
                self.seasons[ref.id] = ref
                ids = tuple(
                    episode_id(entry.series_id, plan.number, n)
                    for n in range(1, plan.episode_count + 1)
                )
                self.episode_ids[ref.id] = ids
                for n, eid in enumerate(ids, start=1):
                    self.episodes[eid] = EpisodeRef(ref, n, eid)
            self.seasons_of[entry.series_id] = tuple(refs)
            for genre in entry.genres:
                categories.setdefault(category_slug(genre), []).append(entry)
            self.search_text[entry.series_id] = "\n".join(t.text.casefold() for t in entry.titles)
        self.by_category = {k: tuple(v) for k, v in categories.items()}
        entries = self.catalog.entries
        self.orders = {
            "popularity": entries,
            "alphabetical": tuple(sorted(entries, key=lambda e: (e.title.casefold(), e.key))),
            "newly_added": tuple(
                sorted(entries, key=lambda e: (e.begin or "", e.key), reverse=True)
            ),
        }
        return self

    def browse(self, sort_by: str, categories: Sequence[str]) -> tuple[CatalogEntry, ...]:
        """Entries in `sort_by` order, keeping those in any of `categories` (cached)."""
        return _browse(self, sort_by, tuple(sorted(set(categories))))

    def episodes_total(self, series_id: str) -> int:
        return sum(s.plan.episode_count for s in self.seasons_of.get(series_id, ()))

    def __hash__(self) -> int:
        return id(self)


@functools.lru_cache(maxsize=256)
def _browse(index: SimIndex, sort_by: str, categories: tuple[str, ...]) -> tuple[CatalogEntry, ...]:
    order = index.orders[sort_by]
    if not categories:
        return order
    wanted = {e.series_id for c in categories for e in index.by_category.get(c, ())}
    return tuple(e for e in order if e.series_id in wanted)


_INDEXES: dict[int, SimIndex] = {}


def index_for(catalog: Catalog) -> SimIndex:
    """The shared index of `catalog` (built on first use, kept while the catalog lives)."""
    index = _INDEXES.get(id(catalog))
    if index is None or index.catalog is not catalog:
        if len(_INDEXES) >= 4:
            _INDEXES.clear()
        index = _INDEXES[id(catalog)] = SimIndex(catalog).build()
    return index
