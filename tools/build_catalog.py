"""Build Kenshō's bundled catalog from the public data sets in ``../shared/data``.

The product ships the bundle inside the package because a user's machine has no ``shared/``.
The output is deterministic: the same inputs give a byte-identical file, so it can be committed
and diffed. Merge rules are documented in ``docs/catalog.md``.

Usage: ``python tools/build_catalog.py [--source DIR] [--out DIR]``
"""

from __future__ import annotations

import argparse
import base64
import csv
import gzip
import hashlib
import html
import json
import sys
import time
import unicodedata
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kensho.catalog.titles import display_title  # noqa: E402

DEFAULT_SOURCE = ROOT.parent / "shared" / "data"
DEFAULT_OUT = ROOT / "kensho" / "catalog" / "data"
BUNDLE_NAME = "catalog.json.gz"
FORMAT = 1

_KINDS = {
    "tv": "tv",
    "movie": "movie",
    "ova": "ova",
    "special": "special",
    "ona": "ona",
    "music": "music",
    "web": "web",
}
#: bangumi-data "resource" sites are search keywords for torrent trackers, not ids.
_SKIP_SITES = frozenset({"dmhy", "mikan", "bangumi_moe"})
_JST = timezone(timedelta(hours=9))
#: Rows appended to anime.csv after the published data set (12,294 rows ending at 26081, a
#: MyAnimeList scrape of early 2017): anime that first aired years later (2019-2024), two of
#: them under MyAnimeList ids that do not exist, with made-up genres ("Hentai" on Jujutsu Kaisen
#: and Solo Leveling, "Friendship"). The real entries come from bangumi-data (mal:40748,
#: mal:52299, mal:38000). Shipping them would show "Jujutsu kaisen", a hentai OVA, above the
#: real series in search (docs/catalog.md).
_SPURIOUS_CSV_ROWS = frozenset({"50321", "390145", "405612"})
_B32 = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", "0123456789ABCDEFGHJKMNPQRSTVWXYZ")


def derived_id(seed: str, length: int = 8) -> str:
    """'G' + `length` Crockford-base32 characters of sha256(seed): opaque and stable."""
    digest = hashlib.sha256(seed.encode()).digest()
    return "G" + base64.b32encode(digest).decode().translate(_B32)[:length]


def _jst_date(stamp: str) -> str | None:
    """bangumi-data times are UTC instants of a Japanese broadcast: keep the JST calendar day."""
    if not stamp:
        return None
    moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    return moment.astimezone(_JST).date().isoformat()


def _clean(text: str) -> str:
    """HTML entities unescaped, invisible format characters (BOM, zero-width spaces) dropped,
    whitespace runs as one space."""
    text = "".join(c for c in html.unescape(text) if unicodedata.category(c) != "Cf")
    return " ".join(text.split())


def _add_title(titles: list[list[str]], lang: str, text: str) -> None:
    text = _clean(text)
    if text and [lang, text] not in titles:
        titles.append([lang, text])


def _read_anime_csv(path: Path) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    with path.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            mal = row["anime_id"].strip()
            if mal in _SPURIOUS_CSV_ROWS:
                continue
            name = html.unescape(row["name"]).strip()
            titles: list[list[str]] = []
            _add_title(titles, "romaji", name)
            episodes = row["episodes"].strip()
            rating = row["rating"].strip()
            out[f"mal:{mal}"] = {
                "key": f"mal:{mal}",
                "titles": titles,
                "kind": _KINDS.get(row["type"].strip().lower()),
                "genres": [g.strip() for g in html.unescape(row["genre"]).split(",") if g.strip()],
                "episodes": int(episodes) if episodes.isdigit() and int(episodes) > 0 else None,
                "rating": round(float(rating), 2) if rating else None,
                "members": int(row["members"] or 0),
                "begin": None,
                "end": None,
                "external_ids": {"mal": mal},
                "official_site": None,
            }
    return out


def _read_bangumi(items_dir: Path) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for path in sorted(items_dir.glob("*/*.json")):
        items.extend(json.loads(path.read_text(encoding="utf-8")))
    items.sort(key=lambda it: (it.get("begin") or "", it.get("title") or ""))
    return items


def _bangumi_key(item: dict[str, Any], ids: dict[str, str]) -> str:
    if "mal" in ids:
        return f"mal:{ids['mal']}"
    if "bangumi" in ids:
        return f"bgm:{ids['bangumi']}"
    return "bd:" + hashlib.sha256(f"{item['title']}|{item['begin']}".encode()).hexdigest()[:12]


def _merge_bangumi(entries: dict[str, dict[str, Any]], item: dict[str, Any]) -> None:
    ids: dict[str, str] = {}
    for site in item.get("sites", []):
        name = str(site.get("site", "")).lower()
        value = str(site.get("id", "")).strip()
        if name and value and name not in _SKIP_SITES:
            ids.setdefault(name, value)
    key = _bangumi_key(item, ids)
    entry = entries.get(key)
    if entry is None:
        entry = entries[key] = {
            "key": key,
            "titles": [],
            "kind": None,
            "genres": [],
            "episodes": None,
            "rating": None,
            "members": 0,
            "begin": None,
            "end": None,
            "external_ids": {},
            "official_site": None,
        }
    lang = item.get("lang") or "ja"
    _add_title(
        entry["titles"],
        lang if lang in ("ja", "en", "zh-Hans", "zh-Hant") else "ja",
        item.get("title", ""),
    )
    for tlang in ("en", "ja", "zh-Hans", "zh-Hant"):
        for text in item.get("titleTranslate", {}).get(tlang, []):
            _add_title(entry["titles"], tlang, text)
    if entry["kind"] is None:
        entry["kind"] = _KINDS.get(str(item.get("type", "")).lower())
    begin, end = _jst_date(item.get("begin", "")), _jst_date(item.get("end", ""))
    if begin and (entry["begin"] is None or begin < entry["begin"]):
        entry["begin"] = begin
    if end and (entry["end"] is None or end > entry["end"]):
        entry["end"] = end
    for name, value in ids.items():
        entry["external_ids"].setdefault(name, value)
    if not entry["official_site"] and item.get("officialSite"):
        entry["official_site"] = item["officialSite"]


def _assign_series_ids(entries: Iterable[dict[str, Any]]) -> None:
    """Real Crunchyroll ids first (earliest-airing entry wins a shared id), then derived ids."""
    ordered = sorted(entries, key=lambda e: (e["begin"] or "9999", e["key"]))
    taken: set[str] = set()
    for entry in ordered:
        cr = entry["external_ids"].get("crunchyroll")
        if cr and cr not in taken:
            entry["series_id"] = cr
            taken.add(cr)
    for entry in sorted(ordered, key=lambda e: e["key"]):
        if "series_id" in entry:
            continue
        salt = 0
        candidate = derived_id(entry["key"])
        while candidate in taken:
            salt += 1
            candidate = derived_id(f"{entry['key']}#{salt}")
        entry["series_id"] = candidate
        taken.add(candidate)


def build(source: Path) -> dict[str, Any]:
    """Join both sources into the bundle document (a plain dict)."""
    entries = _read_anime_csv(source / "anime.csv")
    for item in _read_bangumi(source / "bangumi-data" / "items"):
        _merge_bangumi(entries, item)
    for entry in entries.values():
        entry["kind"] = entry["kind"] or "tv"
        entry["title"] = display_title(entry["titles"])
        entry["external_ids"] = dict(sorted(entry["external_ids"].items()))
    _assign_series_ids(entries.values())
    ordered = sorted(entries.values(), key=lambda e: (-e["members"], e["key"]))
    body = json.dumps(ordered, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    digest = hashlib.sha256(body.encode()).hexdigest()[:12]
    as_of = max((e["begin"] for e in ordered if e["begin"]), default="0000-00-00")
    return {
        "format": FORMAT,
        "version": f"{as_of.replace('-', '')}-{digest}",
        "count": len(ordered),
        "entries": ordered,
    }


def write(doc: dict[str, Any], out_dir: Path) -> Path:
    """Write the gzip'd JSON with a zero mtime and no file name, so bytes depend on content only."""
    out_dir.mkdir(parents=True, exist_ok=True)
    raw = json.dumps(doc, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()
    path = out_dir / BUNDLE_NAME
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(gzip.compress(raw, compresslevel=9, mtime=0))
    tmp.replace(path)
    return path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    doc = build(args.source)
    path = write(doc, args.out)
    entries = doc["entries"]
    print(
        json.dumps(
            {
                "path": str(path),
                "version": doc["version"],
                "entries": len(entries),
                "with_crunchyroll": sum(1 for e in entries if "crunchyroll" in e["external_ids"]),
                "bytes": path.stat().st_size,
                "seconds": round(time.perf_counter() - started, 2),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
