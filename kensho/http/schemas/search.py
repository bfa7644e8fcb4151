"""Search and suggestion bodies and their query strings (issue 6)."""

from __future__ import annotations

from typing import Any, ClassVar

from marshmallow import fields, pre_load, validate

from kensho.http.schemas._base import CursorField, LimitField, QuerySchema, ResponseSchema, describe
from kensho.http.schemas.catalog import ANIME_KINDS, ID_PATTERN, TitlesSchema

__all__ = [
    "SearchAnalyticsQuerySchema",
    "SearchHitSchema",
    "SearchPageSchema",
    "SearchQuerySchema",
    "SuggestQuerySchema",
    "SuggestionPageSchema",
    "SuggestionSchema",
]


def _query(max_len: int) -> fields.String:
    return fields.String(
        required=True,
        validate=validate.Length(min=1, max=max_len),
        metadata=describe(f"search text, 1 to {max_len} characters; control characters are a 400"),
    )


class SearchHitSchema(ResponseSchema):
    """One anime that matched, best first."""

    id = fields.String(required=True, validate=validate.Regexp(ID_PATTERN))
    title = fields.String(required=True)
    titles = fields.Nested(TitlesSchema)
    external_ids = fields.Dict(keys=fields.String(), values=fields.String())
    type = fields.String(validate=validate.OneOf(ANIME_KINDS))
    genres = fields.List(fields.String())
    popularity = fields.Integer(validate=validate.Range(min=0))
    rating = fields.Float(allow_none=True)
    score = fields.Float(
        required=True,
        validate=validate.Range(min=0, max=1),
        metadata=describe(
            "relevance in 0..1: exact matches score above 0.75, prefix matches 0.5 to 0.75, "
            "fuzzy ones below 0.5; popularity breaks near-ties"
        ),
    )
    matched = fields.String(metadata=describe("the title (any language) that matched"))
    matched_lang = fields.String(metadata=describe("language of `matched`: romaji, en, ja, …"))
    match_kind = fields.String(validate=validate.OneOf(["exact", "prefix", "fuzzy"]))

    example: ClassVar[Any] = {
        "id": "GR751KNZY",
        "title": "Attack on Titan",
        "titles": {"romaji": "Shingeki no Kyojin", "en": "Attack on Titan", "ja": "進撃の巨人"},
        "external_ids": {"mal": "16498"},
        "type": "tv",
        "genres": ["Action", "Drama"],
        "popularity": 3900000,
        "rating": 8.54,
        "score": 0.9975,
        "matched": "Shingeki no Kyojin",
        "matched_lang": "romaji",
        "match_kind": "exact",
    }


class SearchPageSchema(ResponseSchema):
    """A page of hits; `next_cursor` is null on the last page."""

    items = fields.List(fields.Nested(SearchHitSchema), required=True)
    next_cursor = fields.String(
        required=True,
        allow_none=True,
        metadata=describe(
            "pass as `cursor` for the next page; survives a rebuild of the same catalog, a "
            "changed catalog answers 410"
        ),
    )

    example: ClassVar[Any] = {"items": [SearchHitSchema.example], "next_cursor": None}


class SuggestionSchema(ResponseSchema):
    """A completion for a search box."""

    id = fields.String(required=True, validate=validate.Regexp(ID_PATTERN))
    title = fields.String(required=True, metadata=describe("the title to show and search for"))
    type = fields.String(validate=validate.OneOf(ANIME_KINDS))

    lang = fields.String(metadata=describe("language of `title`: romaji, en, ja, zh-Hans, …"))

    example: ClassVar[Any] = {
        "id": "GR751KNZY",
        "title": "Attack on Titan",
        "type": "tv",
        "lang": "en",
    }


class SuggestionPageSchema(ResponseSchema):
    """Suggestions, best first (never paginated)."""

    items = fields.List(fields.Nested(SuggestionSchema), required=True)

    example: ClassVar[Any] = {"items": [SuggestionSchema.example]}


class SearchQuerySchema(QuerySchema):
    """`/api/search` parameters."""

    q = _query(200)
    type = fields.String(
        load_default=None,
        validate=validate.OneOf(ANIME_KINDS),
        metadata=describe("only this kind (case-insensitive)"),
    )
    genre = fields.String(
        load_default=None,
        validate=validate.Length(min=1, max=40),
        metadata=describe('only this genre, by name or slug ("Slice of Life", "slice-of-life")'),
    )
    cursor = CursorField()
    limit = LimitField(20, 50)

    @pre_load
    def _fold_type(self, data: Any, **_: Any) -> Any:
        """`type` is case-insensitive ("MOVIE" = "movie"), as documented."""
        kind = data.get("type") if hasattr(data, "get") else None
        if isinstance(kind, str):
            data = {**data, "type": kind.lower()}
        return data


class SuggestQuerySchema(QuerySchema):
    """`/api/search/suggest` parameters."""

    q = _query(200)
    limit = LimitField(10, 20)


class SearchAnalyticsQuerySchema(QuerySchema):
    """`/admin/search/analytics` parameters."""

    window = fields.String(
        load_default="24h",
        validate=validate.Regexp(r"^[1-9][0-9]{0,3}[smhd]$"),
        metadata=describe("how far back: a number and s, m, h or d (at most 90d)", example="24h"),
    )
    limit = LimitField(20, 50)
