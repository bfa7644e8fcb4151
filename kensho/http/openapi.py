"""The OpenAPI 3 document and Swagger UI, built from the app's own routes.

The document is built once, at startup, from `app.router`: it cannot list a route that does
not exist, and `undocumented_routes` names the ones it misses. Each operation comes from its
handler (`kensho.http.operations.operation` and apigami's input decorators) or from a
`document_route` next to where the route is added. Swagger UI is served from the apigami
wheel's bundled assets, never a CDN.
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Final

from aiohttp import web
from aiohttp_apigami.constants import API_SPEC_ATTR
from aiohttp_apigami.core import resolver
from aiohttp_apigami.plugin import ApigamiPlugin
from aiohttp_apigami.swagger_ui import SWAGGER_UI_STATIC_FILES
from aiohttp_apigami.utils import make_json_serializable
from apispec import APISpec

from kensho import __version__, errors
from kensho.http import keys
from kensho.http.inputs import ProblemParser
from kensho.http.operations import ERROR_RESPONSES, RETRY_AFTER_STATUSES, problem_responses
from kensho.http.routing import UNMATCHED_NAME, Routes
from kensho.http.schemas.problem import ProblemSchema

__all__ = [
    "DOCS_PATH",
    "SPEC_PATH",
    "build_document",
    "setup_openapi",
    "undocumented_routes",
]

log = logging.getLogger("kensho.http.openapi")

DOCS_PATH: Final = "/api/docs"
SPEC_PATH: Final = "/api/docs/openapi.json"
STATIC_PATH: Final = "/api/docs/static"
OPENAPI_VERSION: Final = "3.0.3"
PROBLEM_CONTENT_TYPE: Final = "application/problem+json"
_ROUTE_PREFIX: Final = "openapi."

_STATIC_FILES: Final[Mapping[str, Path]] = {
    "swagger-ui-bundle.js": SWAGGER_UI_STATIC_FILES / "swagger-ui-bundle.js",
    "swagger-ui.css": SWAGGER_UI_STATIC_FILES / "swagger-ui.css",
    "favicon-32x32.png": SWAGGER_UI_STATIC_FILES / "favicon-32x32.png",
    "kensho-swagger.js": Path(__file__).parent / "static" / "kensho-swagger.js",
}


# --- the document -------------------------------------------------------------------------


def _add_components(spec: APISpec) -> None:
    spec.components.schema("Problem", schema=ProblemSchema)
    spec.components.header(
        "RequestId",
        {"description": "the request id (echoed or minted)", "schema": {"type": "string"}},
    )
    spec.components.header(
        "RetryAfter",
        {"description": "seconds to wait before retrying", "schema": {"type": "integer"}},
    )
    spec.components.security_scheme(
        "sessionToken",
        {"type": "http", "scheme": "bearer", "description": "token from POST /api/auth/login"},
    )
    spec.components.security_scheme(
        "adminToken",
        {"type": "http", "scheme": "bearer", "description": "KENSHO_ADMIN_TOKEN"},
    )
    for status, (name, description, example) in sorted(ERROR_RESPONSES.items()):
        headers: dict[str, Any] = {"X-Request-ID": {"$ref": "#/components/headers/RequestId"}}
        if status in RETRY_AFTER_STATUSES:
            headers["Retry-After"] = {"$ref": "#/components/headers/RetryAfter"}
        spec.components.response(
            name,
            {
                "description": description,
                "headers": headers,
                "content": {
                    PROBLEM_CONTENT_TYPE: {
                        "schema": {"$ref": "#/components/schemas/Problem"},
                        "example": example,
                    }
                },
            },
        )


def _routes(app: web.Application) -> Iterator[tuple[str, str, web.AbstractRoute]]:
    """(METHOD, path template, route) of every route the docs should cover."""
    for resource in app.router.resources():
        if (
            isinstance(resource, web.StaticResource)
            or (resource.name or "").startswith(_ROUTE_PREFIX)
            or resource.name == UNMATCHED_NAME
        ):
            continue
        routes = list(resource)
        methods = {r.method for r in routes}
        for route in routes:
            if route.method == "HEAD" and "GET" in methods:
                continue  # implied by GET
            yield route.method, resource.canonical, route


def _handler_spec(handler: Any) -> dict[str, Any] | None:
    spec = getattr(handler, API_SPEC_ATTR, None)
    return spec if isinstance(spec, dict) and spec.get("responses") else None


def _completed(spec: dict[str, Any], operation_id: str) -> SimpleNamespace:
    """A copy of a handler's spec with the errors its inputs imply; the handler is untouched."""
    # apispec rewrites schemas to $refs in place: copy the containers, or a second build
    # (another app, a test) would find refs to components it never registered.
    out: dict[str, Any] = _copy_containers(spec)
    out.pop("produces", None)  # OpenAPI 2 keys that apigami's `docs` always sets
    out.pop("consumes", None)
    out.setdefault("operationId", operation_id)
    locations = {s["location"] for s in spec["schemas"]}
    implied = set()
    if locations & {"querystring", "match_info", "headers", "cookies"}:
        implied.add(400)
    if locations & {"json", "form"}:
        implied |= {400, 413, 415, 422}
    for code, ref in problem_responses(*sorted(implied)).items():
        out["responses"].setdefault(code, ref)
    return SimpleNamespace(**{API_SPEC_ATTR: out})


def _copy_containers(value: Any) -> Any:
    """Copy dicts and lists recursively; leave leaves (marshmallow schema instances) shared."""
    if isinstance(value, dict):
        return {k: _copy_containers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy_containers(v) for v in value]
    return value


def _operation_id(method: str, route: web.AbstractRoute, used: set[str]) -> str:
    name = route.resource.name if route.resource is not None else None
    base = re.sub(
        r"\W+", "_", name or f"{method.lower()}_{getattr(route.handler, '__name__', 'op')}"
    )
    if name and sum(1 for r in route.resource or () if r.method != "HEAD") > 1:
        base = f"{base}_{method.lower()}"
    candidate, n = base, 2
    while candidate in used:
        candidate, n = f"{base}_{n}", n + 1
    used.add(candidate)
    return candidate


def _explicit_operations(app: web.Application) -> dict[tuple[str, str], Any]:
    return {(m, p): stub for m, p, stub in app.get(keys.EXTRA_OPERATIONS, [])}


def build_document(
    app: web.Application, *, servers: Sequence[Mapping[str, str]] | None = None
) -> dict[str, Any]:
    """The OpenAPI 3 document for every documented route of `app`."""
    spec = APISpec(
        title="Kenshō API",
        version=__version__,
        openapi_version=OPENAPI_VERSION,
        plugins=[ApigamiPlugin(schema_name_resolver=resolver)],
        info={
            "description": (
                "Catalog, search, login and streams for an anime front end. Errors are "
                "`application/problem+json` (RFC 9457). Versioning: docs/api-versioning.md."
            )
        },
        servers=[dict(s) for s in servers or [{"url": "/", "description": "this instance"}]],
    )
    _add_components(spec)
    explicit = _explicit_operations(app)
    used: set[str] = set()
    body_examples: dict[tuple[str, str], Any] = {}
    for method, path, route in _routes(app):
        handler_spec = _handler_spec(route.handler)
        if handler_spec is None:
            stub = explicit.get((method, path))
            handler_spec = _handler_spec(stub) if stub is not None else None
        if handler_spec is None or method == "*":
            continue
        documented = _completed(handler_spec, _operation_id(method, route, used))
        spec.path(path=path, method=method.lower(), handler=documented)
        body_examples[(path, method.lower())] = _body_example(handler_spec)
    document: dict[str, Any] = make_json_serializable(spec.to_dict())
    for (path, method), example in body_examples.items():
        body = document["paths"][path][method].get("requestBody")
        if body is not None and example is not None:
            for media in body["content"].values():
                media.setdefault("example", example)
    return document


def _body_example(handler_spec: Mapping[str, Any]) -> Any:
    """The request body example: the decorator's `example=`, else the schema's `example`."""
    for entry in handler_spec["schemas"]:
        if entry["location"] in ("json", "form"):
            given = {k: v for k, v in (entry.get("example") or {}).items() if k != "add_to_refs"}
            return given or getattr(entry["schema"], "example", None)
    return None


def undocumented_routes(app: web.Application) -> list[tuple[str, str]]:
    """(METHOD, path) of routes the document does not describe; should be empty."""
    explicit = _explicit_operations(app)
    return [
        (method, path)
        for method, path, route in _routes(app)
        if _handler_spec(route.handler) is None and (method, path) not in explicit
    ]


# --- serving ------------------------------------------------------------------------------

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Kenshō API</title>
<link rel="icon" type="image/png" href="{static}/favicon-32x32.png">
<link rel="stylesheet" href="{static}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui" data-spec-url="{spec}"></div>
<script src="{static}/swagger-ui-bundle.js"></script>
<script src="{static}/kensho-swagger.js"></script>
</body>
</html>
"""
#: Everything the page loads comes from this process; inline scripts are not needed.
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; font-src 'self'; frame-ancestors 'none'"
)


async def _spec_handler(request: web.Request) -> web.Response:
    resp = web.json_response(request.app[keys.OPENAPI_DOCUMENT])
    resp.headers["Cache-Control"] = "no-cache"
    return resp


async def _ui_handler(request: web.Request) -> web.Response:
    router = request.app.router
    page = _PAGE.format(
        static=html.escape(
            str(router[_ROUTE_PREFIX + "static"].url_for(filename="x")).rsplit("/", 1)[0]
        ),
        spec=html.escape(str(router[_ROUTE_PREFIX + "spec"].url_for())),
    )
    resp = web.Response(text=page, content_type="text/html")
    resp.headers["Content-Security-Policy"] = _CSP
    resp.headers["Cache-Control"] = "no-cache"
    return resp


async def _static_handler(request: web.Request) -> web.StreamResponse:
    path = _STATIC_FILES.get(request.match_info["filename"])
    if path is None:
        raise errors.NotFound("No such documentation asset.")
    return web.FileResponse(path, headers={"Cache-Control": "public, max-age=86400"})


def setup_openapi(
    app: web.Application, *, servers: Sequence[Mapping[str, str]] | None = None
) -> None:
    """Serve the document at /api/docs/openapi.json and Swagger UI at /api/docs.

    Call after adding routes or before: the document is built at startup, when the router is
    frozen. Also installs the problem-raising parser that `input_parser_for` uses.
    """
    app[keys.INPUT_PARSER] = ProblemParser()
    r = Routes(app)
    r.get(SPEC_PATH, _spec_handler, name=_ROUTE_PREFIX + "spec")
    r.get(DOCS_PATH, _ui_handler, name=_ROUTE_PREFIX + "ui")
    r.get(STATIC_PATH + "/{filename}", _static_handler, name=_ROUTE_PREFIX + "static")

    async def build(app_: web.Application) -> None:
        app_[keys.OPENAPI_DOCUMENT] = build_document(app_, servers=servers)
        missing = undocumented_routes(app_)
        if missing:
            log.warning("routes missing from the OpenAPI document: %s", missing)

    app.on_startup.append(build)
