"""Catalog representations: anime, seasons, episodes and their list pages (issue 5).

These describe what kensho.http.catalog_routes and export_routes serve (documents built in
kensho.store.catalog_queries); keep the two in step.
"""

from __future__ import annotations

from typing import Any, ClassVar

from marshmallow import fields, validate

from kensho.http.schemas._base import (
    CursorField,
    LimitField,
    QuerySchema,
    ResponseSchema,
    describe,
)

__all__ = [
    "ANIME_KINDS",
    "SORT_KEYS",
    "AnimeIdPathSchema",
    "AnimeListQuerySchema",
    "AnimeListSchema",
    "AnimeQuerySchema",
    "AnimeSchema",
    "EpisodeIdPathSchema",
    "EpisodeListQuerySchema",
    "EpisodeListSchema",
    "EpisodeSchema",
    "ExportLineSchema",
    "ExportQuerySchema",
    "ImagesSchema",
    "SeasonSchema",
    "TitlesSchema",
]

ANIME_KINDS = ("tv", "movie", "ova", "ona", "special", "music", "web")
SORT_KEYS = ("popularity", "rating", "title")
#: Catalog ids (Crunchyroll series, season and episode ids), as the catalog sync accepts them.
ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
_DATE_PATTERN = r"^\d{4}(-\d{2}(-\d{2})?)?$"


def _id(text: str, **kw: Any) -> fields.String:
    return fields.String(validate=validate.Regexp(ID_PATTERN), metadata=describe(text), **kw)


def _date(text: str) -> fields.String:
    return fields.String(
        allow_none=True,
        validate=validate.Regexp(_DATE_PATTERN),
        metadata=describe(text + " (ISO 8601: YYYY, YYYY-MM or YYYY-MM-DD)"),
    )


class TitlesSchema(ResponseSchema):
    """The title in each language; every key is always present, null when the sources have none."""

    romaji = fields.String(allow_none=True, metadata=describe("Japanese title in Latin script"))
    en = fields.String(allow_none=True, metadata=describe("English title"))
    ja = fields.String(allow_none=True, metadata=describe("Japanese title (kana/kanji)"))
    zh_hans = fields.String(
        data_key="zh-Hans", allow_none=True, metadata=describe("Simplified Chinese title")
    )
    zh_hant = fields.String(
        data_key="zh-Hant", allow_none=True, metadata=describe("Traditional Chinese title")
    )


class ImagesSchema(ResponseSchema):
    """Artwork URLs; any may be null when the catalog has none."""

    poster = fields.String(allow_none=True, metadata=describe("portrait key art URL"))
    thumbnail = fields.String(allow_none=True, metadata=describe("small landscape image URL"))
    banner = fields.String(allow_none=True, metadata=describe("wide banner URL"))


class SeasonSchema(ResponseSchema):
    """A season of an anime."""

    id = _id("season id", required=True)
    number = fields.Integer(required=True, validate=validate.Range(min=1))
    title = fields.String(allow_none=True)
    episode_count = fields.Integer(required=True, validate=validate.Range(min=0))

    example: ClassVar[Any] = {
        "id": "GY8VEQ95YS01",
        "number": 1,
        "title": "Season 1",
        "episode_count": 24,
    }


class AnimeSchema(ResponseSchema):
    """An anime. With `?fields=` only the selected top-level fields are present."""

    id = _id("Crunchyroll series id (or a stable derived id)")
    title = fields.String(metadata=describe("display title"))
    titles = fields.Nested(TitlesSchema)
    type = fields.String(validate=validate.OneOf(ANIME_KINDS))
    genres = fields.List(fields.String())
    episodes = fields.Integer(
        allow_none=True, validate=validate.Range(min=0), metadata=describe("episode count")
    )
    rating = fields.Float(
        allow_none=True, validate=validate.Range(min=0, max=10), metadata=describe("0 to 10")
    )
    popularity = fields.Integer(
        validate=validate.Range(min=0), metadata=describe("members who list it; higher is more")
    )
    start_date = _date("first air date")
    end_date = _date("last air date; null while airing")
    images = fields.Nested(ImagesSchema)
    seasons = fields.List(fields.Nested(SeasonSchema))
    external_ids = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        metadata=describe("ids elsewhere: mal, anilist, anidb, bangumi, tmdb, crunchyroll"),
    )
    official_site = fields.String(allow_none=True)

    example: ClassVar[Any] = {
        "id": "GY8VEQ95Y",
        "title": "Steins;Gate",
        "titles": {
            "romaji": "Steins;Gate",
            "en": "Steins;Gate",
            "ja": "シュタインズ・ゲート",
            "zh-Hans": "命运石之门",
            "zh-Hant": "命運石之門",
        },
        "type": "tv",
        "genres": ["Drama", "Sci-Fi", "Suspense"],
        "episodes": 24,
        "rating": 9.07,
        "popularity": 2614201,
        "start_date": "2011-04-06",
        "end_date": "2011-09-14",
        "images": {
            "poster": "https://img.example/steins-gate/480x720.jpg",
            "thumbnail": "https://img.example/steins-gate/320x180.jpg",
            "banner": "https://img.example/steins-gate/1920x1080.jpg",
        },
        "seasons": [SeasonSchema.example],
        "external_ids": {"mal": "9253", "anilist": "9253", "crunchyroll": "GY8VEQ95Y"},
        "official_site": "http://steinsgate.jp/",
    }


class EpisodeSchema(ResponseSchema):
    """An episode."""

    id = _id("episode id", required=True)
    anime_id = _id("series id", required=True)
    season_id = _id("season id", required=True)
    season_number = fields.Integer(required=True, validate=validate.Range(min=1))
    number = fields.Integer(
        required=True,
        allow_none=True,
        validate=validate.Range(min=0),
        metadata=describe("episode number; null for specials"),
    )
    title = fields.String(allow_none=True)
    duration_seconds = fields.Integer(allow_none=True, validate=validate.Range(min=0))
    air_date = _date("air date")
    premium = fields.Boolean(metadata=describe("needs a premium account to stream"))

    example: ClassVar[Any] = {
        "id": "GY8VEQ95YS01E001",
        "anime_id": "GY8VEQ95Y",
        "season_id": "GY8VEQ95YS01",
        "season_number": 1,
        "number": 1,
        "title": "Turning Point",
        "duration_seconds": 1440,
        "air_date": "2011-04-06",
        "premium": False,
    }


class AnimeListSchema(ResponseSchema):
    """A page of anime; follow `next_cursor` until it is null."""

    items = fields.List(fields.Nested(AnimeSchema), required=True)
    next_cursor = fields.String(required=True, allow_none=True)

    example: ClassVar[Any] = {"items": [AnimeSchema.example], "next_cursor": "eyJvIjoyMH0.c2ln"}


class EpisodeListSchema(ResponseSchema):
    """A page of episodes in air order."""

    items = fields.List(fields.Nested(EpisodeSchema), required=True)
    next_cursor = fields.String(required=True, allow_none=True)

    example: ClassVar[Any] = {"items": [EpisodeSchema.example], "next_cursor": None}


class AnimeIdPathSchema(QuerySchema):
    """`{id}` in `/api/anime/{id}`."""

    id = _id("series id", required=True)


class EpisodeIdPathSchema(QuerySchema):
    """`{id}` in `/api/episodes/{id}/...`."""

    id = _id("episode id", required=True)


class AnimeQuerySchema(QuerySchema):
    """`?fields=` on a single anime (loaded as `select`: `fields` is taken on a Schema)."""

    select = fields.String(
        data_key="fields",
        load_default=None,
        validate=validate.Length(min=1, max=300),
        metadata=describe("comma-separated top-level fields to return; unknown ones are a 400"),
    )


class AnimeListQuerySchema(AnimeQuerySchema):
    """Browse filters, order and paging."""

    genre = fields.String(load_default=None, validate=validate.Length(min=1, max=64))
    type = fields.String(load_default=None, validate=validate.OneOf(ANIME_KINDS))
    sort = fields.String(load_default="popularity", validate=validate.OneOf(SORT_KEYS))
    cursor = CursorField()
    limit = LimitField(20, 100)


class EpisodeListQuerySchema(QuerySchema):
    """Episode list paging, optionally one season."""

    season = fields.Integer(load_default=None, validate=validate.Range(min=1, max=1000))
    cursor = CursorField()
    limit = LimitField(50, 100)


class ExportQuerySchema(QuerySchema):
    """Which part of the catalog `GET /api/anime/export` streams, and where it resumes."""

    genre = fields.String(load_default=None, validate=validate.Length(min=1, max=64))
    type = fields.String(load_default=None, validate=validate.OneOf(ANIME_KINDS))
    updated_since = fields.String(
        load_default=None,
        validate=validate.Length(min=10, max=40),
        metadata=describe("only anime changed at or after this ISO 8601 date or date-time"),
    )
    cursor = CursorField()


class ExportLineSchema(ResponseSchema):
    """One NDJSON line of an export: an anime and the cursor that resumes after it."""

    cursor = fields.String(
        required=True,
        metadata=describe("pass as `cursor` (with the same filters) to resume after this line"),
    )
    anime = fields.Nested(AnimeSchema, required=True)

    example: ClassVar[Any] = {
        "cursor": "IkdZOFZFUTk1WSI.c2lnbmF0dXJl",
        "anime": AnimeSchema.example,
    }
