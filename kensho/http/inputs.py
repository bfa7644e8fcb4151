"""Validating the inputs a handler declared with apigami's decorators, once, as problems.

The envelope asks `input_parser_for(handler)` once per route and runs the parser on each
request: it parses the declared inputs into `validated(request, location)`; failures raise
`ValidationFailed` (400 for query/path, 422 for bodies) or 415. Handlers read the parsed values
with `validated` and never load the schema again. (Replaces apigami's middleware, which stores
results under string request keys: aiohttp warns.)
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import Any, Final, NoReturn

import marshmallow as ma
from aiohttp import web
from aiohttp_apigami.constants import SCHEMAS_ATTR
from webargs.aiohttpparser import AIOHTTPParser

from kensho import errors
from kensho.http import keys

__all__ = ["ProblemParser", "input_parser_for", "validated"]

_MAX_FIELD_ERRORS: Final = 50
_MAX_FIELD_NAME: Final = 128


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
    parser = request.app[keys.INPUT_PARSER]
    parsed: dict[str, Any] = {}
    for entry in declared:
        if entry.location == "json" and request.body_exists:
            _require_json(request)
        parsed[entry.location] = await parser.parse(
            entry.schema, request, location=entry.location, unknown=None
        )
    request[keys.VALIDATED] = parsed


def _require_json(request: web.Request) -> None:
    """A body declared as JSON must say so: anything else is 415, not a field error."""
    if request.content_type != "application/json" and not request.content_type.endswith("+json"):
        raise errors.UnsupportedMediaType(
            f"expected Content-Type application/json, got {request.content_type or 'none'!r}"
        )


def validated(request: web.Request, location: str) -> Any:
    """The parsed input of one location, e.g. `validated(request, "querystring")["limit"]`."""
    return request[keys.VALIDATED][location]
