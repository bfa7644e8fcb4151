"""Operator bodies: the supervision tree, cache invalidation, breaker overrides, analytics."""

from __future__ import annotations

from typing import Any, ClassVar

from marshmallow import fields, validate

from kensho.http.schemas._base import BodySchema, ResponseSchema, describe
from kensho.upstream.breaker import BreakerState

__all__ = [
    "ACTOR_STATES",
    "ActorNodeSchema",
    "ActorStatsSchema",
    "ActorTreeSchema",
    "BreakerOverrideSchema",
    "BreakerStateSchema",
    "CacheInvalidateRequestSchema",
    "CacheInvalidateResponseSchema",
    "FailureSchema",
    "LatencySchema",
    "QueryCountSchema",
    "RestartResponseSchema",
    "SearchAnalyticsSchema",
    "SessionRevokeResultSchema",
    "SessionRevokeSchema",
    "WorkerSchema",
]

ACTOR_STATES = ("starting", "running", "restarting", "backing_off", "stopping", "stopped", "failed")
BREAKER_STATES = tuple(state.value for state in BreakerState)


class LatencySchema(ResponseSchema):
    """Percentiles in microseconds over the actor's recent messages."""

    p50 = fields.Float(validate=validate.Range(min=0))
    p99 = fields.Float(validate=validate.Range(min=0))


class FailureSchema(ResponseSchema):
    """The last failure of an actor."""

    type = fields.String(required=True, metadata=describe("exception class name"))
    message = fields.String(required=True)
    at = fields.Float(required=True, metadata=describe("Unix time in seconds"))


class ActorStatsSchema(ResponseSchema):
    """One actor's statistics, read without a mailbox round trip (kensho.actors.stats)."""

    name = fields.String(required=True)
    state = fields.String(validate=validate.OneOf(ACTOR_STATES))
    mailbox_depth = fields.Integer(validate=validate.Range(min=0))
    mailbox_limit = fields.Integer(
        allow_none=True,
        validate=validate.Range(min=1),
        metadata=describe("messages that may wait; beyond it asks fail fast with 503"),
    )
    mailbox_rejected = fields.Integer(
        validate=validate.Range(min=0), metadata=describe("messages refused: mailbox full")
    )
    expired_asks = fields.Integer(
        validate=validate.Range(min=0),
        metadata=describe("asks skipped unexecuted because the asker had given up"),
    )
    stashed = fields.Integer(
        validate=validate.Range(min=0), metadata=describe("messages held during a restart")
    )
    processed = fields.Integer(validate=validate.Range(min=0))
    view_reads = fields.Integer(
        validate=validate.Range(min=0),
        metadata=describe("reads of the actor's published view by handlers (no message each)"),
    )
    failed: fields.Field = fields.Integer(validate=validate.Range(min=0))
    restarts = fields.Integer(validate=validate.Range(min=0))
    processing_us = fields.Nested(LatencySchema)
    mailbox_wait_us = fields.Nested(LatencySchema, metadata=describe("time a message waited"))
    last_failure = fields.Nested(FailureSchema, allow_none=True)
    uptime_s = fields.Float(validate=validate.Range(min=0))
    summary = fields.Dict(
        keys=fields.String(),
        metadata=describe("domain summary: breaker state, cache size and hit ratio, pool use, …"),
    )

    example: ClassVar[Any] = {
        "name": "cache",
        "state": "running",
        "mailbox_depth": 0,
        "mailbox_limit": 10000,
        "mailbox_rejected": 0,
        "expired_asks": 0,
        "stashed": 0,
        "processed": 18234,
        "view_reads": 912345,
        "failed": 2,
        "restarts": 1,
        "processing_us": {"p50": 40.0, "p99": 900.0},
        "mailbox_wait_us": {"p50": 20.0, "p99": 400.0},
        "last_failure": {
            "type": "ConnectionError",
            "message": "redis went away",
            "at": 1748779080.0,
        },
        "uptime_s": 3600.5,
        "summary": {"entries": 4096, "bytes": 8388608, "hit_ratio": 0.97, "evictions": 12},
    }


class ActorNodeSchema(ActorStatsSchema):
    """An actor or a supervisor in the tree; supervisors carry `strategy` and `children`."""

    kind = fields.String(validate=validate.OneOf(["actor", "supervisor"]))
    # A supervisor's `failed` says whether it gave up; an actor's counts failed messages.
    failed = fields.Raw(
        metadata=describe(
            "actor: messages that failed (integer); supervisor: whether it gave up (boolean)",
            oneOf=[{"type": "integer", "minimum": 0}, {"type": "boolean"}],
        )
    )
    failure_reason = fields.String(allow_none=True, metadata=describe("supervisor: why it gave up"))
    restart = fields.String(validate=validate.OneOf(["permanent", "transient", "temporary"]))
    restarts_in_period = fields.Integer(validate=validate.Range(min=0))
    intensity = fields.Integer(validate=validate.Range(min=0))
    period = fields.Float(validate=validate.Range(min=0))
    strategy = fields.String(
        validate=validate.OneOf(["one_for_one", "one_for_all", "rest_for_one"])
    )
    # The lambda defers the name: the class does not exist yet while its body runs.
    children = fields.List(fields.Nested(lambda: ActorNodeSchema()))  # noqa: PLW0108

    example: ClassVar[Any] = ActorStatsSchema.example


class WorkerSchema(ResponseSchema):
    """Which process answered: `kensho serve --workers N` runs N, each with its own tree."""

    index = fields.Integer(
        required=True, validate=validate.Range(min=0), metadata=describe("0..count-1")
    )
    count = fields.Integer(
        required=True, validate=validate.Range(min=1), metadata=describe("workers on this host")
    )
    pid = fields.Integer(required=True, validate=validate.Range(min=1))

    example: ClassVar[Any] = {"index": 0, "count": 2, "pid": 4242}


class ActorTreeSchema(ResponseSchema):
    """`GET /admin/actors`: the supervision tree from the root supervisor down, and which
    worker process it belongs to."""

    tree = fields.Nested(ActorNodeSchema, required=True)
    worker = fields.Nested(WorkerSchema, required=True)

    example: ClassVar[Any] = {
        "tree": {
            "name": "root",
            "state": "running",
            "strategy": "one_for_one",
            "restarts": 1,
            "children": [ActorNodeSchema.example],
        },
        "worker": WorkerSchema.example,
    }


class RestartResponseSchema(ResponseSchema):
    """`POST /admin/actors/{name}/restart` (202): the restart was done; the node as it is now."""

    restarted = fields.String(required=True, metadata=describe("the actor's name"))
    actor = fields.Nested(ActorNodeSchema, allow_none=True)

    example: ClassVar[Any] = {"restarted": "cache", "actor": ActorNodeSchema.example}


class CacheInvalidateRequestSchema(BodySchema):
    """Keys to drop from every replica's L1 and from Redis."""

    pattern = fields.String(
        required=True,
        validate=validate.Length(min=1, max=256),
        metadata=describe("glob pattern over cache keys, e.g. `anime:GY8VEQ95Y*`"),
    )

    example: ClassVar[Any] = {"pattern": "anime:GY8VEQ95Y*"}


class CacheInvalidateResponseSchema(ResponseSchema):
    """How many keys went."""

    pattern = fields.String(required=True)
    invalidated = fields.Integer(required=True, validate=validate.Range(min=0))

    example: ClassVar[Any] = {"pattern": "anime:GY8VEQ95Y*", "invalidated": 3}


class BreakerOverrideSchema(BodySchema):
    """An operator override; `auto` returns the breaker to its own judgement."""

    mode = fields.String(
        required=True, validate=validate.OneOf(["auto", "disabled", "forced_open"])
    )

    example: ClassVar[Any] = {"mode": "forced_open"}


class BreakerStateSchema(ResponseSchema):
    """The breaker after the override."""

    state = fields.String(required=True, validate=validate.OneOf(BREAKER_STATES))
    failure_rate = fields.Float(allow_none=True, validate=validate.Range(min=0, max=1))
    slow_call_rate = fields.Float(allow_none=True, validate=validate.Range(min=0, max=1))

    example: ClassVar[Any] = {"state": "forced_open", "failure_rate": 0.0, "slow_call_rate": 0.0}


class QueryCountSchema(ResponseSchema):
    """A normalised query and how often it was searched."""

    query = fields.String(required=True)
    count = fields.Integer(required=True, validate=validate.Range(min=0))


class SearchAnalyticsSchema(ResponseSchema):
    """Top queries and queries that found nothing."""

    since = fields.DateTime(allow_none=True)
    top_queries = fields.List(fields.Nested(QueryCountSchema), required=True)
    zero_result_queries = fields.List(fields.Nested(QueryCountSchema), required=True)

    example: ClassVar[Any] = {
        "since": "2025-05-31T12:00:00Z",
        "top_queries": [{"query": "attack on titan", "count": 412}],
        "zero_result_queries": [{"query": "shingeki no kyojn zzz", "count": 3}],
    }


class SessionRevokeSchema(BodySchema):
    """Whose sessions an operator ends (every replica, at once)."""

    username = fields.String(required=True, validate=validate.Length(min=1, max=320))

    example: ClassVar[Any] = {"username": "demo@kensho.dev"}


class SessionRevokeResultSchema(ResponseSchema):
    """How many live sessions were revoked and stream grants released."""

    revoked = fields.Integer(required=True, validate=validate.Range(min=0))
    released = fields.Integer(required=True, validate=validate.Range(min=0))
