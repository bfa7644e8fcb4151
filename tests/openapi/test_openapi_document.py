"""The document is valid OpenAPI 3, covers every route, and its examples match its schemas."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import validate

from kensho import __version__
from kensho.http.openapi import DOCS_PATH, SPEC_PATH, build_document, undocumented_routes
from kensho.http.operations import document_route, problem_responses
from kensho.http.route_info import UNMATCHED_NAME
from kensho.http.routing import Routes
from kensho.http.schemas import LoginResponseSchema

ClientFactory = Any
AppFactory = Callable[[], web.Application]


async def _served(aiohttp_client: ClientFactory, app: web.Application) -> dict[str, Any]:
    client: TestClient[web.Request, web.Application] = await aiohttp_client(app)
    resp = await client.get(SPEC_PATH)
    assert resp.status == 200
    assert resp.content_type == "application/json"
    doc: dict[str, Any] = await resp.json()
    return doc


async def test_served_document_is_valid_openapi_3(
    aiohttp_client: ClientFactory, app: web.Application
) -> None:
    doc = await _served(aiohttp_client, app)
    validate(doc)
    assert doc["openapi"].startswith("3.")
    assert doc["info"]["title"] == "Kenshō API"
    assert doc["info"]["version"] == __version__
    assert doc["servers"]


async def test_every_route_is_documented_with_its_method_and_template(
    aiohttp_client: ClientFactory, app: web.Application
) -> None:
    doc = await _served(aiohttp_client, app)
    docs_routes = {SPEC_PATH, DOCS_PATH}
    expected = set()
    for resource in app.router.resources():
        if isinstance(resource, web.StaticResource) or resource.canonical in docs_routes:
            continue
        if resource.name == UNMATCHED_NAME:
            continue  # the catch-all that answers 404/405 problems
        if resource.canonical.startswith(DOCS_PATH + "/static"):
            continue
        methods = {r.method for r in resource}
        for route in resource:
            if route.method == "HEAD" and "GET" in methods:
                continue  # HEAD is implied by GET
            expected.add((route.method.lower(), resource.canonical))
    documented = {(m, p) for p, ops in doc["paths"].items() for m in ops}
    assert ("get", "/health/live") in expected  # the foundation's routes are really there
    assert ("post", "/api/auth/login") in expected
    assert expected <= documented, sorted(expected - documented)
    assert documented <= expected, sorted(documented - expected)  # nothing invented
    assert undocumented_routes(app) == []


def test_a_route_without_docs_is_reported_and_left_out(make_app: AppFactory) -> None:
    app = make_app()

    async def secret(request: web.Request) -> web.Response:
        return web.Response()

    Routes(app).get("/api/nodocs/{x}", secret)
    assert undocumented_routes(app) == [("GET", "/api/nodocs/{x}")]
    assert "/api/nodocs/{x}" not in build_document(app)["paths"]


def test_document_route_describes_an_undecorated_handler(make_app: AppFactory) -> None:
    app = make_app()

    async def plain(request: web.Request) -> web.Response:
        return web.json_response(LoginResponseSchema.example)

    Routes(app).get("/api/plain", plain)
    document_route(app, "get", "/api/plain", "Plain", tags=["misc"], response=LoginResponseSchema)
    doc = build_document(app)
    validate(doc)
    op = doc["paths"]["/api/plain"]["get"]
    assert op["summary"] == "Plain"
    assert op["responses"]["200"]["content"]["application/json"]["example"] == (
        LoginResponseSchema.example
    )
    assert undocumented_routes(app) == []


def _operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            yield method, path, op


def _resolve(doc: dict[str, Any], obj: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in obj:
        node: Any = doc
        for part in obj["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        obj = node
    return obj


def test_operations_have_ids_examples_and_standard_errors(app: web.Application) -> None:
    doc = build_document(app)
    ids = [op["operationId"] for _, _, op in _operations(doc)]
    assert len(ids) == len(set(ids))
    for method, path, op in _operations(doc):
        where = f"{method} {path}"
        assert "produces" not in op and "consumes" not in op, where  # OpenAPI 2 leftovers
        assert {"500", "504"} <= set(op["responses"]), where
        bodies = 0
        for status, raw in op["responses"].items():
            response = _resolve(doc, raw)
            for media_type, media in response.get("content", {}).items():
                assert "example" in media, f"{where} {status} {media_type}"
                bodies += 1
            if status.startswith(("4", "5")) and not path.startswith("/health"):
                assert PROBLEM in response.get("content", {}), where
        assert bodies, where
        if op.get("security"):
            assert "401" in op["responses"], where
    login = doc["paths"]["/api/auth/login"]["post"]
    assert {"400", "401", "422", "429"} <= set(login["responses"])  # body implies 400/422
    browse = doc["paths"]["/api/anime"]["get"]
    assert "400" in browse["responses"]  # a query schema implies 400
    names = {p["name"] for p in browse["parameters"]}
    assert {"genre", "type", "sort", "cursor", "limit", "fields"} <= names


PROBLEM = "application/problem+json"


def test_every_example_conforms_to_its_schema(app: web.Application) -> None:
    doc = build_document(app)
    checked = 0
    for method, path, op in _operations(doc):
        media_list = [
            (status, m)
            for status, r in op["responses"].items()
            for m in _resolve(doc, r).get("content", {}).values()
        ]
        if "requestBody" in op:
            media_list += [("body", m) for m in op["requestBody"]["content"].values()]
        for status, media in media_list:
            schema = {**media["schema"], "components": doc["components"]}
            errors = list(OAS30Validator(schema).iter_errors(media["example"]))
            assert not errors, f"{method} {path} {status}: {errors[0].message}"
            checked += 1
    assert checked > 20


def test_problem_component_has_the_rfc_9457_members(app: web.Application) -> None:
    problem = build_document(app)["components"]["schemas"]["Problem"]
    assert {"type", "title", "status", "detail", "instance", "request_id", "errors"} <= set(
        problem["properties"]
    )
    assert set(problem["required"]) == {
        "type",
        "title",
        "status",
        "detail",
        "instance",
        "request_id",
    }


def test_problem_responses_refuse_unknown_statuses() -> None:
    assert problem_responses(404) == {"404": {"$ref": "#/components/responses/NotFound"}}
    with pytest.raises(ValueError, match="418"):
        problem_responses(418)
