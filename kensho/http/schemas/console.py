"""Operator console bodies: the catalog sync status and the answer to a sync trigger."""

from __future__ import annotations

from typing import Any, ClassVar

from marshmallow import fields, validate

from kensho.http.schemas._base import ResponseSchema, describe

__all__ = ["SyncStatusSchema", "SyncTriggerSchema"]


class SyncStatusSchema(ResponseSchema):
    """The catalog sync job as this replica sees it."""

    loaded = fields.Boolean(required=True, metadata=describe("the catalog has series"))
    series_count = fields.Integer(required=True, validate=validate.Range(min=0))
    running = fields.Boolean(required=True)
    progress = fields.Float(
        allow_none=True,
        validate=validate.Range(min=0, max=1),
        metadata=describe("share of the listing done in the current or last run"),
    )
    pages_done = fields.Integer(validate=validate.Range(min=0))
    last_run = fields.String(allow_none=True, metadata=describe("ISO 8601 end of the last run"))
    last_result = fields.String(
        allow_none=True, validate=validate.OneOf(("complete", "failed", "cancelled", "lost"))
    )
    last_error = fields.String(allow_none=True)

    example: ClassVar[Any] = {
        "loaded": True,
        "series_count": 15838,
        "running": False,
        "progress": 1.0,
        "pages_done": 159,
        "last_run": "2026-11-29T20:04:12.512433+00:00",
        "last_result": "complete",
        "last_error": None,
    }


class SyncTriggerSchema(ResponseSchema):
    """A sync was started; its progress shows in `sync` (and on the console's feed)."""

    started = fields.Boolean(required=True)
    sync = fields.Nested(SyncStatusSchema, required=True)

    example: ClassVar[Any] = {
        "started": True,
        "sync": {**SyncStatusSchema.example, "running": False},
    }
