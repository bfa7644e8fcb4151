"""The shipped catalog bundle: counts, ids, titles, determinism of the builder."""

from __future__ import annotations

import gzip
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from kensho.catalog import load_catalog, read_bundle
from kensho.catalog.bundle import BUNDLE_NAME, Catalog

ROOT = Path(__file__).resolve().parents[2]
#: where CI keeps shared/ (beside the clone); KENSHO_TEST_CATALOG_SOURCE points elsewhere
SOURCE = Path(os.environ.get("KENSHO_TEST_CATALOG_SOURCE", ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def test_counts_are_sane(catalog: Catalog) -> None:
    assert 15_500 <= len(catalog.entries) <= 16_200
    with_cr = [e for e in catalog.entries if "crunchyroll" in e.external_ids]
    assert 600 <= len(with_cr) <= 625
    assert sum(1 for e in catalog.entries if "mal" in e.external_ids) >= 15_000
    both = [e for e in catalog.entries if e.members > 0 and "bangumi" in e.external_ids]
    assert len(both) >= 5_000


def test_version_is_date_and_hash(catalog: Catalog) -> None:
    assert re.fullmatch(r"\d{8}-[0-9a-f]{12}", catalog.version)


def test_series_ids_unique_and_well_formed(catalog: Catalog) -> None:
    ids = [e.series_id for e in catalog.entries]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"G[0-9A-Z]{8,13}", i) for i in ids)
    assert len(catalog.by_series_id) == len(ids)
    assert len({e.key for e in catalog.entries}) == len(ids)


def test_crunchyroll_ids_are_used_as_series_ids(catalog: Catalog) -> None:
    real = {
        e.external_ids["crunchyroll"] for e in catalog.entries if "crunchyroll" in e.external_ids
    }
    used = {
        e.series_id for e in catalog.entries if e.series_id == e.external_ids.get("crunchyroll")
    }
    assert used == real  # every real id is used once, by one of the entries that carries it
    death_note = next(e for e in catalog.entries if e.key == "mal:1535")
    assert death_note.series_id == "G6QWD3EE6"


def test_sorted_by_popularity(catalog: Catalog) -> None:
    members = [e.members for e in catalog.entries]
    assert members == sorted(members, reverse=True)


def test_html_entities_unescaped(catalog: Catalog) -> None:
    texts = [t.text for e in catalog.entries for t in e.titles]
    assert not any("&#039;" in t or "&amp;" in t or "&quot;" in t for t in texts)
    gintama = next(e for e in catalog.entries if e.key == "mal:9969")
    assert any(t.text == "Gintama'" and t.lang == "romaji" for t in gintama.titles)
    assert any(t.text == "Tiger & Bunny" for e in catalog.entries for t in e.titles)


def test_titles_in_every_language(catalog: Catalog) -> None:
    langs = {t.lang for e in catalog.entries for t in e.titles}
    assert {"romaji", "en", "ja", "zh-Hans", "zh-Hant"} <= langs
    assert langs <= {"romaji", "en", "ja", "zh-Hans", "zh-Hant"}
    your_name = next(e for e in catalog.entries if e.key == "mal:32281")
    assert your_name.title == "Your Name."  # English preferred for display
    assert {"romaji", "ja", "en"} <= {t.lang for t in your_name.titles}
    assert your_name.kind == "movie" and your_name.episodes == 1 and your_name.rating == 9.37


def test_single_source_items_kept(catalog: Catalog) -> None:
    keys = {e.key.split(":")[0] for e in catalog.entries}
    assert {"mal", "bgm", "bd"} <= keys
    only_csv = [e for e in catalog.entries if set(e.external_ids) == {"mal"}]
    only_bangumi = [e for e in catalog.entries if e.members == 0]
    assert only_csv and only_bangumi
    assert all(
        e.kind in {"tv", "movie", "ova", "ona", "special", "music", "web"} for e in catalog.entries
    )


def test_external_ids_normalised(catalog: Catalog) -> None:
    sites = {k for e in catalog.entries for k in e.external_ids}
    assert {"mal", "anilist", "anidb", "bangumi", "tmdb", "crunchyroll", "netflix"} <= sites
    assert not sites & {"aniList", "dmhy", "mikan", "bangumi_moe"}


def test_dates_are_iso(catalog: Catalog) -> None:
    for e in catalog.entries:
        for d in (e.begin, e.end):
            assert d is None or re.fullmatch(r"\d{4}-\d{2}-\d{2}", d)


def test_load_is_cached() -> None:
    assert load_catalog() is load_catalog()


def test_bad_bundle_rejected(tmp_path: Path) -> None:

    bad = tmp_path / BUNDLE_NAME
    bad.write_bytes(gzip.compress(b'{"format": 99, "version": "x", "entries": []}'))
    with pytest.raises(ValueError, match="format"):
        read_bundle(bad)
    dup = {"format": 1, "version": "v", "entries": [_raw("a"), _raw("a")]}

    bad.write_bytes(gzip.compress(json.dumps(dup).encode()))
    with pytest.raises(ValueError, match="duplicate"):
        read_bundle(bad)


def _raw(series_id: str) -> dict[str, object]:
    return {
        "key": f"k:{series_id}",
        "series_id": series_id,
        "title": "t",
        "titles": [["en", "t"]],
        "kind": "tv",
        "genres": [],
        "episodes": None,
        "rating": None,
        "members": 0,
        "begin": None,
        "end": None,
        "external_ids": {},
        "official_site": None,
    }


@pytest.mark.skipif(not SOURCE.exists(), reason="shared data not present")
def test_build_is_deterministic_and_matches_shipped(tmp_path: Path) -> None:
    outs = []
    for name in ("a", "b"):
        out = tmp_path / name
        subprocess.run(
            [
                sys.executable,
                str(ROOT / "tools" / "build_catalog.py"),
                "--source",
                str(SOURCE),
                "--out",
                str(out),
            ],
            check=True,
            capture_output=True,
        )
        outs.append((out / BUNDLE_NAME).read_bytes())
    assert outs[0] == outs[1]
    shipped = ROOT / "kensho" / "catalog" / "data" / BUNDLE_NAME
    assert outs[0] == shipped.read_bytes(), "bundle is stale: run tools/build_catalog.py"
    assert len(outs[0]) < 4_000_000
