"""Seasons, episodes, ids and premium flags derived from episode counts."""

from __future__ import annotations

from dataclasses import replace
from types import MappingProxyType

import pytest

from kensho.catalog import load_catalog
from kensho.catalog.bundle import CatalogEntry, Title
from kensho.catalog.derive import (
    DEFAULT_EPISODES,
    LONG_RUN,
    SEASON_LENGTH,
    SeasonPlan,
    episode_id,
    is_premium_only,
    season_id,
    seasons_for,
)

BASE = CatalogEntry(
    key="mal:1",
    series_id="GAAAAAAAA",
    title="T",
    titles=(Title("en", "T"),),
    kind="tv",
    genres=(),
    episodes=None,
    rating=None,
    members=0,
    begin=None,
    end=None,
    external_ids=MappingProxyType({}),
    official_site=None,
)


@pytest.mark.parametrize(
    ("kind", "episodes", "expected"),
    [
        ("tv", 12, (12,)),
        ("tv", 26, (26,)),
        ("tv", 37, (37,)),  # Death Note: one season upstream, never split by length
        ("tv", 64, (64,)),
        ("tv", LONG_RUN, (LONG_RUN,)),
        ("tv", LONG_RUN + 1, (26, 26, 26, 23)),  # a long run: blocks of SEASON_LENGTH
        ("tv", None, (DEFAULT_EPISODES,)),
        ("tv", 0, (DEFAULT_EPISODES,)),
        ("tv", -5, (DEFAULT_EPISODES,)),
        ("movie", None, (1,)),
        ("movie", 1, (1,)),
        ("music", None, (1,)),
        ("ova", 2, (2,)),
    ],
)
def test_seasons_for(kind: str, episodes: int | None, expected: tuple[int, ...]) -> None:
    plans = seasons_for(replace(BASE, kind=kind, episodes=episodes))
    assert tuple(p.episode_count for p in plans) == expected
    assert [p.number for p in plans] == list(range(1, len(expected) + 1))


def test_huge_count_splits_into_bounded_seasons() -> None:
    plans = seasons_for(replace(BASE, episodes=1818))
    assert sum(p.episode_count for p in plans) == 1818
    assert max(p.episode_count for p in plans) == SEASON_LENGTH


def test_death_note_is_one_season_of_37() -> None:
    death_note = load_catalog().by_series_id["G6QWD3EE6"]
    assert seasons_for(death_note) == (SeasonPlan(1, 37),)


def test_only_long_runs_have_several_seasons() -> None:
    """No season is invented for an entry the sources list as one run of <= LONG_RUN."""
    for entry in load_catalog().entries:
        plans = seasons_for(entry)
        total = sum(p.episode_count for p in plans)
        assert (len(plans) > 1) == (total > LONG_RUN), entry.key
        assert all(p.episode_count == SEASON_LENGTH for p in plans[:-1])


def test_ids_stable_and_distinct() -> None:
    assert season_id("GY19NQ2QR", 1) == season_id("GY19NQ2QR", 1)
    assert season_id("GY19NQ2QR", 1) != season_id("GY19NQ2QR", 2)
    assert episode_id("GY19NQ2QR", 1, 1) != episode_id("GY19NQ2QR", 2, 1)
    assert len(season_id("X", 1)) == 11 and len(episode_id("X", 1, 1)) == 13
    # pinned: ids must never change across releases (clients and the database keep them)
    assert season_id("G6QWD3EE6", 1) == "GEW3553252B"
    assert episode_id("G6QWD3EE6", 1, 1) == "GA2WD0B9AX9S1"


def test_premium_rules() -> None:
    plan = SeasonPlan(1, 12)
    flags = [is_premium_only(plan, n) for n in range(1, 13)]
    assert flags == [False] * 9 + [True] * 3
    assert not is_premium_only(SeasonPlan(1, 1), 1)
    assert [is_premium_only(SeasonPlan(1, 2), n) for n in (1, 2)] == [False, True]


def test_all_ids_unique_across_catalog() -> None:
    catalog = load_catalog()
    seen: set[str] = {e.series_id for e in catalog.entries}
    count = len(seen)
    for entry in catalog.entries:
        for plan in seasons_for(entry):
            seen.add(season_id(entry.series_id, plan.number))
            count += 1
            for n in range(1, plan.episode_count + 1):
                seen.add(episode_id(entry.series_id, plan.number, n))
                count += 1
    assert len(seen) == count
