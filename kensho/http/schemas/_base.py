"""Base classes that fix how each kind of schema treats unknown keys.

Responses stay open (clients must ignore fields they do not know: that is what makes additive
changes safe, see docs/api-versioning.md); query strings ignore unknown parameters (cache
busters, tracking tags); JSON bodies reject unknown fields, so a typo is a 422, not a silent
default.
"""

from __future__ import annotations

from typing import Any, ClassVar

from marshmallow import EXCLUDE, INCLUDE, RAISE, Schema, fields, validate

__all__ = [
    "BodySchema",
    "CursorField",
    "LimitField",
    "QuerySchema",
    "ResponseSchema",
    "describe",
]


def describe(text: str, **extra: Any) -> dict[str, Any]:
    """Field metadata: marshmallow 3 wants `description` inside `metadata`, not as a kwarg."""
    return {"description": text, **extra}


class ResponseSchema(Schema):
    """A response body. `example` is shown in the docs and checked against the schema in tests."""

    example: ClassVar[Any] = None

    class Meta:
        # INCLUDE renders as `additionalProperties: true`: new fields are not breaking changes.
        unknown = INCLUDE


class QuerySchema(Schema):
    """Query-string parameters: unknown parameters are ignored."""

    class Meta:
        unknown = EXCLUDE


class BodySchema(Schema):
    """A JSON request body: unknown fields are an error."""

    example: ClassVar[Any] = None

    class Meta:
        unknown = RAISE


def LimitField(default: int, maximum: int) -> fields.Integer:
    """Page size: 1..maximum, `default` when absent."""
    return fields.Integer(
        load_default=default,
        validate=validate.Range(min=1, max=maximum),
        metadata=describe(f"page size, 1 to {maximum}", example=default),
    )


def CursorField() -> fields.String:
    """An opaque, signed cursor from a previous page's `next_cursor`."""
    return fields.String(
        load_default=None,
        validate=validate.Length(min=1, max=512),
        metadata=describe(
            "opaque cursor from the previous page's `next_cursor`; a forged or stale cursor "
            "is a 400 problem"
        ),
    )
