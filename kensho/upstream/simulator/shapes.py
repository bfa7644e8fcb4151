"""JSON bodies in the reference's shapes: flat CMS objects and discover/objects panels.

Every catalog entry is served as a ``series`` (a movie is a one-season, one-episode series); the
catalog's genres become ``tenant_categories`` and its other-language titles ``keywords``.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from kensho.catalog.bundle import CatalogEntry
from kensho.catalog.derive import is_premium_only
from kensho.upstream.simulator.index import EpisodeRef, SeasonRef, SimIndex, slugify

__all__ = ["duration_ms", "episode_flat", "panel", "rating_block", "season_flat", "series_flat"]

CHANNEL = "crunchyroll"
SUBTITLE_LOCALES = ("en-US", "de-DE", "es-419", "fr-FR", "pt-BR")
_DURATION_MS = {"movie": 6_000_000, "music": 240_000, "special": 720_000}
_DEFAULT_DURATION_MS = 1_420_000
_EPOCH = date(2000, 1, 1)


def duration_ms(entry: CatalogEntry) -> int:
    """Length of one episode of `entry` (movies 100 min, TV 23:40)."""
    return _DURATION_MS.get(entry.kind, _DEFAULT_DURATION_MS)


def _images(base: str, kind: str, ident: str, sizes: tuple[tuple[int, int], ...]) -> list[Any]:
    return [
        [
            {
                "source": f"{base}/imgsrv/{kind}/{ident}/{w}x{h}.jpg",
                "type": kind,
                "width": w,
                "height": h,
            }
            for w, h in sizes
        ]
    ]


def series_images(base: str, series_id: str) -> dict[str, Any]:
    return {
        "poster_tall": _images(base, "poster_tall", series_id, ((60, 90), (240, 360), (480, 720))),
        "poster_wide": _images(base, "poster_wide", series_id, ((320, 180), (1200, 675))),
    }


def _maturity(entry: CatalogEntry) -> list[str]:
    return ["TV-MA"] if "Hentai" in entry.genres or "Ecchi" in entry.genres else ["TV-14"]


def _year(entry: CatalogEntry) -> int | None:
    return int(entry.begin[:4]) if entry.begin else None


def _description(entry: CatalogEntry) -> str:
    kind = {"tv": "TV series", "ova": "OVA", "ona": "ONA", "web": "web series"}.get(
        entry.kind, entry.kind
    )
    genres = ", ".join(entry.genres) or "anime"
    return f"{entry.title}: {genres} {kind}."


def rating_block(entry: CatalogEntry) -> dict[str, Any]:
    """The ``rating`` object of panels (``ratings=true``); average on a 5-star scale."""
    average = (entry.rating or 0.0) / 2
    total = entry.members
    stars = {
        f"{n}s": {"displayed": str(total // 5), "unit": "", "percentage": 20} for n in range(1, 6)
    }
    return {**stars, "total": total, "average": f"{average:.1f}", "rating": None}


def series_flat(index: SimIndex, entry: CatalogEntry, base: str) -> dict[str, Any]:
    seasons = index.seasons_of[entry.series_id]
    episodes = sum(s.plan.episode_count for s in seasons)
    maturity = _maturity(entry)
    return {
        "id": entry.series_id,
        "channel_id": CHANNEL,
        "slug": slugify(entry.title),
        "slug_title": slugify(entry.title),
        "title": entry.title,
        "description": _description(entry),
        "extended_description": "",
        "series_launch_year": _year(entry),
        "episode_count": episodes,
        "season_count": len(seasons),
        "media_count": episodes,
        "is_subbed": True,
        "is_dubbed": False,
        "is_simulcast": False,
        "audio_locales": ["ja-JP"],
        "subtitle_locales": list(SUBTITLE_LOCALES),
        "images": series_images(base, entry.series_id),
        "maturity_ratings": maturity,
        "is_mature": maturity == ["TV-MA"],
        "mature_blocked": False,
        "extended_maturity_rating": {},
        "content_descriptors": [],
        "keywords": [t.text for t in entry.titles if t.text != entry.title],
        "season_tags": [],
        "tenant_categories": list(entry.genres),
        "availability_notes": "",
        "availability_status": "available",
        "content_provider": "Kensho Simulator",
        "awards": [],
        "livestream": None,
        "language_presentation": {},
    }


def season_flat(season: SeasonRef) -> dict[str, Any]:
    entry, plan = season.entry, season.plan
    title = entry.title if plan.number == 1 else f"{entry.title} Season {plan.number}"
    maturity = _maturity(entry)
    return {
        "id": season.id,
        "series_id": entry.series_id,
        "channel_id": CHANNEL,
        "title": title,
        "slug_title": slugify(title),
        "description": _description(entry),
        "identifier": f"{entry.series_id}|S{plan.number}",
        "season_number": plan.number,
        "season_sequence_number": plan.number,
        "season_display_number": str(plan.number),
        "number_of_episodes": plan.episode_count,
        "is_complete": True,
        "is_subbed": True,
        "is_dubbed": False,
        "is_simulcast": False,
        "audio_locale": "ja-JP",
        "audio_locales": ["ja-JP"],
        "subtitle_locales": list(SUBTITLE_LOCALES),
        "maturity_ratings": maturity,
        "is_mature": maturity == ["TV-MA"],
        "mature_blocked": False,
        "extended_maturity_rating": {},
        "keywords": [],
        "season_tags": [],
        "availability_notes": "",
        "versions": [
            {
                "guid": season.id,
                "audio_locale": "ja-JP",
                "original": True,
                "variant": "",
                "restriction_windows": [],
            }
        ],
    }


def _air_date(episode: EpisodeRef) -> str:
    """Weekly from the series' first air date (2000-01-01 when unknown)."""
    entry = episode.season.entry
    start = date.fromisoformat(entry.begin) if entry.begin else _EPOCH
    aired = start + timedelta(days=7 * (episode.season.first_episode + episode.number - 1))
    return f"{aired.isoformat()}T15:00:00Z"


def episode_flat(index: SimIndex, episode: EpisodeRef, base: str) -> dict[str, Any]:
    season, entry, n = episode.season, episode.season.entry, episode.number
    season_title = season_flat(season)["title"]
    premium = is_premium_only(season.plan, n)
    title = entry.title if entry.kind in ("movie", "music") else f"Episode {n}"
    aired = _air_date(episode)
    maturity = _maturity(entry)
    body: dict[str, Any] = {
        "id": episode.id,
        "channel_id": CHANNEL,
        "slug": slugify(title),
        "slug_title": slugify(title),
        "title": title,
        "description": f"{season_title}, episode {n}.",
        "identifier": f"{entry.series_id}|S{season.plan.number}|E{n}",
        "series_id": entry.series_id,
        "series_title": entry.title,
        "series_slug_title": slugify(entry.title),
        "season_id": season.id,
        "season_title": season_title,
        "season_slug_title": slugify(season_title),
        "season_number": season.plan.number,
        "season_display_number": str(season.plan.number),
        "season_sequence_number": season.plan.number,
        "episode": str(n),
        "episode_number": n,
        "sequence_number": float(n),
        "duration_ms": duration_ms(entry),
        "episode_air_date": aired,
        "upload_date": aired,
        "free_available_date": aired,
        "premium_available_date": aired,
        "availability_starts": aired,
        "availability_ends": "9998-11-30T23:59:59Z",
        "audio_locale": "ja-JP",
        "subtitle_locales": list(SUBTITLE_LOCALES),
        "images": {"thumbnail": _images(base, "thumbnail", episode.id, ((320, 180), (1920, 1080)))},
        "eligible_region": "US",
        "is_premium_only": premium,
        "is_clip": False,
        "is_dubbed": False,
        "is_subbed": True,
        "is_mature": maturity == ["TV-MA"],
        "mature_blocked": False,
        "maturity_ratings": maturity,
        "available_offline": premium,
        "closed_captions_available": False,
        "availability_notes": "",
        "availability_status": "available",
        "versions": [
            {
                "guid": episode.id,
                "media_guid": "M" + episode.id[1:],
                "season_guid": season.id,
                "audio_locale": "ja-JP",
                "is_premium_only": premium,
                "original": True,
                "variant": "",
                "roles": [],
            }
        ],
        "ad_breaks": [] if premium else [{"offset_ms": 0, "type": "preroll"}],
        "streams_link": f"/content/v2/cms/videos/{episode.id}/streams",
        "hd_flag": True,
        "tenant_categories": list(entry.genres),
    }
    if n < season.plan.episode_count:
        nxt = index.episode_ids[season.id][n]
        body["next_episode_id"] = nxt
        body["next_episode_title"] = f"Episode {n + 1}"
    return body


_TOP = ("id", "title", "slug_title", "description", "images", "channel_id")


def panel(
    flat: dict[str, Any],
    kind: str,
    *,
    slug: str,
    ratings: dict[str, Any] | None,
    score: float | None = None,
) -> dict[str, Any]:
    """Turn a flat object into a panel: shared top level + ``<kind>_metadata``."""
    meta = {k: v for k, v in flat.items() if k not in _TOP and k not in ("slug", "streams_link")}
    body: dict[str, Any] = {
        "id": flat["id"],
        "type": kind,
        "title": flat["title"],
        "slug_title": flat["slug_title"],
        "description": flat["description"],
        "images": flat.get("images", {}),
        "promo_title": "",
        "promo_description": "",
        "slug": slug,
        "channel_id": CHANNEL,
        "linked_resource_key": f"cms:/{kind}s/{flat['id']}",
        "external_id": f"{kind[:3].upper()}:{flat['id']}",
        "new": False,
        "search_metadata": {"score": score if score is not None else 0.0},
        "streams_link": flat.get("streams_link", ""),
        f"{kind}_metadata": meta,
    }
    if ratings is not None:
        body["rating"] = ratings
    return body
