"""Seasons and episodes derived from a catalog entry's episode count.

Neither source has seasons or episode lists, so the simulator (and anything that must agree with
it) derives them here, deterministically: same entry, same seasons, same ids, forever.

Rules (also in ``docs/catalog.md``):
- episode count: the entry's count; unknown -> 1 for movies and music, else ``DEFAULT_EPISODES``.
- seasons: an entry is one season, as its sources have it: MyAnimeList (whose ids key the
  catalog) gives every season its own entry ("Shingeki no Kyojin Season 2"), so splitting one
  would invent seasons (Death Note is one season of 37 episodes, as on Crunchyroll). Only a
  long run of more than ``LONG_RUN`` (100) episodes, which the sources list as one entry
  although it spans years of broadcast (BLEACH 366, Doraemon 1,787), is split into blocks of
  ``SEASON_LENGTH`` (26, two cours), as streaming services split their long runners.
- ids: ``G`` + Crockford base32 of sha256 -- seasons 11 characters, episodes 13, so they never
  collide with series ids (9 characters, or the 12-character real Crunchyroll ones).
- premium: episode 1 of every season is free; the newest quarter of each season (rounded up, at
  least one episode when the season has two or more) is premium-only.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

from kensho.catalog.bundle import CatalogEntry

__all__ = [
    "DEFAULT_EPISODES",
    "LONG_RUN",
    "SEASON_LENGTH",
    "SeasonPlan",
    "episode_count",
    "episode_id",
    "is_premium_only",
    "season_id",
    "seasons_for",
]

DEFAULT_EPISODES = 12
#: more episodes than this make a long run, the only entries split into several seasons
LONG_RUN = 100
#: episodes per season of a long run (two cours); the blocks of earlier releases, so the ids
#: of long runs did not change when shorter entries stopped being split
SEASON_LENGTH = 26
_SINGLE = frozenset({"movie", "music"})
_B32 = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", "0123456789ABCDEFGHJKMNPQRSTVWXYZ")


@dataclass(frozen=True, slots=True)
class SeasonPlan:
    """Season `number` (1-based) has `episode_count` episodes."""

    number: int
    episode_count: int


def _opaque(seed: str, length: int) -> str:
    digest = hashlib.sha256(seed.encode()).digest()
    return "G" + base64.b32encode(digest).decode().translate(_B32)[:length]


def episode_count(entry: CatalogEntry) -> int:
    """The entry's total episode count, with the documented default when unknown."""
    if entry.episodes is not None and entry.episodes > 0:
        return entry.episodes
    return 1 if entry.kind in _SINGLE else DEFAULT_EPISODES


def seasons_for(entry: CatalogEntry) -> tuple[SeasonPlan, ...]:
    """One season with every episode; a long run in seasons of at most `SEASON_LENGTH`."""
    total = episode_count(entry)
    if total <= LONG_RUN:
        return (SeasonPlan(1, total),)
    plans = []
    number = 1
    while total > 0:
        size = min(SEASON_LENGTH, total)
        plans.append(SeasonPlan(number, size))
        total -= size
        number += 1
    return tuple(plans)


def season_id(series_id: str, n: int) -> str:
    """Stable opaque id of season `n` of a series."""
    return _opaque(f"{series_id}|S{n}", 10)


def episode_id(series_id: str, season_n: int, ep_n: int) -> str:
    """Stable opaque id of episode `ep_n` (1-based within its season)."""
    return _opaque(f"{series_id}|S{season_n}|E{ep_n}", 12)


def is_premium_only(plan: SeasonPlan, ep_n: int) -> bool:
    """The newest quarter of a season is premium-only; episode 1 is always free."""
    if ep_n <= 1:
        return False
    premium = -(-plan.episode_count // 4)
    return ep_n > plan.episode_count - premium
