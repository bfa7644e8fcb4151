"""Search and suggestion bodies and their query strings (issue 6)."""

from __future__ import annotations

from typing import Any, ClassVar

from marshmallow import fields, validate

from kensho.http.schemas._base import CursorField, LimitField, QuerySchema, ResponseSchema, describe
from kensho.http.schemas.catalog import ANIME_KINDS, ID_PATTERN, TitlesSchema

__all__ = [
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
    score = fields.Float(
        required=True,
        validate=validate.Range(min=0, max=1),
        metadata=describe("relevance, 1 is an exact match"),
    )
    matched = fields.String(metadata=describe("the title (any language) that matched"))
    match_kind = fields.String(validate=validate.OneOf(["exact", "prefix", "fuzzy"]))

    example: ClassVar[Any] = {
        "id": "GR751KNZY",
        "title": "Attack on Titan",
        "titles": {"romaji": "Shingeki no Kyojin", "en": "Attack on Titan", "ja": "進撃の巨人"},
        "external_ids": {"mal": "16498"},
        "type": "tv",
        "genres": ["Action", "Drama"],
        "popularity": 3900000,
        "score": 0.93,
        "matched": "Shingeki no Kyojin",
        "match_kind": "fuzzy",
    }


class SearchPageSchema(ResponseSchema):
    """A page of hits; `next_cursor` is null on the last page."""

    items = fields.List(fields.Nested(SearchHitSchema), required=True)
    next_cursor = fields.String(required=True, allow_none=True)

    example: ClassVar[Any] = {"items": [SearchHitSchema.example], "next_cursor": None}


class SuggestionSchema(ResponseSchema):
    """A completion for a search box."""

    id = fields.String(required=True, validate=validate.Regexp(ID_PATTERN))
    title = fields.String(required=True, metadata=describe("the title to show and search for"))
    type = fields.String(validate=validate.OneOf(ANIME_KINDS))

    example: ClassVar[Any] = {"id": "GR751KNZY", "title": "Attack on Titan", "type": "tv"}


class SuggestionPageSchema(ResponseSchema):
    """Suggestions, best first (never paginated)."""

    items = fields.List(fields.Nested(SuggestionSchema), required=True)

    example: ClassVar[Any] = {"items": [SuggestionSchema.example]}


class SearchQuerySchema(QuerySchema):
    """`/api/search` parameters."""

    q = _query(200)
    type = fields.String(load_default=None, validate=validate.OneOf(ANIME_KINDS))
    genre = fields.String(load_default=None, validate=validate.Length(min=1, max=64))
    cursor = CursorField()
    limit = LimitField(20, 50)


class SuggestQuerySchema(QuerySchema):
    """`/api/search/suggest` parameters."""

    q = _query(100)
    limit = LimitField(8, 20)
