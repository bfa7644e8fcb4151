"""RFC 9457 problem details: the one error body every endpoint returns."""

from __future__ import annotations

from typing import Any, ClassVar

from marshmallow import fields, validate

from kensho.http.schemas._base import ResponseSchema, describe

__all__ = ["PROBLEM_BASE", "FieldErrorSchema", "ProblemSchema", "problem_example"]

#: `type` URIs are this base plus the error's slug (see kensho/errors.py).
PROBLEM_BASE = "https://kensho.dev/problems/"


class FieldErrorSchema(ResponseSchema):
    """One invalid input field."""

    field = fields.String(
        required=True, metadata=describe("the parameter or body field, dotted for nested ones")
    )
    message = fields.String(required=True, metadata=describe("what is wrong with it"))


class ProblemSchema(ResponseSchema):
    """`application/problem+json` (RFC 9457) with Kenshō's extension members."""

    type = fields.String(
        required=True,
        metadata=describe("URI naming the problem kind", example=PROBLEM_BASE + "not-found"),
    )
    title = fields.String(required=True, metadata=describe("short summary of the problem kind"))
    status = fields.Integer(
        required=True, validate=validate.Range(min=400, max=599), metadata=describe("HTTP status")
    )
    detail = fields.String(
        required=True, metadata=describe("what went wrong in this request; never internals")
    )
    instance = fields.String(
        required=True, metadata=describe("the request path this problem occurred on")
    )
    request_id = fields.String(
        required=True,
        allow_none=True,
        metadata=describe("the request id, also in the X-Request-ID header"),
    )
    errors = fields.List(
        fields.Nested(FieldErrorSchema),
        metadata=describe("each invalid field (validation problems only)"),
    )

    example: ClassVar[Any] = None  # set below, after problem_example is defined


def problem_example(
    status: int, title: str, slug: str, detail: str, **extra: Any
) -> dict[str, Any]:
    """A problem body for the docs, shaped exactly as the error middleware renders one."""
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + slug,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": "/api/anime/GY8VEQ95Y",
        "request_id": "01J9Z6YV7Q3M2B8K4N5T6W7X8Y",
    }
    body.update(extra)
    return body


ProblemSchema.example = problem_example(404, "Not Found", "not-found", "no anime with id GY8VEQ95Y")
