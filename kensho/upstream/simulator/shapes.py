"""JSON bodies in the reference's shapes: flat CMS objects and discover/objects panels.

Every catalog entry is served as a ``series`` (a movie is a one-season, one-episode series); the
catalog's genres become ``tenant_categories`` and its other-language titles ``keywords``.

Over 400 lines on purpose: one table of the reference's response shapes, kept together so a
shape is checked against the reference in one place (issue 16 reworks the simulator).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Generic, TypeVar

from kensho.catalog.bundle import CatalogEntry
from kensho.catalog.derive import is_premium_only
from kensho.upstream.simulator.images import SIZES
from kensho.upstream.simulator.index import (
    EpisodeRef,
    SeasonRef,
    SimIndex,
    season_tag,
    slugify,
)

__all__ = [
    "SEASON_CACHE",
    "SERIES_CACHE",
    "BoundedCache",
    "duration_ms",
    "episode_flat",
    "episode_rating",
    "episodes_flat",
    "panel",
    "rating_block",
    "season_flat",
    "series_flat",
]

CHANNEL = "crunchyroll"
SUBTITLE_LOCALES = ("en-US", "de-DE", "es-419", "fr-FR", "pt-BR")
_DURATION_MS = {"movie": 6_000_000, "music": 240_000, "special": 720_000}
_DEFAULT_DURATION_MS = 1_420_000
_EPOCH = date(2000, 1, 1)


def duration_ms(entry: CatalogEntry) -> int:
    """Length of one episode of `entry` (movies 100 min, TV 23:40)."""
    return _DURATION_MS.get(entry.kind, _DEFAULT_DURATION_MS)


def _images(base: str, kind: str, ident: str) -> list[Any]:
    """One variant of `kind` at every advertised size (a list of lists, as the API nests it)."""
    return [
        [
            {
                "source": f"{base}/imgsrv/{kind}/{ident}/{w}x{h}.jpg",
                "type": kind,
                "width": w,
                "height": h,
            }
            for w, h in SIZES[kind]
        ]
    ]


def series_images(base: str, series_id: str) -> dict[str, Any]:
    """Posters of a series (or of a season: the same kinds, drawn with its caption)."""
    return {
        "poster_tall": _images(base, "poster_tall", series_id),
        "poster_wide": _images(base, "poster_wide", series_id),
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
    return {**stars, "total": total, "average": f"{average:.1f}", "rating": ""}


def episode_rating(entry: CatalogEntry, number: int) -> dict[str, Any]:
    """An episode's ``rating`` (``ratings=true``): up and down votes, as yt-dlp and
    crunchyroll-rs ``EpisodeRating`` read them (``displayed`` + ``unit``, e.g. "1.7" + "K")."""
    total = max(1, entry.members // 50 // number)
    up = total * (int((entry.rating or 7.0) * 10) - 10) // 90

    def votes(n: int) -> dict[str, str]:
        return (
            {"displayed": f"{n / 1000:.1f}", "unit": "K"}
            if n >= 1000
            else {
                "displayed": str(n),
                "unit": "",
            }
        )

    return {"up": votes(up), "down": votes(total - up), "total": total, "rating": ""}


K = TypeVar("K")
V = TypeVar("V")


class BoundedCache(Generic[K, V]):
    """A dict of at most `limit` items, emptied when full.

    Clearing (not LRU) keeps it to single atomic dict operations, so the apps of several event
    loops (threads) can share it; a catalog scan misses an LRU of this size anyway.
    """

    __slots__ = ("_items", "limit")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._items: dict[K, V] = {}

    def get(self, key: K) -> V | None:
        return self._items.get(key)

    def put(self, key: K, value: V) -> V:
        if len(self._items) >= self.limit:
            self._items.clear()
        self._items[key] = value
        return value

    def __len__(self) -> int:
        return len(self._items)


@dataclass(frozen=True, slots=True)
class _SeriesParts:
    """What every object of a series repeats, derived once (slugify was ~3% of a sync).

    The lists are shared by every body built from them: bodies are read-only (serialised).
    """

    entry: CatalogEntry
    slug: str
    description: str
    year: int | None
    maturity: list[str]
    is_mature: bool
    keywords: list[str]
    genres: list[str]
    season_tags: list[str]
    duration_ms: int
    first_air: int  # proleptic ordinal of the first air date


@dataclass(frozen=True, slots=True)
class _SeasonParts:
    """The season's own flat object (served as is) and what each of its episodes repeats."""

    season: SeasonRef
    series: _SeriesParts
    flat: dict[str, Any]
    episode: dict[str, Any]  # an episode body with the per-episode values left None
    movie: bool  # the episode is titled after the series (movies, music)
    description: str  # "<season title>, episode "
    identifier: str  # "<series id>|S<n>|E"
    first_episode_day: int  # ordinal of episode 1's air date
    base: str  # the link base the cached bodies were built with


#: ~16k series and ~18k seasons in the full catalog: a sync asks for a series' seasons, then their
#: episodes, close together, so a thousand or two suffice and bound the memory (a few MB)
SERIES_CACHE: BoundedCache[str, _SeriesParts] = BoundedCache(2048)
SEASON_CACHE: BoundedCache[str, _SeasonParts] = BoundedCache(1024)
_SUBTITLES = list(SUBTITLE_LOCALES)
_AUDIO = ["ja-JP"]
#: crunchyroll-rs ``LanguagePresentation`` needs both keys whenever the object is present
_LANGUAGE_PRESENTATION = {"audio_notation": "", "text_notation": ""}


def _series_parts(entry: CatalogEntry) -> _SeriesParts:
    parts = SERIES_CACHE.get(entry.series_id)
    if parts is not None and parts.entry is entry:
        return parts
    maturity = _maturity(entry)
    start = date.fromisoformat(entry.begin) if entry.begin else _EPOCH
    return SERIES_CACHE.put(
        entry.series_id,
        _SeriesParts(
            entry=entry,
            slug=slugify(entry.title),
            description=_description(entry),
            year=_year(entry),
            maturity=maturity,
            is_mature=maturity == ["TV-MA"],
            keywords=[t.text for t in entry.titles if t.text != entry.title],
            genres=list(entry.genres),
            season_tags=[t] if (t := season_tag(entry)) else [],
            duration_ms=duration_ms(entry),
            first_air=start.toordinal(),
        ),
    )


def _season_parts(season: SeasonRef, base: str) -> _SeasonParts:
    parts = SEASON_CACHE.get(season.id)
    if parts is not None and parts.season is season and parts.base == base:
        return parts
    series = _series_parts(season.entry)
    entry, plan = season.entry, season.plan
    title = entry.title if plan.number == 1 else f"{entry.title} Season {plan.number}"
    flat = {
        "id": season.id,
        "series_id": entry.series_id,
        "channel_id": CHANNEL,
        "title": title,
        "slug_title": slugify(title),
        "description": series.description,
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
        "audio_locales": _AUDIO,
        "subtitle_locales": _SUBTITLES,
        "maturity_ratings": series.maturity,
        "is_mature": series.is_mature,
        "mature_blocked": False,
        "extended_maturity_rating": {},
        "keywords": [],
        "season_tags": [],
        "availability_notes": "",
        "images": series_images(base, season.id),
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
    return SEASON_CACHE.put(
        season.id,
        _SeasonParts(
            season=season,
            series=series,
            flat=flat,
            episode=_episode_template(season, series, flat),
            movie=entry.kind in ("movie", "music"),
            description=f"{title}, episode ",
            identifier=f"{entry.series_id}|S{plan.number}|E",
            first_episode_day=series.first_air + 7 * season.first_episode,
            base=base,
        ),
    )


def series_flat(index: SimIndex, entry: CatalogEntry, base: str) -> dict[str, Any]:
    parts = _series_parts(entry)
    seasons = index.seasons_of[entry.series_id]
    episodes = sum(s.plan.episode_count for s in seasons)
    return {
        "id": entry.series_id,
        "channel_id": CHANNEL,
        "slug": parts.slug,
        "slug_title": parts.slug,
        "title": entry.title,
        "description": parts.description,
        "extended_description": "",
        "series_launch_year": parts.year,
        "episode_count": episodes,
        "season_count": len(seasons),
        "media_count": episodes,
        "is_subbed": True,
        "is_dubbed": False,
        "is_simulcast": False,
        "audio_locales": _AUDIO,
        "subtitle_locales": _SUBTITLES,
        "images": series_images(base, entry.series_id),
        "maturity_ratings": parts.maturity,
        "is_mature": parts.is_mature,
        "mature_blocked": False,
        "extended_maturity_rating": {},
        "content_descriptors": [],
        "keywords": parts.keywords,
        "season_tags": parts.season_tags,
        "tenant_categories": parts.genres,
        "availability_notes": "",
        "availability_status": "available",
        "content_provider": "Kensho Simulator",
        "awards": [],
        "livestream": None,
        "language_presentation": _LANGUAGE_PRESENTATION,
    }


def season_flat(season: SeasonRef, base: str) -> dict[str, Any]:
    """The season's flat object (a shallow copy of the cached one)."""
    return dict(_season_parts(season, base).flat)


_NO_ADS: list[Any] = []
_PREROLL = [{"offset_ms": 0, "type": "preroll"}]


def _episode_template(
    season: SeasonRef, series: _SeriesParts, flat: dict[str, Any]
) -> dict[str, Any]:
    """An episode body of `season` in key order; ``None`` marks what `_episode` fills in."""
    entry, number = season.entry, season.plan.number
    return {
        "id": None,
        "channel_id": CHANNEL,
        "slug": None,
        "slug_title": None,
        "title": None,
        "description": None,
        "identifier": None,
        "series_id": entry.series_id,
        "series_title": entry.title,
        "series_slug_title": series.slug,
        "season_id": season.id,
        "season_title": flat["title"],
        "season_slug_title": flat["slug_title"],
        "season_number": number,
        "season_display_number": flat["season_display_number"],
        "season_sequence_number": number,
        "episode": None,
        "episode_number": None,
        "sequence_number": None,
        "duration_ms": series.duration_ms,
        "episode_air_date": None,
        "upload_date": None,
        "free_available_date": None,
        "premium_available_date": None,
        "available_date": None,
        "premium_date": None,
        "availability_starts": None,
        "availability_ends": "9998-11-30T23:59:59Z",
        "audio_locale": "ja-JP",
        "subtitle_locales": _SUBTITLES,
        "images": None,
        "eligible_region": "US",
        "is_premium_only": None,
        "is_clip": False,
        "is_dubbed": False,
        "is_subbed": True,
        "is_mature": series.is_mature,
        "mature_blocked": False,
        "maturity_ratings": series.maturity,
        "extended_maturity_rating": {},
        "available_offline": None,
        "closed_captions_available": False,
        "availability_notes": "",
        "availability_status": "available",
        "versions": None,
        "ad_breaks": None,
        "streams_link": None,
        "hd_flag": True,
        "tenant_categories": series.genres,
    }


def _episode(parts: _SeasonParts, n: int, eid: str, nxt: str | None, base: str) -> dict[str, Any]:
    """Copy the season's template (C-speed, keeps the key order) and set what varies."""
    season = parts.season
    premium = is_premium_only(season.plan, n)
    aired = f"{date.fromordinal(parts.first_episode_day + 7 * (n - 1)).isoformat()}T15:00:00Z"
    body = parts.episode.copy()
    body["id"] = eid
    if parts.movie:
        body["slug"] = body["slug_title"] = parts.series.slug
        body["title"] = season.entry.title
    else:  # slugify(f"Episode {n}")
        body["slug"] = body["slug_title"] = f"episode-{n}"
        body["title"] = f"Episode {n}"
    body["description"] = f"{parts.description}{n}."
    body["identifier"] = f"{parts.identifier}{n}"
    body["episode"] = str(n)
    body["episode_number"] = n
    body["sequence_number"] = float(n)
    body["episode_air_date"] = body["upload_date"] = body["free_available_date"] = aired
    body["premium_available_date"] = body["availability_starts"] = aired
    body["available_date"] = body["premium_date"] = aired
    body["images"] = {"thumbnail": _images(base, "thumbnail", eid)}
    body["is_premium_only"] = body["available_offline"] = premium
    body["versions"] = [
        {
            "guid": eid,
            "media_guid": "M" + eid[1:],
            "season_guid": season.id,
            "audio_locale": "ja-JP",
            "is_premium_only": premium,
            "original": True,
            "variant": "",
            "roles": [],
        }
    ]
    body["ad_breaks"] = _NO_ADS if premium else _PREROLL
    body["streams_link"] = f"/content/v2/cms/videos/{eid}/streams"
    if nxt is not None:
        body["next_episode_id"] = nxt
        body["next_episode_title"] = f"Episode {n + 1}"
    return body


def episode_flat(index: SimIndex, episode: EpisodeRef, base: str) -> dict[str, Any]:
    season, n = episode.season, episode.number
    nxt = index.episode_ids[season.id][n] if n < season.plan.episode_count else None
    return _episode(_season_parts(season, base), n, episode.id, nxt, base)


def episodes_flat(index: SimIndex, season: SeasonRef, base: str) -> list[dict[str, Any]]:
    """Every episode of `season` in order (the season's parts are looked up once)."""
    parts = _season_parts(season, base)
    ids = index.episode_ids[season.id]
    nexts: tuple[str | None, ...] = (*ids[1:], None)
    pairs = zip(ids, nexts, strict=True)
    return [_episode(parts, n, eid, nxt, base) for n, (eid, nxt) in enumerate(pairs, start=1)]


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
        f"{kind}_metadata": meta,
    }
    if "streams_link" in flat:  # episodes and movies only (crunchyroll-rs' strict Series denies it)
        body["streams_link"] = flat["streams_link"]
    if ratings is not None:
        body["rating"] = ratings
    return body
