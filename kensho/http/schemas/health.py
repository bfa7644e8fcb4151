"""Liveness and readiness bodies (`/health/live`, `/health/ready`)."""

from __future__ import annotations

from typing import Any, ClassVar

from marshmallow import fields, validate

from kensho.http.schemas._base import ResponseSchema, describe

__all__ = ["DependencyCheckSchema", "HealthLiveSchema", "HealthReadySchema"]

READY_STATES = ("ready", "degraded", "not_ready", "shutting_down")


class HealthLiveSchema(ResponseSchema):
    """The process is up and its event loop answers."""

    status = fields.String(
        required=True,
        validate=validate.OneOf(["ok", "failing"]),
        metadata=describe("`failing` (with 503) when the loop ticker stalled"),
    )
    loop_lag_ms = fields.Float(
        validate=validate.Range(min=0), metadata=describe("event-loop lag measured last tick")
    )
    uptime_s = fields.Float(validate=validate.Range(min=0), metadata=describe("process uptime"))

    example: ClassVar[Any] = {"status": "ok", "loop_lag_ms": 0.4, "uptime_s": 3600.25}


class DependencyCheckSchema(ResponseSchema):
    """One dependency as readiness saw it."""

    status = fields.String(required=True, validate=validate.OneOf(["ok", "failing"]))
    required = fields.Boolean(
        required=True, metadata=describe("whether `failing` here makes the instance not ready")
    )
    latency_ms = fields.Float(
        required=True, validate=validate.Range(min=0), metadata=describe("check round trip")
    )
    error = fields.String(
        metadata=describe("why it failed: an exception class or a timeout, never a DSN")
    )


class HealthReadySchema(ResponseSchema):
    """Whether this instance should receive traffic: 503 when `not_ready` or `shutting_down`."""

    status = fields.String(required=True, validate=validate.OneOf(READY_STATES))
    checks = fields.Dict(
        keys=fields.String(),
        values=fields.Nested(DependencyCheckSchema),
        metadata=describe("by dependency: postgres, redis, upstream, actors, …"),
    )

    example: ClassVar[Any] = {
        "status": "degraded",
        "checks": {
            "postgres": {"status": "ok", "required": True, "latency_ms": 1.2},
            "actors": {"status": "ok", "required": True, "latency_ms": 0.01},
            "redis": {
                "status": "failing",
                "required": False,
                "latency_ms": 2000.4,
                "error": "no answer within 2s",
            },
        },
    }
