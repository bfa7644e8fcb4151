"""Operator console bodies: the catalog sync status and the answer to a sync trigger."""

from __future__ import annotations

from typing import Any, ClassVar

from marshmallow import fields, validate

from kensho.http.schemas._base import ResponseSchema, describe

__all__ = ["SyncReportSchema", "SyncRunSchema", "SyncStatusSchema", "SyncTriggerSchema"]


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
    """A sync was started on this replica, which took the fleet's sync lease; its progress
    shows in `sync` (and on the console's feed)."""

    started = fields.Boolean(required=True)
    run_id = fields.String(required=True, metadata=describe("the run started (or resumed)"))
    holder = fields.String(
        allow_none=True, metadata=describe("this replica's id as the sync lease's holder")
    )
    sync = fields.Nested(SyncStatusSchema, required=True)

    example: ClassVar[Any] = {
        "started": True,
        "run_id": "7f3c2a9e0b1d4c5e8f6a7b8c9d0e1f2a",
        "holder": "kensho-7d9f-abcde:1:3f2a1b",
        "sync": {**SyncStatusSchema.example, "running": False},
    }


class SyncRunSchema(ResponseSchema):
    """One attempt of a catalog sync (a run resumed after a crash has one per holder)."""

    id = fields.String(required=True, metadata=describe("the run id (kept when resumed)"))
    status = fields.String(
        required=True,
        validate=validate.OneOf(("running", "complete", "failed", "cancelled", "lost")),
        metadata=describe("lost: its holder crashed or was replaced; another resumed it"),
    )
    holder = fields.String(required=True, metadata=describe("the replica that ran it"))
    started_at = fields.String(required=True)
    finished_at = fields.String(allow_none=True)
    pages = fields.Integer(required=True, validate=validate.Range(min=0))
    series = fields.Integer(required=True, validate=validate.Range(min=0))
    rows_written = fields.Integer(required=True, validate=validate.Range(min=0))
    removed = fields.Integer(required=True, validate=validate.Range(min=0))
    error = fields.String(allow_none=True)
    resumed_from = fields.Integer(
        validate=validate.Range(min=0), metadata=describe("listing position it resumed at")
    )

    example: ClassVar[Any] = {
        "id": "7f3c2a9e0b1d4c5e8f6a7b8c9d0e1f2a",
        "status": "complete",
        "holder": "kensho-7d9f-abcde:1:3f2a1b",
        "started_at": "2026-11-29T20:03:37.118204+00:00",
        "finished_at": "2026-11-29T20:04:12.512433+00:00",
        "pages": 159,
        "series": 15838,
        "rows_written": 0,
        "removed": 0,
        "error": None,
        "resumed_from": 0,
    }


class SyncReportSchema(ResponseSchema):
    """The fleet's catalog sync: who holds the sync lease, until when, and the newest run."""

    running = fields.Boolean(required=True, metadata=describe("a sync runs somewhere in the fleet"))
    holder = fields.String(allow_none=True, metadata=describe("the replica holding the lease"))
    lease_expires_at = fields.String(
        allow_none=True, metadata=describe("when the lease lapses unless its holder renews it")
    )
    last_run = fields.Nested(SyncRunSchema, allow_none=True, required=True)
    replica = fields.String(allow_none=True, metadata=describe("the replica that answered"))

    example: ClassVar[Any] = {
        "running": False,
        "holder": None,
        "lease_expires_at": None,
        "last_run": SyncRunSchema.example,
        "replica": "kensho-7d9f-abcde:1:3f2a1b",
    }
