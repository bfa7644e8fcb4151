"""Upstream catalog objects -> database rows, with the content hash that makes a sync idempotent.

Pure functions, no I/O. Upstream JSON is untrusted: an object without a well-formed id is
rejected (`InvalidItem`), strings lose NUL bytes (PostgreSQL `text` refuses them) and are cut to
sane lengths, numbers out of range become NULL. Fields Crunchyroll does not carry (every title in
every language, genres, external ids, rating, popularity) come from the catalog bundle, joined by
series id.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import orjson

from kensho.catalog import CatalogEntry

__all__ = [
    "EpisodeRow",
    "InvalidItem",
    "SeasonRow",
    "SeriesRow",
    "episode_row",
    "season_row",
    "series_row",
]

_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_TITLE = 500
MAX_TEXT = 10_000
MAX_LIST = 200
_INT_MAX = 2**31 - 1


class InvalidItem(ValueError):
    """An upstream object we cannot store (logged and counted, never fatal to the sync)."""


@dataclass(frozen=True, slots=True)
class SeriesRow:
    """A `series` row plus its child rows; `hash` covers all of them."""

    id: str
    values: tuple[Any, ...]  # in SERIES_COLUMNS order, content_hash last
    titles: tuple[tuple[str, str], ...]
    genres: tuple[str, ...]
    external_ids: tuple[tuple[str, str], ...]
    images: tuple[tuple[str, int, int, str], ...]
    hash: str


@dataclass(frozen=True, slots=True)
class SeasonRow:
    id: str
    series_id: str
    values: tuple[Any, ...]
    hash: str


@dataclass(frozen=True, slots=True)
class EpisodeRow:
    id: str
    season_id: str
    values: tuple[Any, ...]
    hash: str


SERIES_COLUMNS = [
    "id",
    "bundle_key",
    "title",
    "slug",
    "kind",
    "genres",
    "episode_count",
    "season_count",
    "rating",
    "members",
    "begin_date",
    "end_date",
    "description",
    "images",
    "is_premium_only",
    "is_mature",
    "official_site",
    "content_hash",
]
SEASON_COLUMNS = [
    "id",
    "series_id",
    "season_number",
    "sequence_number",
    "title",
    "slug",
    "number_of_episodes",
    "is_complete",
    "audio_locales",
    "subtitle_locales",
    "content_hash",
]
EPISODE_COLUMNS = [
    "id",
    "season_id",
    "series_id",
    "episode_number",
    "sequence_number",
    "episode_label",
    "title",
    "slug",
    "description",
    "duration_ms",
    "air_date",
    "is_premium_only",
    "is_mature",
    "images",
    "content_hash",
]


def _id(value: Any, what: str) -> str:
    if not isinstance(value, str) or not _ID.match(value):
        raise InvalidItem(f"{what} id {str(value)[:80]!r} is not a valid id")
    return value


def _text(value: Any, limit: int = MAX_TITLE) -> str:
    if not isinstance(value, str):
        return ""
    return value.replace("\x00", "")[:limit]


def _int(value: Any, lo: int = 0) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if math.isnan(value) or not lo <= value <= _INT_MAX:
        return None
    return int(value)


def _float(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) and abs(value) < 1e12 else None


def _bool(value: Any) -> bool:
    return value is True


def _strings(value: Any, limit: int = 32) -> list[str]:
    if not isinstance(value, list):
        return []
    return [_text(v, limit) for v in value[:MAX_LIST] if isinstance(v, str)]


def _date(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value[:10]).isoformat()
    except ValueError:
        return None


def _timestamp(value: Any) -> str | None:
    day = _date(value)
    if day is None or not isinstance(value, str):
        return None
    match = re.match(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})?$", value)
    return value if match else day


def _images(value: Any) -> tuple[dict[str, Any], tuple[tuple[str, int, int, str], ...]]:
    """Normalised `{kind: [[{source,width,height}]]}` plus one (kind, w, h, url) per size."""
    if not isinstance(value, Mapping):
        return {}, ()
    clean: dict[str, Any] = {}
    flat: dict[tuple[str, int, int], str] = {}
    for kind, variants in list(value.items())[:16]:
        if not isinstance(kind, str) or not isinstance(variants, list):
            continue
        kind_s = _text(kind, 32)
        groups = variants if all(isinstance(v, list) for v in variants) else [variants]
        out_groups = []
        for group in groups[:16]:
            sizes = []
            for img in group[:32]:
                if not isinstance(img, Mapping):
                    continue
                url, w, h = img.get("source"), _int(img.get("width")), _int(img.get("height"))
                if not isinstance(url, str) or not url.startswith(("https://", "http://")):
                    continue
                if w is None or h is None:
                    continue
                url = _text(url, 2000)
                sizes.append({"source": url, "type": kind_s, "width": w, "height": h})
                flat.setdefault((kind_s, w, h), url)
            out_groups.append(sizes)
        clean[kind_s] = out_groups
    return clean, tuple((k, w, h, u) for (k, w, h), u in sorted(flat.items()))


def _flatten(obj: Mapping[str, Any], meta_key: str) -> dict[str, Any]:
    """Merge a panel's `<type>_metadata` block into its top level (flat objects pass through)."""
    out = dict(obj)
    meta = obj.get(meta_key)
    if isinstance(meta, Mapping):
        out.update(meta)
    return out


def _digest(*parts: Any) -> str:
    return hashlib.sha256(orjson.dumps(parts, option=orjson.OPT_SORT_KEYS)).hexdigest()[:32]


def series_row(obj: Any, entry: CatalogEntry | None) -> SeriesRow:
    """A series (flat or browse panel) joined with its bundle entry, if the bundle has one."""
    if not isinstance(obj, Mapping):
        raise InvalidItem("series is not an object")
    o = _flatten(obj, "series_metadata")
    sid = _id(o.get("id"), "series")
    images, image_rows = _images(o.get("images"))
    title = _text(o.get("title")) or (entry.title if entry else "") or sid
    if entry is not None:
        titles = {(t.lang[:16], _text(t.text)) for t in entry.titles if t.text}
        genres = tuple(sorted({_text(g, 64) for g in entry.genres if g}))
        ext = tuple(sorted((k[:32], _text(v, 200)) for k, v in entry.external_ids.items()))
        kind, key, rating, members = entry.kind, entry.key, entry.rating, entry.members
        begin, end, site = _date(entry.begin), _date(entry.end), entry.official_site
    else:
        titles, genres, ext = set(), (), ()
        kind, key, rating, members, begin, end, site = "tv", None, None, 0, None, None, None
    if not titles:
        titles.add(("en", title))
    title_rows = tuple(sorted(titles))
    values: tuple[Any, ...] = (
        sid,
        key,
        title,
        _text(o.get("slug_title")),
        kind,
        list(genres),
        _int(o.get("episode_count")),
        _int(o.get("season_count")),
        _float(rating),
        max(0, min(int(members), _INT_MAX)),
        begin,
        end,
        _text(o.get("description"), MAX_TEXT),
        orjson.dumps(images).decode(),
        _bool(o.get("is_premium_only")),
        _bool(o.get("is_mature")),
        _text(site, 2000) if site else None,
    )
    digest = _digest(values, title_rows, ext, image_rows)
    return SeriesRow(sid, (*values, digest), title_rows, genres, ext, image_rows, digest)


def season_row(obj: Any, series_id: str) -> SeasonRow:
    """A season of `series_id` (a season claiming another parent is rejected)."""
    if not isinstance(obj, Mapping):
        raise InvalidItem("season is not an object")
    o = _flatten(obj, "season_metadata")
    sid = _id(o.get("id"), "season")
    parent = o.get("series_id", series_id)
    if parent != series_id:
        raise InvalidItem(f"season {sid} belongs to {str(parent)[:80]!r}, not {series_id}")
    number = _int(o.get("season_number"))
    values: tuple[Any, ...] = (
        sid,
        series_id,
        number if number is not None else 0,
        _int(o.get("season_sequence_number")) or 0,
        _text(o.get("title")),
        _text(o.get("slug_title")),
        _int(o.get("number_of_episodes")) or 0,
        _bool(o.get("is_complete")),
        _strings(o.get("audio_locales")),
        _strings(o.get("subtitle_locales")),
    )
    digest = _digest(values)
    return SeasonRow(sid, series_id, (*values, digest), digest)


def episode_row(obj: Any, series_id: str, season_id: str) -> EpisodeRow:
    """An episode of `season_id` (an episode claiming another parent is rejected)."""
    if not isinstance(obj, Mapping):
        raise InvalidItem("episode is not an object")
    o = _flatten(obj, "episode_metadata")
    eid = _id(o.get("id"), "episode")
    parent = o.get("season_id", season_id)
    if parent != season_id:
        raise InvalidItem(f"episode {eid} belongs to {str(parent)[:80]!r}, not {season_id}")
    images, _ = _images(o.get("images"))
    seq = _float(o.get("sequence_number"))
    values: tuple[Any, ...] = (
        eid,
        season_id,
        series_id,
        _int(o.get("episode_number")),
        seq if seq is not None else 0.0,
        _text(o.get("episode"), 32),
        _text(o.get("title")),
        _text(o.get("slug_title")),
        _text(o.get("description"), MAX_TEXT),
        _int(o.get("duration_ms")),
        _timestamp(o.get("episode_air_date")),
        _bool(o.get("is_premium_only")),
        _bool(o.get("is_mature")),
        orjson.dumps(images).decode(),
    )
    digest = _digest(values)
    return EpisodeRow(eid, season_id, (*values, digest), digest)
