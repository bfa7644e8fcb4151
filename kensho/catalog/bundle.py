"""The bundled catalog: a read-only, versioned snapshot of every anime Kenshō knows.

Built by ``tools/build_catalog.py`` from anime.csv (CC0) and bangumi-data (CC BY 4.0, "source:
bangumi-data"); see ``docs/catalog.md``. Loading is cached: the bundle never changes at run time.
"""

from __future__ import annotations

import functools
import gzip
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

import orjson

__all__ = ["BUNDLE_NAME", "Catalog", "CatalogEntry", "Title", "load_catalog", "read_bundle"]

BUNDLE_NAME = "catalog.json.gz"
SUPPORTED_FORMAT = 1

TitleLang = Literal["romaji", "en", "ja", "zh-Hans", "zh-Hant"]
Kind = Literal["tv", "movie", "ova", "ona", "special", "music", "web"]


@dataclass(frozen=True, slots=True)
class Title:
    """One title of an anime in one language."""

    lang: str
    text: str


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    """One anime. Immutable, so threads (actors) and the loop can share it freely."""

    key: str
    series_id: str
    title: str
    titles: tuple[Title, ...]
    kind: str
    genres: tuple[str, ...]
    episodes: int | None
    rating: float | None
    members: int
    begin: str | None
    end: str | None
    external_ids: Mapping[str, str]
    official_site: str | None


@dataclass(frozen=True, slots=True)
class Catalog:
    """Every entry, most popular first, with an index by series id."""

    version: str
    entries: tuple[CatalogEntry, ...]
    by_series_id: Mapping[str, CatalogEntry]

    def head(self, n: int) -> Catalog:
        """The `n` most popular entries only (a small simulator for tests and benchmarks)."""
        entries = self.entries[:n]
        index = MappingProxyType({e.series_id: e for e in entries})
        return Catalog(self.version, entries, index)


def _entry(raw: Mapping[str, Any]) -> CatalogEntry:
    return CatalogEntry(
        key=str(raw["key"]),
        series_id=str(raw["series_id"]),
        title=str(raw["title"]),
        titles=tuple(Title(str(lang), str(text)) for lang, text in raw["titles"]),
        kind=str(raw["kind"]),
        genres=tuple(str(g) for g in raw["genres"]),
        episodes=None if raw["episodes"] is None else int(raw["episodes"]),
        rating=None if raw["rating"] is None else float(raw["rating"]),
        members=int(raw["members"]),
        begin=raw["begin"],
        end=raw["end"],
        external_ids=MappingProxyType({str(k): str(v) for k, v in raw["external_ids"].items()}),
        official_site=raw["official_site"] or None,
    )


def read_bundle(path: Path) -> Catalog:
    """Parse a bundle file (any path: tests point this at a freshly built one)."""
    doc = orjson.loads(gzip.decompress(path.read_bytes()))
    if doc.get("format") != SUPPORTED_FORMAT:
        raise ValueError(f"{path}: unsupported catalog bundle format {doc.get('format')!r}")
    entries = tuple(_entry(raw) for raw in doc["entries"])
    index = {e.series_id: e for e in entries}
    if len(index) != len(entries):
        raise ValueError(f"{path}: duplicate series ids in the catalog bundle")
    return Catalog(
        version=str(doc["version"]), entries=entries, by_series_id=MappingProxyType(index)
    )


@functools.cache
def load_catalog() -> Catalog:
    """The catalog shipped inside the package (parsed once per process)."""
    ref = resources.files("kensho.catalog") / "data" / BUNDLE_NAME
    with resources.as_file(ref) as path:
        return read_bundle(path)
