"""The search routes are documented in the OpenAPI document, with their parameters."""

from __future__ import annotations

from kensho.config import Config
from kensho.http.app import create_app
from kensho.http.openapi import build_document, undocumented_routes
from kensho.http.schemas.search import (
    SearchHitSchema,
    SearchPageSchema,
    SuggestionPageSchema,
    SuggestionSchema,
)
from kensho.http.search_routes import add_search_routes


def test_routes_are_documented() -> None:
    app = create_app(Config(), resources=[], api_routes=False)
    add_search_routes(app)
    assert undocumented_routes(app) == []
    doc = build_document(app)
    search = doc["paths"]["/api/search"]["get"]
    assert {p["name"] for p in search["parameters"]} >= {"q", "type", "genre", "limit", "cursor"}
    assert {"200", "400", "406", "410", "503"} <= set(search["responses"])
    suggest = doc["paths"]["/api/search/suggest"]["get"]
    assert {"200", "400", "406", "503"} <= set(suggest["responses"])
    for operation in (search, suggest):
        assert "Accept-Encoding" in operation["description"]
    analytics = doc["paths"]["/admin/search/analytics"]["get"]
    assert {p["name"] for p in analytics["parameters"]} >= {"window", "limit"}
    assert "401" in analytics["responses"]


def test_examples_match_their_schemas() -> None:
    for schema in (SearchHitSchema, SearchPageSchema, SuggestionSchema, SuggestionPageSchema):
        assert schema().validate(schema.example) == {}
