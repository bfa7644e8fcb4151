"""OpenAPI 3 document and Swagger UI, built from the app's own routes.

Handlers document themselves with `operation(...)` and apigami's input decorators
(`querystring_schema`, `match_info_schema`, `json_schema`), which `input_parser_for` (asked by
the envelope middleware) also enforces. Routes whose handlers carry no docs (health, metrics,
admin) are described by `document_route` (the foundation's are built in here). The document is
built once, at startup, from `app.router`: it cannot list a route that does not exist, and
`undocumented_routes` names the ones it misses. Swagger UI is served from the apigami wheel's
bundled assets, never a CDN.
"""

from __future__ import annotations

import functools
import html
import logging
import re
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Final, Literal, NoReturn, TypeVar

import marshmallow as ma
from aiohttp import web
from aiohttp_apigami import docs, json_schema, match_info_schema, querystring_schema
from aiohttp_apigami.constants import API_SPEC_ATTR, SCHEMAS_ATTR
from aiohttp_apigami.core import resolver
from aiohttp_apigami.plugin import ApigamiPlugin
from aiohttp_apigami.swagger_ui import SWAGGER_UI_STATIC_FILES
from aiohttp_apigami.utils import make_json_serializable
from apispec import APISpec
from webargs.aiohttpparser import AIOHTTPParser

from kensho import __version__, errors
from kensho.http.routing import UNMATCHED_NAME, Routes
from kensho.http.schemas import problem_example
from kensho.http.schemas.problem import ProblemSchema

__all__ = [
    "DOCS_PATH",
    "OPENAPI_DOCUMENT",
    "SPEC_PATH",
    "VALIDATED",
    "ProblemParser",
    "build_document",
    "document_route",
    "input_parser_for",
    "json_schema",
    "match_info_schema",
    "operation",
    "problem_responses",
    "querystring_schema",
    "setup_openapi",
    "undocumented_routes",
    "validated",
]

log = logging.getLogger("kensho.http.openapi")

DOCS_PATH: Final = "/api/docs"
SPEC_PATH: Final = "/api/docs/openapi.json"
STATIC_PATH: Final = "/api/docs/static"
OPENAPI_VERSION: Final = "3.0.3"
PROBLEM_CONTENT_TYPE: Final = "application/problem+json"
_ROUTE_PREFIX: Final = "openapi."
_MAX_FIELD_ERRORS: Final = 50
_MAX_FIELD_NAME: Final = 128

#: The built document; set at startup.
OPENAPI_DOCUMENT = web.AppKey("openapi_document", dict)
_EXTRA_OPERATIONS = web.AppKey("openapi_extra_operations", list)
_PARSER = web.AppKey("openapi_parser", AIOHTTPParser)
#: Parsed inputs by location ("querystring", "match_info", "json", ...); see `validated`.
VALIDATED = web.RequestKey("validated_inputs", dict)

Auth = Literal["session", "admin"]
H = TypeVar("H", bound=Callable[..., Any])
_UNSET: Any = object()

_STATIC_FILES: Final[Mapping[str, Path]] = {
    "swagger-ui-bundle.js": SWAGGER_UI_STATIC_FILES / "swagger-ui-bundle.js",
    "swagger-ui.css": SWAGGER_UI_STATIC_FILES / "swagger-ui.css",
    "favicon-32x32.png": SWAGGER_UI_STATIC_FILES / "favicon-32x32.png",
    "kensho-swagger.js": Path(__file__).parent / "static" / "kensho-swagger.js",
}

# --- standard error responses -------------------------------------------------------------


def _error_examples() -> dict[int, tuple[str, str, dict[str, Any]]]:
    """Status -> (component name, description, example problem), from kensho.errors."""
    table: dict[int, tuple[type[errors.KenshoError], str, str]] = {
        400: (errors.BadRequest, "a parameter is malformed", "limit: must be between 1 and 100"),
        401: (errors.Unauthorized, "missing or invalid bearer token", "a valid token is required"),
        403: (errors.Forbidden, "authenticated but not allowed", "this episode needs premium"),
        404: (errors.NotFound, "no such resource", "no anime with id GY8VEQ95Y"),
        406: (
            errors.NotAcceptable,
            "no acceptable content coding in Accept-Encoding",
            "none of the codings in Accept-Encoding can be served",
        ),
        409: (errors.Conflict, "conflicts with the current state", "already in progress"),
        410: (errors.Gone, "the cursor or resource no longer exists", "the cursor expired"),
        413: (errors.PayloadTooLarge, "the body is too large", "at most 1048576 bytes"),
        415: (errors.UnsupportedMediaType, "the body is not JSON", "send application/json"),
        422: (errors.ValidationFailed, "a body field is invalid", "password: required"),
        429: (errors.RateLimited, "too many requests; see Retry-After", "retry in 30 s"),
        502: (errors.UpstreamError, "the Crunchyroll API answered badly", "upstream error"),
        503: (errors.ServiceUnavailable, "a dependency is down; see Retry-After", "retry later"),
        504: (errors.Timeout, "the request missed its deadline", "no answer within 10 s"),
    }
    out: dict[int, tuple[str, str, dict[str, Any]]] = {}
    for status, (cls, description, detail) in table.items():
        extra: dict[str, Any] = {}
        if status in (400, 422):
            field = "limit" if status == 400 else "password"
            extra["errors"] = [{"field": field, "message": detail.split(": ", 1)[1]}]
        example = problem_example(status, cls.title, cls.slug, detail, **extra)
        out[status] = (cls.__name__, description, example)
    out[500] = (
        "InternalServerError",
        "an unexpected failure; the detail never shows internals",
        problem_example(
            500,
            "Internal Server Error",
            "internal",
            "The server failed to handle this request; quote the request id when reporting it.",
        ),
    )
    return out


_ERRORS: Final = _error_examples()
_RETRY_AFTER_STATUSES: Final = frozenset({429, 503})


def problem_responses(*statuses: int) -> dict[str, dict[str, str]]:
    """`responses` entries referring to the shared problem+json responses, e.g. (404, 503)."""
    unknown = [s for s in statuses if s not in _ERRORS]
    if unknown:
        raise ValueError(f"no standard error response for {unknown}; known: {sorted(_ERRORS)}")
    return {str(s): {"$ref": f"#/components/responses/{_ERRORS[s][0]}"} for s in statuses}


# --- documenting handlers -----------------------------------------------------------------


def _request_id_header() -> dict[str, Any]:
    return {"X-Request-ID": {"$ref": "#/components/headers/RequestId"}}


def _body_response(
    schema: type[ma.Schema] | ma.Schema | Mapping[str, Any] | None,
    description: str,
    example: Any,
    content_type: str,
) -> dict[str, Any]:
    response: dict[str, Any] = {"description": description, "headers": _request_id_header()}
    if schema is None:
        return response
    if isinstance(schema, type):
        schema = schema()
    media: dict[str, Any] = {"schema": schema}
    if example is _UNSET:
        example = getattr(schema, "example", None)
    if example is not None:
        media["example"] = example
    response["content"] = {content_type: media}
    return response


def operation(
    summary: str,
    *,
    tags: Sequence[str],
    response: type[ma.Schema] | ma.Schema | Mapping[str, Any] | None = None,
    status: int = 200,
    example: Any = _UNSET,
    description: str | None = None,
    errors: Iterable[int] = (),
    auth: Auth | None = None,
    content_type: str = "application/json",
    also: Mapping[int, tuple[Any, ...]] | None = None,
    operation_id: str | None = None,
    deprecated: bool = False,
) -> Callable[[H], H]:
    """Document a handler: its success response with an example, and its error responses.

    `response` is a marshmallow schema (its `example` class attribute is used unless `example`
    is given) or a raw JSON Schema dict; None means no body (204). `errors` adds standard
    problem+json responses; 500 and 504 are always added, 400/422 when the handler declares
    query/path/body schemas, and `auth` adds 401 (`admin` also 404: unconfigured admin routes
    hide). `also` documents other non-problem bodies by status as (schema, description[, example]),
    e.g. a 503 readiness report.
    """
    responses: dict[Any, Any] = {
        str(status): _body_response(response, summary, example, content_type)
    }
    for other_status, (other_schema, other_description, *other_example) in (also or {}).items():
        responses[str(other_status)] = _body_response(
            other_schema,
            other_description,
            other_example[0] if other_example else _UNSET,
            content_type,
        )
    statuses = {500, 504, *errors}
    if auth is not None:
        statuses.add(401)
    if auth == "admin":
        statuses.add(404)
    for code, ref in problem_responses(*sorted(statuses)).items():
        responses.setdefault(code, ref)
    security: dict[str, list[dict[str, list[str]]]] = {
        "session": [{"sessionToken": []}],
        "admin": [{"adminToken": []}],
    }
    return docs(
        tags=list(tags),
        summary=summary,
        description=description,
        responses=responses,
        security=security[auth] if auth else None,
        operation_id=operation_id,
        deprecated=deprecated or None,
    )


def document_route(
    app: web.Application,
    method: str,
    path: str,
    summary: str,
    *,
    inputs: Iterable[Callable[[H], H]] = (),
    **kwargs: Any,
) -> None:
    """Describe a route whose handler carries no docs. `kwargs` are those of `operation`;
    `inputs` are apigami input decorators (`json_schema(...)`, ...) for the docs only."""

    async def _described(request: web.Request) -> NoReturn:  # only its __apispec__ is read
        raise NotImplementedError

    stub: Any = operation(summary, **kwargs)(_described)
    for decorate in inputs:
        stub = decorate(stub)
    app.setdefault(_EXTRA_OPERATIONS, []).append((method.upper(), path, stub))


# --- validation errors as problems --------------------------------------------------------


def _flatten(messages: Any, prefix: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(messages, Mapping):
        for key, value in messages.items():
            name = str(key) if not prefix else f"{prefix}.{key}"
            yield from _flatten(value, "" if key == "_schema" and not prefix else name)
    elif isinstance(messages, list | tuple):
        for item in messages:
            yield from _flatten(item, prefix)
    else:
        yield (prefix or "body"), str(messages)


class ProblemParser(AIOHTTPParser):
    """webargs parser whose failures are Kenshō problems naming each field.

    Query-string and path errors are 400 (the URL is wrong); body errors are 422 (the request
    was well-formed but its content is not). Error lists are capped: a hostile body with
    thousands of unknown keys must not produce an equally large response.
    """

    def handle_error(
        self,
        error: ma.ValidationError,
        req: web.Request,
        schema: ma.Schema,
        *,
        error_status_code: int | None,
        error_headers: Mapping[str, str] | None,
    ) -> NoReturn:
        by_location = error.messages if isinstance(error.messages, Mapping) else {}
        found: list[dict[str, str]] = []
        for messages in by_location.values():
            for name, message in _flatten(messages):
                if len(found) == _MAX_FIELD_ERRORS:
                    break
                found.append({"field": name[:_MAX_FIELD_NAME], "message": message[:256]})
        if not found:
            found.append({"field": "body", "message": "invalid input"})
        status = 422 if set(by_location) <= {"json", "form", "json_or_form"} else 400
        first = found[0]
        raise errors.ValidationFailed(
            f"{first['field']}: {first['message']}", errors=found, status=status
        )

    def _handle_invalid_json_error(
        self, error: Exception, req: web.Request, *a: Any, **k: Any
    ) -> NoReturn:
        raise errors.BadRequest("The request body is not valid JSON.")


def input_parser_for(handler: object) -> Callable[[web.Request], Awaitable[None]] | None:
    """The parser of what `handler` declared with the apigami decorators, or None.

    The envelope middleware asks once per route and runs the parser on each request: it
    parses the declared inputs into `validated(request, location)`; failures raise
    `ValidationFailed` (400 for query/path, 422 for bodies) or 415. Replaces apigami's
    middleware, which stores results under string request keys (aiohttp warns).
    """
    declared = getattr(handler, SCHEMAS_ATTR, None)
    return functools.partial(_parse_inputs, declared=declared) if declared else None


async def _parse_inputs(request: web.Request, declared: Any) -> None:
    parser = request.app[_PARSER]
    parsed: dict[str, Any] = {}
    for entry in declared:
        if entry.location == "json" and request.body_exists:
            _require_json(request)
        parsed[entry.location] = await parser.parse(
            entry.schema, request, location=entry.location, unknown=None
        )
    request[VALIDATED] = parsed


def _require_json(request: web.Request) -> None:
    """A body declared as JSON must say so: anything else is 415, not a field error."""
    if request.content_type != "application/json" and not request.content_type.endswith("+json"):
        raise errors.UnsupportedMediaType(
            f"expected Content-Type application/json, got {request.content_type or 'none'!r}"
        )


def validated(request: web.Request, location: str) -> Any:
    """The parsed input of one location, e.g. `validated(request, "querystring")["limit"]`."""
    return request[VALIDATED][location]


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
    for status, (name, description, example) in sorted(_ERRORS.items()):
        headers: dict[str, Any] = {"X-Request-ID": {"$ref": "#/components/headers/RequestId"}}
        if status in _RETRY_AFTER_STATUSES:
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
    table = {(m, p): stub for m, p, stub in _foundation_operations()}
    table.update({(m, p): stub for m, p, stub in app.get(_EXTRA_OPERATIONS, [])})
    return table


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
    resp = web.json_response(request.app[OPENAPI_DOCUMENT])
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
    app[_PARSER] = ProblemParser()
    r = Routes(app)
    r.get(SPEC_PATH, _spec_handler, name=_ROUTE_PREFIX + "spec")
    r.get(DOCS_PATH, _ui_handler, name=_ROUTE_PREFIX + "ui")
    r.get(STATIC_PATH + "/{filename}", _static_handler, name=_ROUTE_PREFIX + "static")

    async def build(app_: web.Application) -> None:
        app_[OPENAPI_DOCUMENT] = build_document(app_, servers=servers)
        missing = undocumented_routes(app_)
        if missing:
            log.warning("routes missing from the OpenAPI document: %s", missing)

    app.on_startup.append(build)


# --- the foundation's routes (handlers without docs) -----------------------------------------


def _foundation_operations() -> list[tuple[str, str, Any]]:
    """Docs for health, metrics and admin routes, whose handlers stay undecorated."""
    from kensho.http import schemas as s

    ops: list[tuple[str, str, Any]] = []

    def add(method: str, path: str, summary: str, inputs: Sequence[Any] = (), **kw: Any) -> None:
        async def _described(request: web.Request) -> NoReturn:
            raise NotImplementedError

        stub: Any = operation(summary, **kw)(_described)
        for decorate in inputs:
            stub = decorate(stub)
        ops.append((method, path, stub))

    add(
        "GET",
        "/health/live",
        "Liveness: the process runs and its event loop answers",
        tags=["health"],
        response=s.HealthLiveSchema,
        also={
            503: (
                s.HealthLiveSchema,
                "the event loop is stalled",
                {"status": "failing", "loop_lag_ms": 5210.0, "uptime_s": 86400.0},
            )
        },
    )
    add(
        "GET",
        "/health/ready",
        "Readiness: each dependency's status and latency",
        tags=["health"],
        response=s.HealthReadySchema,
        also={
            503: (
                s.HealthReadySchema,
                "a required dependency fails, or the server drains",
                {"status": "shutting_down", "checks": {}},
            )
        },
    )
    add(
        "GET",
        "/metrics",
        "Prometheus metrics (text exposition format)",
        tags=["operations"],
        content_type="text/plain",
        response={"type": "string"},
        example="# TYPE request_duration_seconds histogram\n"
        'request_duration_seconds_bucket{route="/health/live",method="GET",status="200",'
        'le="0.005"} 3\n',
    )
    admin: dict[str, Any] = {"tags": ["admin"], "auth": "admin"}
    add(
        "GET",
        "/admin/actors",
        "The supervision tree with every actor's statistics",
        response=s.ActorTreeSchema,
        errors=(503,),
        **admin,
    )
    add(
        "GET",
        "/admin/actors/{name}",
        "One actor or supervisor node",
        response=s.ActorNodeSchema,
        errors=(503,),
        **admin,
    )
    add(
        "POST",
        "/admin/actors/{name}/restart",
        "Restart one actor through its supervisor",
        response=s.RestartResponseSchema,
        status=202,
        errors=(503,),
        **admin,
    )
    add(
        "POST",
        "/admin/cache/invalidate",
        "Drop cache keys matching a pattern on every replica",
        inputs=[
            json_schema(
                s.CacheInvalidateRequestSchema, example=s.CacheInvalidateRequestSchema.example
            )
        ],
        response=s.CacheInvalidateResponseSchema,
        errors=(503,),
        **admin,
    )
    add(
        "POST",
        "/admin/breaker",
        "Override the upstream circuit breaker",
        inputs=[json_schema(s.BreakerOverrideSchema, example=s.BreakerOverrideSchema.example)],
        response=s.BreakerStateSchema,
        errors=(503,),
        **admin,
    )
    add(
        "GET",
        "/admin/search/analytics",
        "Top search queries and queries with no result",
        response=s.SearchAnalyticsSchema,
        errors=(503,),
        **admin,
    )
    return ops
