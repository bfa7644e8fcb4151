"""Documenting routes for the OpenAPI document: `operation(...)` and `document_route(...)`.

Handlers document themselves with `operation(...)` and apigami's input decorators
(`querystring_schema`, `match_info_schema`, `json_schema`), which `kensho.http.inputs` also
enforces. Routes whose handlers validate their inputs themselves (for speed, the catalog and
search reads) or carry no docs are described next to where they are added, with
`document_route`. Standard error responses are the `kensho.errors` taxonomy as problem+json.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Final, Literal, NoReturn, TypeVar

import marshmallow as ma
from aiohttp import web
from aiohttp_apigami import docs, json_schema, match_info_schema, querystring_schema

from kensho import errors
from kensho.http import keys
from kensho.http.schemas import problem_example

__all__ = [
    "ERROR_RESPONSES",
    "RETRY_AFTER_STATUSES",
    "Auth",
    "document_route",
    "json_schema",
    "match_info_schema",
    "operation",
    "problem_responses",
    "querystring_schema",
]

Auth = Literal["session", "admin"]
H = TypeVar("H", bound=Callable[..., Any])
_UNSET: Any = object()

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


ERROR_RESPONSES: Final = _error_examples()
RETRY_AFTER_STATUSES: Final = frozenset({429, 503})


def problem_responses(*statuses: int) -> dict[str, dict[str, str]]:
    """`responses` entries referring to the shared problem+json responses, e.g. (404, 503)."""
    unknown = [s for s in statuses if s not in ERROR_RESPONSES]
    if unknown:
        raise ValueError(
            f"no standard error response for {unknown}; known: {sorted(ERROR_RESPONSES)}"
        )
    return {str(s): {"$ref": f"#/components/responses/{ERROR_RESPONSES[s][0]}"} for s in statuses}


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
    app.setdefault(keys.EXTRA_OPERATIONS, []).append((method.upper(), path, stub))
