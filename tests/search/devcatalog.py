"""Throwaway catalog loader for search tests and the benchmark, until `kensho.catalog` lands.

Joins anime.csv and bangumi-data by MyAnimeList id the way docs/contracts.md describes the
bundle (keys `mal:<id>`, else `bgm:<id>`), so the evaluation set's expected keys stay valid
when the real `load_catalog()` replaces this module.
"""

from __future__ import annotations

import csv
import functools
import html
import json
from pathlib import Path

from kensho.search.records import SearchRecord

DATA = Path("/work/shared/data")
_KINDS = {
    "tv": "tv",
    "movie": "movie",
    "ova": "ova",
    "ona": "ona",
    "special": "special",
    "music": "music",
    "web": "web",
}


def _from_real_catalog() -> tuple[SearchRecord, ...] | None:
    try:
        from kensho.catalog import load_catalog  # type: ignore[attr-defined]
    except ImportError:
        return None
    from kensho.search.records import from_catalog_entry

    return tuple(from_catalog_entry(e) for e in load_catalog().entries)


@functools.cache
def load_records(*, prefer_bundle: bool = True) -> tuple[SearchRecord, ...]:
    """Every anime as a `SearchRecord`, most popular first."""
    if prefer_bundle:
        real = _from_real_catalog()
        if real:
            return real
    rows: dict[str, dict[str, object]] = {}
    with open(DATA / "anime.csv", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            key = f"mal:{row['anime_id']}"
            rows[key] = {
                "titles": [("romaji", html.unescape(row["name"]))],
                "kind": _KINDS.get(row["type"].strip().lower(), "tv"),
                "genres": tuple(g.strip().lower() for g in row["genre"].split(",") if g.strip()),
                "members": int(row["members"] or 0),
                "rating": float(row["rating"]) if row["rating"] else None,
            }
    for path in sorted((DATA / "bangumi-data" / "items").glob("*/*.json")):
        for item in json.loads(path.read_text(encoding="utf-8")):
            sites = {s["site"]: s["id"] for s in item.get("sites", [])}
            if "mal" in sites:
                key = f"mal:{sites['mal']}"
            elif "bangumi" in sites:
                key = f"bgm:{sites['bangumi']}"
            else:
                continue
            rec = rows.setdefault(
                key,
                {
                    "titles": [],
                    "kind": _KINDS.get(item.get("type", ""), "tv"),
                    "genres": (),
                    "members": 0,
                    "rating": None,
                },
            )
            titles: list[tuple[str, str]] = rec["titles"]  # type: ignore[assignment]
            titles.append(("ja", item["title"]))
            for lang, texts in (item.get("titleTranslate") or {}).items():
                for text in texts:
                    titles.append((lang, text))
    out = [
        SearchRecord(
            id=key,
            titles=tuple(
                dict.fromkeys(
                    (lang, html.unescape(t).strip()) for lang, t in r["titles"] if t.strip()
                )
            ),  # type: ignore[attr-defined]
            kind=str(r["kind"]),
            genres=r["genres"],  # type: ignore[arg-type]
            popularity=int(r["members"]),  # type: ignore[call-overload]
            rating=r["rating"],  # type: ignore[arg-type]
        )
        for key, r in rows.items()
        if r["titles"]
    ]
    out.sort(key=lambda r: (-r.popularity, r.id))
    return tuple(out)
